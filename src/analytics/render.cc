// See render.h.
#include "analytics/render.h"
