#pragma once
// The WAL record of a shard (docs/format/wal.md):
//
//   offset  size  field
//   0       1     format version: 2 (1 is still read)
//   1       4     payload length, u32 little-endian
//   5       8     XXH3-64 (seed 0) of the payload, u64 little-endian
//   13      n     payload: version 2, the samples of series named by their
//                 series numbers (below); version 1, a wire::encode_batch message
//
// Version 2 payload, one entry per series until the payload ends:
//   uvarint series number, uvarint sample count (>= 1), then per sample the
//   zigzag uvarint of t minus the record's previous t (0 before the first)
//   and the value's bits, u64 little-endian.
// The series' labels are in the shard's series table, committed with the
// first record that names the series.
//
// The LMDB key of record n is n as a big-endian u64, so keys sort in append order.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/series.hpp"
#include "common/status.hpp"

namespace strata::persistence {

inline constexpr uint8_t wal_record_version = 2;
inline constexpr uint8_t wal_record_version_batch = 1;
inline constexpr size_t wal_record_header_size = 13;
inline constexpr size_t wal_key_size = 8;

std::string encode_wal_record(std::string_view payload, uint8_t version = wal_record_version);
// The same built in place: `record` holds wal_record_header_size bytes of any
// content and then the payload; the header is written over those bytes.
// REQUIRES: record.size() >= wal_record_header_size.
void finish_wal_record(std::string& record, uint8_t version = wal_record_version);

struct wal_payload {
  uint8_t version;
  std::string_view bytes;  // a view into the record
};
// The payload of `record`. Fails with strata_errc::corruption and the cause
// (bad version, length or checksum); the caller adds where. `record` may
// have any alignment.
result<wal_payload> decode_wal_record(std::string_view record);

// Version 2 payloads. `prev_t` carries the record's previous timestamp
// between calls (0 for a new record). REQUIRES: !samples.empty().
void append_wal_series(std::string& payload, uint32_t sn, const std::vector<sample>& samples, int64_t& prev_t);
struct wal_samples {
  struct entry {
    uint32_t sn;
    uint32_t count;  // its samples: the next `count` of `samples`
  };
  std::vector<entry> series;
  std::vector<sample> samples;
};
// Fails with strata_errc::corruption and the cause (a truncated or overlong
// field, a series without samples, a series number past 2^32 - 1).
result<wal_samples> decode_wal_samples(std::string_view payload);

std::string encode_wal_key(uint64_t seq);
// REQUIRES: key.size() == wal_key_size
uint64_t decode_wal_key(std::string_view key);

}  // namespace strata::persistence
