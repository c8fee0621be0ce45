#include "wire/utf8.hpp"

#include <cstdint>

namespace strata::wire {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when none starts there.
size_t sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (byte(k) & 0xC0) == 0x80; };
  uint8_t b = byte(i);
  if (b < 0x80) return 1;
  if (b < 0xC2) return 0;  // continuation byte, or overlong 2-byte lead (C0, C1)
  if (b < 0xE0) return cont(i + 1) ? 2 : 0;
  if (b < 0xF0) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    uint8_t b1 = byte(i + 1);
    if (b == 0xE0 && b1 < 0xA0) return 0;   // overlong
    if (b == 0xED && b1 >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (b < 0xF5) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    uint8_t b1 = byte(i + 1);
    if (b == 0xF0 && b1 < 0x90) return 0;   // overlong
    if (b == 0xF4 && b1 >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    // Fast path over ASCII runs.
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t n = sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

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
    size_t n = sequence_length(s, i);
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
