#pragma once
// The packed chunk: how compaction stores a series' samples of one block
// (docs/format/chunk.md, "Packed chunk"). Where Gorilla XOR keeps 2-5 bytes
// for a value like 1234.56, values that are short decimals become integers
// (value x 10^k, exact round trip checked), timestamps and integers are
// delta (or delta-of-delta) coded as varints, and the whole body is zstd
// compressed. Values that are not short decimals (NaN, Inf, many digits)
// fall back to 8-byte XOR words, still compressed. Bit-exact either way.
//
// Gorilla stays the format of the open head chunk: it appends in O(1); a
// packed chunk is written once, from all samples.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/series.hpp"
#include "common/status.hpp"

namespace strata::persistence {

inline constexpr uint8_t packed_chunk_format = 0x51;     // first byte of the packed chunks written now
inline constexpr uint8_t packed_chunk_format_v1 = 0x50;  // 'P': the first format, still read
inline constexpr size_t max_packed_samples = 65535;

// REQUIRES: 0 < samples.size() <= max_packed_samples, sorted by time, unique.
std::string encode_packed_chunk(const std::vector<sample>& samples);
// The same samples in the first format (0x50, fixed-width header), which
// older stores hold; for tests of the reader.
std::string encode_packed_chunk_v1(const std::vector<sample>& samples);

struct packed_header {
  uint16_t count;
  int64_t min_t, max_t;
};
// Checks format, length and checksum; corruption names the cause.
result<packed_header> packed_chunk_header(std::string_view bytes);
// Appends the samples with mint <= t <= maxt to out, oldest first.
status decode_packed_chunk(std::string_view bytes, int64_t mint, int64_t maxt, std::vector<sample>& out);

// One series' part of a packed group (docs/format/chunk.md, "Packed group"):
// the coding byte, the common factor when there is one, and the
// uncompressed body of a packed chunk; count and times are kept beside it.
// REQUIRES: samples as for encode_packed_chunk (any count above 0).
std::string encode_packed_section(const std::vector<sample>& samples);
// Appends the section's samples with mint <= t <= maxt; corruption names the
// cause (nothing appended) when the section does not hold n samples from
// min_t to max_t.
status decode_packed_section(std::string_view section, size_t n, int64_t min_t, int64_t max_t, int64_t mint,
                             int64_t maxt, std::vector<sample>& out);

}  // namespace strata::persistence

namespace strata::persistence {

// Either chunk format in the chunks table: Gorilla (written by a seal) or
// packed (written by compaction), told apart by the first byte.
bool is_packed_chunk(std::string_view bytes);
status decode_any_chunk(std::string_view bytes, int64_t mint, int64_t maxt, std::vector<sample>& out);

}  // namespace strata::persistence
