#pragma once
// Gorilla's XOR coding of float64 bit patterns, shared by chunks and rollup
// records (docs/format/chunk.md, "value"). Internal to strata_codec.
//
// A value is coded as x = bits(value) XOR bits(reference):
//   '0'                                  x == 0
//   '10' + (64 - L - T) bits             x fits the current window (L leading, T trailing zeros)
//   '11' + 5 bits L + 6 bits S + S bits  new window: L = min(leading zeros, 31), S significant
//                                        bits (64 written as 0), T = 64 - L - S
// The window starts empty: the first non-zero x always takes the '11' form.
#include <cstdint>

#include "persistence/codec/detail/bits.hpp"

namespace strata::persistence::codec::detail {

struct xor_window {
  static constexpr uint8_t none = 0xFF;
  uint8_t leading = none;
  uint8_t trailing = 0;
};

// `Writer` has put(uint64_t v, unsigned n) for 1 <= n <= 64.
template <class Writer>
STRATA_CODEC_INLINE void put_xor(Writer& w, uint64_t x, xor_window& win) {
  if (x == 0) {
    w.put(0, 1);
    return;
  }
  auto lz = static_cast<unsigned>(__builtin_clzll(x));
  auto tz = static_cast<unsigned>(__builtin_ctzll(x));
  if (lz > 31) lz = 31;
  if (win.leading != xor_window::none && lz >= win.leading && tz >= win.trailing) {
    unsigned sig = 64u - win.leading - win.trailing;
    uint64_t payload = x >> win.trailing;
    if (sig <= 54) {
      w.put((uint64_t{0b10} << sig) | payload, sig + 2);
    } else {
      w.put(0b10, 2);
      w.put(payload, sig);
    }
    return;
  }
  unsigned sig = 64u - lz - tz;
  uint64_t header = (uint64_t{0b11} << 11) | (uint64_t{lz} << 6) | (sig & 63u);
  uint64_t payload = x >> tz;
  if (sig <= 51) {
    w.put((header << sig) | payload, sig + 13);
  } else {
    w.put(header, 13);
    w.put(payload, sig);
  }
  win.leading = static_cast<uint8_t>(lz);
  win.trailing = static_cast<uint8_t>(tz);
}

// The x that put_xor wrote. A '10' with no window, or a window wider than 64
// bits, calls r.fail() and returns 0.
STRATA_CODEC_INLINE uint64_t get_xor(bit_reader& r, xor_window& win) {
  uint64_t w = r.peek();
  if (!(w >> 63)) {
    r.skip(1);
    return 0;
  }
  if (!((w >> 62) & 1)) {
    if (win.leading == xor_window::none) {
      r.fail();
      return 0;
    }
    unsigned sig = 64u - win.leading - win.trailing;
    if (sig + 2 <= 57) {
      r.skip(sig + 2);
      return ((w << 2) >> (64 - sig)) << win.trailing;
    }
    r.skip(2);
    return r.read_long(sig) << win.trailing;
  }
  auto lz = static_cast<unsigned>((w >> 57) & 31u);
  auto sig = static_cast<unsigned>((w >> 51) & 63u);
  if (sig == 0) sig = 64;
  if (lz + sig > 64) {
    r.fail();
    return 0;
  }
  win.leading = static_cast<uint8_t>(lz);
  win.trailing = static_cast<uint8_t>(64 - lz - sig);
  if (sig + 13 <= 57) {
    r.skip(sig + 13);
    return ((w << 13) >> (64 - sig)) << win.trailing;
  }
  r.skip(13);
  return r.read_long(sig) << win.trailing;
}

}  // namespace strata::persistence::codec::detail
