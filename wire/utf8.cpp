#include "wire/utf8.hpp"

#include "common/utf8.hpp"

#include <cstdint>

namespace strata::wire {
std::string quote_for_message(std::string_view s, size_t max_len) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    if (i >= max_len) {
      out += "...";
      break;
    }
    auto b = static_cast<uint8_t>(s[i]);
    uint32_t cp;
    size_t n = decode_utf8(s, i, cp);
    if (b >= 0x20 && b < 0x7F) {
      if (b == '"' || b == '\\') out += '\\';
      out += static_cast<char>(b);
      ++i;
    } else if (n > 1) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\\x";
      out += hex[b >> 4];
      out += hex[b & 0xF];
      ++i;
    }
  }
  out += '"';
  return out;
}

}  // namespace strata::wire
