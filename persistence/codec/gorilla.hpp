#pragma once
// Gorilla chunks: the samples of one series, delta-of-delta coded timestamps
// and XOR coded float64 values, kept bit for bit (NaN payloads, -0.0, ±Inf,
// the stale marker). Byte layout: docs/format/chunk.md.
//
// chunk_appender is the open chunk of one series in the head; seal() turns it
// into the bytes that are stored; open_chunk() checks stored bytes and gives a
// chunk_view to read them. None of these types is thread-safe; a chunk_view or
// chunk_iterator may be used from any thread while nothing changes the bytes
// under it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/series.hpp"
#include "common/status.hpp"

namespace strata::persistence::codec {

inline constexpr uint8_t chunk_format_version = 1;
// version, count, min_t, max_t
inline constexpr size_t chunk_header_size = 19;
// the low 32 bits of XXH3-64
inline constexpr size_t chunk_checksum_size = 4;
inline constexpr size_t chunk_max_samples = 65535;

// Iterates samples, oldest first. Obtained from a chunk_appender (then valid
// until the appender next changes or dies) or a chunk_view (valid while the
// bytes it views live).
class chunk_iterator {
 public:
  chunk_iterator() = default;
  // Moves to the next sample; false when there is none left.
  bool next();
  // REQUIRES: the last next() returned true.
  int64_t t() const { return t_; }
  double v() const {
    double d;
    std::memcpy(&d, &value_bits_, sizeof d);
    return d;
  }

 private:
  friend class chunk_appender;
  friend class chunk_view;
  chunk_iterator(const uint8_t* stream, size_t size, uint16_t count, int64_t first_t)
      : data_(stream), size_(size), remaining_(count), t_(first_t) {}

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  uint64_t pos_ = 0;
  uint16_t remaining_ = 0;
  bool started_ = false;
  uint8_t leading_ = 0xFF;
  uint8_t trailing_ = 0;
  int64_t t_ = 0;
  uint64_t delta_ = 0;
  uint64_t value_bits_ = 0;
};

// The open chunk of one series. 48 bytes plus a heap buffer that holds the bit
// stream with at least 40 zero bytes of slack (sizes 64, 96, 128, 192, 256, ...).
// Copyable and movable; a moved-from appender is empty.
class chunk_appender {
 public:
  chunk_appender() = default;
  chunk_appender(const chunk_appender& o);
  chunk_appender(chunk_appender&& o) noexcept;
  chunk_appender& operator=(const chunk_appender& o);
  chunk_appender& operator=(chunk_appender&& o) noexcept;
  ~chunk_appender();

  // REQUIRES: count() < chunk_max_samples; t > max_t() when count() > 0.
  void append(int64_t t, double v);

  uint16_t count() const { return count_; }
  // Both 0 while count() == 0.
  int64_t min_t() const { return min_t_; }
  int64_t max_t() const { return max_t_; }
  // REQUIRES: count() > 0
  double last_value() const;
  // The size of what seal() returns now.
  size_t size_bytes() const { return chunk_header_size + stream_bytes() + chunk_checksum_size; }

  // The sealed chunk: header, bit stream, checksum. The appender is unchanged.
  // An empty appender seals to a valid chunk of 0 samples.
  std::string seal() const;
  // Back to empty; frees the buffer.
  void reset();

  chunk_iterator iterator() const;

 private:
  size_t stream_bytes() const { return static_cast<size_t>((bits_ + 7) / 8); }
  void grow(size_t old_capacity);

  // Invariant: buf_ is null and bits_ == 0, or buf_ holds
  // capacity_for(bits_) bytes, all zero after the first bits_ bits.
  uint8_t* buf_ = nullptr;
  uint32_t bits_ = 0;
  uint16_t count_ = 0;
  uint8_t leading_ = 0xFF;  // XOR window of the last value; 0xFF: none yet
  uint8_t trailing_ = 0;
  int64_t min_t_ = 0;
  int64_t max_t_ = 0;
  uint64_t delta_ = 0;  // max_t - previous t, modulo 2^64
  uint64_t last_bits_ = 0;
};

// A sealed chunk whose version, length, checksum and whole bit stream were
// checked by open_chunk. A view: the caller keeps the bytes alive.
class chunk_view {
 public:
  chunk_view() = default;

  uint16_t count() const { return count_; }
  int64_t min_t() const { return min_t_; }
  int64_t max_t() const { return max_t_; }
  chunk_iterator iterator() const;
  // Appends the samples with mint <= t <= maxt to out, oldest first.
  void decode(int64_t mint, int64_t maxt, std::vector<sample>& out) const;

 private:
  friend result<chunk_view> open_chunk(std::string_view sealed);

  std::string_view stream_;
  uint16_t count_ = 0;
  int64_t min_t_ = 0;
  int64_t max_t_ = 0;
};

// Checks `sealed` (size, version, checksum, then every sample of the stream:
// the count is there, timestamps rise from min_t to max_t, no bytes are left
// over) and returns a view over it. Fails with strata_errc::corruption and the
// cause; the caller adds which chunk.
result<chunk_view> open_chunk(std::string_view sealed);

}  // namespace strata::persistence::codec
