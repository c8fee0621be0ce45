#pragma once
// The WAL record of a shard (docs/format/wal.md):
//
//   offset  size  field
//   0       1     format version, 1
//   1       4     payload length, u32 little-endian
//   5       8     XXH3-64 (seed 0) of the payload, u64 little-endian
//   13      n     payload: a wire::encode_batch message
//
// The LMDB key of record n is n as a big-endian u64, so keys sort in append order.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace strata::persistence {

inline constexpr uint8_t wal_record_version = 1;
inline constexpr size_t wal_record_header_size = 13;
inline constexpr size_t wal_key_size = 8;

std::string encode_wal_record(std::string_view payload);
// The same built in place: `record` holds wal_record_header_size bytes of any
// content and then the payload; the header is written over those bytes.
// REQUIRES: record.size() >= wal_record_header_size.
void finish_wal_record(std::string& record);

// The payload of `record` (a view into it). Fails with strata_errc::corruption
// and the cause (bad version, length or checksum); the caller adds where.
// `record` may have any alignment.
result<std::string_view> decode_wal_record(std::string_view record);

std::string encode_wal_key(uint64_t seq);
// REQUIRES: key.size() == wal_key_size
uint64_t decode_wal_key(std::string_view key);

}  // namespace strata::persistence
