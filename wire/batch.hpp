#pragma once
// The native batch (wire/schema/batch.capnp, docs/format/batch.md): what a
// write or a read result carries between nodes, and the payload of a WAL record.
// Label strings are interned (each distinct string stored once); samples are
// columnar (timestamps, then values) per series.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/series.hpp"
#include "common/status.hpp"

namespace strata::wire {

inline constexpr uint16_t batch_version = 1;

// A Cap'n Proto flat-array message (the layout of capnp::messageToFlatArray:
// segment table, then segments), held in a std::string. Keeps series, label
// and sample order; values are kept bit for bit (NaN payloads included).
// With `headroom` > 0 the message starts at that offset and the bytes before
// it are zero, for a header the caller writes there (a WAL record's) without
// copying the message again.
std::string encode_batch(const write_batch& b, size_t headroom = 0);

// Decodes bytes from encode_batch. Accepts any alignment of `bytes.data()`
// (copies into an aligned buffer when it is not 8-byte aligned). Never throws:
// bytes that are not a complete version-1 batch (truncated, trailing bytes,
// wrong version, a string index out of range, an odd label list, timestamps and
// values of different lengths, a broken message) give strata_errc::corruption
// with the cause. Labels are returned as stored; they are not re-sorted.
result<write_batch> decode_batch(std::string_view bytes);

}  // namespace strata::wire
