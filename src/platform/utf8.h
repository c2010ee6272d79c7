// Well-formed UTF-8 as the Unicode Standard defines it (chapter 3, table 3-7): no overlong
// forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF. Pure.
#pragma once

#include <string_view>

namespace recur {

bool is_well_formed_utf8(std::string_view bytes);

// Text the API takes from a caller (ids, keys, query values, header values): well-formed
// UTF-8 without NUL. PostgreSQL's text cannot hold NUL and C strings end at one, so a NUL
// would silently cut a value short somewhere downstream.
bool is_acceptable_text(std::string_view bytes);

}  // namespace recur
