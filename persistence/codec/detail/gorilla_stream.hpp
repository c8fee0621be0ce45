#pragma once
// The Gorilla sample stream (docs/format/chunk.md, "bit stream"), one sample
// at a time. Internal to strata_codec: the appender writes with put_sample, the
// iterator, decode and open_chunk read with get_sample.
//
// Timestamps are coded as dod = (t - t_prev) - (t_prev - t_prev2), all modulo
// 2^64, so any pair of int64 timestamps round-trips:
//   '0'                dod == 0
//   '10'   + 14 bits   dod in [-2^13, 2^13)
//   '110'  + 17 bits   dod in [-2^16, 2^16)
//   '1110' + 20 bits   dod in [-2^19, 2^19)
//   '1111' + 64 bits   any dod
// The first sample has no timestamp in the stream (it is min_t of the header)
// and its value is 64 raw bits; the second sample's dod is its delta.
#include <cstdint>

#include "persistence/codec/detail/bits.hpp"
#include "persistence/codec/detail/xor_coder.hpp"

namespace strata::persistence::codec::detail {

template <class Writer>
STRATA_CODEC_INLINE void put_dod(Writer& w, uint64_t dod) {
  auto s = static_cast<int64_t>(dod);
  if (s == 0) {
    w.put(0, 1);
  } else if (s >= -(int64_t{1} << 13) && s < (int64_t{1} << 13)) {
    w.put((uint64_t{0b10} << 14) | low_bits(dod, 14), 16);
  } else if (s >= -(int64_t{1} << 16) && s < (int64_t{1} << 16)) {
    w.put((uint64_t{0b110} << 17) | low_bits(dod, 17), 20);
  } else if (s >= -(int64_t{1} << 19) && s < (int64_t{1} << 19)) {
    w.put((uint64_t{0b1110} << 20) | low_bits(dod, 20), 24);
  } else {
    w.put(0b1111, 4);
    w.put(dod, 64);
  }
}

STRATA_CODEC_INLINE uint64_t get_dod(bit_reader& r) {
  uint64_t w = r.peek();
  // leading one bits, at most 4
  auto ones = static_cast<unsigned>(__builtin_clzll(~w | (uint64_t{1} << 59)));
  switch (ones) {
    case 0:
      r.skip(1);
      return 0;
    case 1:
      r.skip(16);
      return static_cast<uint64_t>(static_cast<int64_t>(w << 2) >> 50);
    case 2:
      r.skip(20);
      return static_cast<uint64_t>(static_cast<int64_t>(w << 3) >> 47);
    case 3:
      r.skip(24);
      return static_cast<uint64_t>(static_cast<int64_t>(w << 4) >> 44);
    default:
      r.skip(4);
      return r.read_long(64);
  }
}

// The decoder's state between samples.
struct stream_state {
  int64_t t = 0;
  uint64_t delta = 0;
  uint64_t value_bits = 0;
  xor_window win;
};

// Reads the first sample's value; t is already the header's min_t.
inline void get_first(bit_reader& r, stream_state& s) { s.value_bits = r.read_long(64); }

// Reads every sample after the first.
STRATA_CODEC_INLINE void get_next(bit_reader& r, stream_state& s) {
  s.delta += get_dod(r);
  s.t = static_cast<int64_t>(static_cast<uint64_t>(s.t) + s.delta);
  s.value_bits ^= get_xor(r, s.win);
}

}  // namespace strata::persistence::codec::detail
