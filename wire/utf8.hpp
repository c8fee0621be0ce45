#pragma once
// UTF-8 checks shared by the codecs of foreign formats.
#include <string>
#include <string_view>

namespace strata::wire {

// True when `s` is well-formed UTF-8 (RFC 3629): no overlong forms, no
// surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence.
bool valid_utf8(std::string_view s);

// `s` quoted for an error message: printable ASCII as is, `"` and `\` escaped,
// every other byte that is not part of valid UTF-8 as \xNN; cut to about
// `max_len` bytes with "..." appended.
std::string quote_for_message(std::string_view s, size_t max_len = 128);

}  // namespace strata::wire
