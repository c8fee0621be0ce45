#pragma once
// Quoting of untrusted text for error messages (validity: common/utf8.hpp).
#include <string>
#include <string_view>

namespace strata::wire {

// `s` quoted for an error message: printable ASCII as is, `"` and `\` escaped,
// every other byte that is not part of valid UTF-8 as \xNN; cut to about
// `max_len` bytes with "..." appended.
std::string quote_for_message(std::string_view s, size_t max_len = 128);

}  // namespace strata::wire
