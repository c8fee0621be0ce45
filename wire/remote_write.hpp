#pragma once
// Prometheus remote_write 1.0: a snappy block (not the framed format) holding a
// protobuf prometheus.WriteRequest (wire/proto/remote.proto).
#include <cstddef>
#include <string>
#include <string_view>

#include "common/series.hpp"
#include "common/status.hpp"

namespace strata::wire {

inline constexpr size_t default_max_decompressed = size_t{64} << 20;  // 64 MiB

// Decodes and validates a remote_write body. On success every series has
// canonical labels (sorted by name, names unique and non-empty, valid UTF-8),
// labels with an empty value are dropped (Prometheus: empty == absent), series
// without samples are dropped, and samples keep the order they were sent in.
// Metadata, exemplars and native histograms are ignored.
//
// Fails with strata_errc::bad_request, naming the problem and where, when the
// body is not snappy, decompresses to more than `max_decompressed` bytes, is not
// a WriteRequest, or a series has no labels, an empty label name, a repeated
// label name, or a name or value that is not valid UTF-8. On any error the whole
// request is rejected.
result<write_batch> decode_remote_write(std::string_view body, size_t max_decompressed = default_max_decompressed);

// The inverse: a snappy-compressed WriteRequest with the series, labels and
// samples of `b` in their order. For tests and clients; no validation.
std::string encode_remote_write(const write_batch& b);

}  // namespace strata::wire
