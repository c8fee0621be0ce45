#pragma once
// Prometheus remote_write 1.0: a snappy block (not the framed format) holding a
// protobuf prometheus.WriteRequest (wire/proto/remote.proto).
#include <cstddef>
#include <string>
#include <string_view>

#include "common/metric_metadata.hpp"
#include "common/series.hpp"
#include "common/status.hpp"

namespace strata::wire {

inline constexpr size_t default_max_decompressed = size_t{64} << 20;  // 64 MiB

// Which metric and label names are accepted. utf8 (Prometheus 3's default):
// any non-empty valid UTF-8. legacy (Prometheus 2): metric names match
// [a-zA-Z_:][a-zA-Z0-9_:]* and label names [a-zA-Z_][a-zA-Z0-9_]*.
enum class name_validation { utf8, legacy };

// Limits on one write request; a request past any of them is refused whole,
// with a message naming the series, the limit and its value. 0 = no limit.
struct write_limits {
  size_t max_decompressed = default_max_decompressed;
  size_t max_series = 100'000;        // series in one request
  size_t max_labels = 64;             // labels of one series, __name__ included
  size_t max_name_length = 1024;      // bytes of a label name
  size_t max_value_length = 4096;     // bytes of a label value
  name_validation names = name_validation::utf8;  // --name-validation
};

// Prometheus 2 (legacy) name syntax.
bool legacy_metric_name(std::string_view name);
bool legacy_label_name(std::string_view name);

// Decodes and validates a remote_write body. On success every series has
// canonical labels (sorted by name, names unique and non-empty, valid UTF-8),
// labels with an empty value are dropped (Prometheus: empty == absent), series
// without samples are dropped, and samples keep the order they were sent in.
// Exemplars and native histograms are ignored; metadata too, unless the
// overload with `metadata` is used.
//
// Fails with strata_errc::bad_request, naming the problem and where, when the
// body is not snappy, decompresses to more than `max_decompressed` bytes, is not
// a WriteRequest, or a series has no labels, an empty label name, a repeated
// label name, or a name or value that is not valid UTF-8, or a name that
// `limits.names` does not accept, or it passes one of `limits`. On any error the whole request is rejected.
result<write_batch> decode_remote_write(std::string_view body, const write_limits& limits);
// The same, and when `metadata` is not null WriteRequest.metadata goes there,
// in order, the type as /api/v1/metadata names it. An entry that fails
// check_metadata, or has a type number remote_write 1.0 does not define,
// rejects the request (bad_request naming metadata[i] and the field).
result<write_batch> decode_remote_write(std::string_view body, const write_limits& limits,
                                        std::vector<metric_metadata>* metadata);
inline result<write_batch> decode_remote_write(std::string_view body,
                                               size_t max_decompressed = default_max_decompressed) {
  write_limits l;
  l.max_decompressed = max_decompressed;
  return decode_remote_write(body, l);
}

// The inverse: a snappy-compressed WriteRequest with the series, labels and
// samples of `b` in their order. For tests and clients; no validation.
std::string encode_remote_write(const write_batch& b, const std::vector<metric_metadata>& metadata = {});

}  // namespace strata::wire
