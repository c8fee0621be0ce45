#pragma once
// Bit and byte primitives shared by the codecs of persistence/codec: MSB-first
// bit packing (the order Gorilla streams use), LEB128 varints, zigzag, and
// fixed-width little-endian fields. Internal to strata_codec.
//
// Bit order: bit 0 of a stream is the most significant bit of byte 0. A field
// of n bits is written most significant bit first.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

// Hot paths of the codecs are inlined at every optimisation level: at -O2 GCC
// otherwise keeps get_next() out of line and the iterator state in memory
// (about 4x slower).
#define STRATA_CODEC_INLINE inline __attribute__((always_inline))

namespace strata::persistence::codec::detail {

STRATA_CODEC_INLINE uint64_t load_be64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

STRATA_CODEC_INLINE void store_be64(uint8_t* p, uint64_t v) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  std::memcpy(p, &v, 8);
}

inline uint64_t low_bits(uint64_t v, unsigned n) { return n >= 64 ? v : v & ((uint64_t{1} << n) - 1); }

// ORs the low `n` bits of `v` into `buf` at bit `pos`.
// REQUIRES: 1 <= n <= 56; the other bits of v are zero; every bit of buf at or
// after pos is zero; buf holds at least pos / 8 + 8 bytes.
STRATA_CODEC_INLINE void put_short_bits(uint8_t* buf, uint64_t pos, uint64_t v, unsigned n) {
  uint8_t* p = buf + (pos >> 3);
  auto off = static_cast<unsigned>(pos & 7);
  store_be64(p, load_be64(p) | (v << (64 - off - n)));
}

// put_short_bits for 1 <= n <= 64. REQUIRES: buf holds at least (pos + n) / 8 + 8 bytes.
STRATA_CODEC_INLINE void put_bits(uint8_t* buf, uint64_t pos, uint64_t v, unsigned n) {
  if (n > 56) {
    put_short_bits(buf, pos, v >> 32, n - 32);
    pos += n - 32;
    v &= 0xFFFFFFFFu;
    n = 32;
  }
  put_short_bits(buf, pos, v, n);
}

// A bit stream appended to a std::string (rollup records). The string's bytes
// past the written bits are kept zero; finish() trims them.
class string_bit_writer {
 public:
  // Starts writing at the end of `out`, at a byte boundary.
  explicit string_bit_writer(std::string& out) : out_(out), base_(out.size()) {}

  // REQUIRES: 1 <= n <= 64; the other bits of v are zero.
  STRATA_CODEC_INLINE void put(uint64_t v, unsigned n) {
    size_t need = base_ + static_cast<size_t>((pos_ + n) >> 3) + 8;
    if (out_.size() < need) out_.resize(need < 2 * out_.size() ? 2 * out_.size() : need, '\0');
    put_bits(reinterpret_cast<uint8_t*>(&out_[base_]), pos_, v, n);
    pos_ += n;
  }
  // Cuts `out` after the last written byte; the padding bits of that byte are zero.
  void finish() { out_.resize(base_ + static_cast<size_t>((pos_ + 7) >> 3)); }

 private:
  std::string& out_;
  size_t base_;
  uint64_t pos_ = 0;
};

// Reads an MSB-first bit stream of `size` bytes. Reading past the end never
// touches memory outside the stream: missing bits read as zero and
// overrun() turns true. A decoder that finds a bit pattern it cannot accept
// calls fail(). Neither stops the reader; callers check ok() where they must.
class bit_reader {
 public:
  bit_reader() = default;
  bit_reader(const uint8_t* data, size_t size, uint64_t pos = 0) : data_(data), size_(size), pos_(pos) {}

  // The stream from the current position, left-aligned in 64 bits. The first
  // 57 bits are exact; the rest may be zero.
  STRATA_CODEC_INLINE uint64_t peek() const { return word_at(pos_ >> 3) << (pos_ & 7); }
  STRATA_CODEC_INLINE void skip(unsigned n) { pos_ += n; }
  // REQUIRES: 1 <= n <= 57
  STRATA_CODEC_INLINE uint64_t read(unsigned n) {
    uint64_t v = peek() >> (64 - n);
    pos_ += n;
    return v;
  }
  // REQUIRES: 1 <= n <= 64
  uint64_t read_long(unsigned n) {
    if (n <= 57) return read(n);
    uint64_t hi = read(n - 32);
    return (hi << 32) | read(32);
  }

  uint64_t position() const { return pos_; }
  uint64_t size_bits() const { return static_cast<uint64_t>(size_) * 8; }
  bool overrun() const { return pos_ > size_bits(); }
  void fail() { failed_ = true; }
  bool ok() const { return !failed_ && !overrun(); }

 private:
  STRATA_CODEC_INLINE uint64_t word_at(uint64_t byte) const {
    if (__builtin_expect(byte + 8 <= size_, 1)) return load_be64(data_ + byte);
    return load_be64_padded(data_, size_, byte);
  }
  // The 8 bytes at `byte` where fewer than 8 remain, zero-padded. Static and
  // out of line so the reader itself can live in registers.
  __attribute__((noinline)) static uint64_t load_be64_padded(const uint8_t* data, size_t size, uint64_t byte) {
    uint64_t w = 0;
    for (unsigned i = 0; i < 8; ++i) {
      w <<= 8;
      if (byte + i < size) w |= data[byte + i];
    }
    return w;
  }

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  uint64_t pos_ = 0;
  bool failed_ = false;
};

// ---- bytes ----

inline uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
inline int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

inline void put_uvarint(std::string& out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, n);
}
inline void put_varint(std::string& out, int64_t v) { put_uvarint(out, zigzag(v)); }

template <class T>
void put_le(std::string& out, T v) {
  char buf[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) buf[i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xFF);
  out.append(buf, sizeof(T));
}

template <class T>
T get_le(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return static_cast<T>(v);
}

inline uint64_t double_bits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}
inline double bits_double(uint64_t b) {
  double d;
  std::memcpy(&d, &b, 8);
  return d;
}

// Reads bytes from a view; every getter returns false (and consumes nothing
// useful) when the input is short or malformed, never reading past the end.
class byte_reader {
 public:
  explicit byte_reader(std::string_view in) : in_(in) {}

  bool get_u8(uint8_t& v) {
    if (pos_ >= in_.size()) return false;
    v = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  // A LEB128 value that fits in 64 bits, in its shortest form (so every
  // value has one encoding).
  bool get_uvarint(uint64_t& v) {
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
      if (pos_ >= in_.size()) return false;
      auto b = static_cast<uint8_t>(in_[pos_++]);
      if ((shift == 63 && b > 1) || (shift > 0 && b == 0)) return false;
      r |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) {
        v = r;
        return true;
      }
    }
    return false;
  }
  bool get_varint(int64_t& v) {
    uint64_t u;
    if (!get_uvarint(u)) return false;
    v = unzigzag(u);
    return true;
  }
  template <class T>
  bool get_fixed(T& v) {
    if (in_.size() - pos_ < sizeof(T)) return false;
    v = get_le<T>(in_.data() + pos_);
    pos_ += sizeof(T);
    return true;
  }
  bool get_f64(double& v) {
    uint64_t b;
    if (!get_fixed(b)) return false;
    v = bits_double(b);
    return true;
  }

  size_t position() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  std::string_view rest() const { return in_.substr(pos_); }
  void advance(size_t n) { pos_ += n; }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace strata::persistence::codec::detail
