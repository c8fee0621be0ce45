#pragma once
// UTF-8 (RFC 3629) for every layer that reads or writes text: well-formed
// means no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
// U+10FFFF and no truncated sequence.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace strata {

// Decodes the code point at s[i] into `cp`. Returns its length in bytes, or 0
// when no well-formed sequence starts there. REQUIRES: i < s.size().
size_t decode_utf8(std::string_view s, size_t i, uint32_t& cp);
void append_utf8(std::string& out, uint32_t cp);
bool valid_utf8(std::string_view s);

}  // namespace strata
