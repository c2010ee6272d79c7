// Analytics reports as CSV and SVG (content negotiation on the analytics routes): pure.
#pragma once
