#pragma once
// Prometheus remote_write 2.0: a snappy block holding a protobuf
// io.prometheus.write.v2.Request (wire/proto/remote_v2.proto): a symbol
// table, and series whose labels are index pairs into it.
#include <cstddef>
#include <string>
#include <string_view>

#include "common/series.hpp"
#include "common/status.hpp"
#include "wire/metadata.hpp"
#include "wire/remote_write.hpp"

namespace strata::wire {

// Which remote_write message a Content-Type announces:
// `application/x-protobuf` alone or with proto=prometheus.WriteRequest is
// 1.0, proto=io.prometheus.write.v2.Request is 2.0; any other proto, or
// another media type, is unsupported (answered 415).
enum class remote_write_proto : uint8_t { v1, v2, unsupported };
remote_write_proto remote_write_proto_for(std::string_view content_type);

struct remote_write_v2 {
  write_batch series;      // canonical labels, as decode_remote_write returns them
  metadata_list metadata;  // one per metric name with a type, help or unit, first one kept
  size_t samples = 0;      // float samples in `series`
  size_t histograms = 0;   // native histogram samples received (not stored)
  size_t exemplars = 0;    // exemplars received (not stored)
};

// Decodes and validates a 2.0 body with the rules and limits of
// decode_remote_write. Also fails (bad_request, naming the series) when the
// symbol table does not start with "", a series has an odd number of label
// references, or a reference (label, help or unit) is past the symbol table.
result<remote_write_v2> decode_remote_write_v2(std::string_view body, const write_limits& limits);

// The inverse for tests and clients: symbols interned in order of first use.
// `metadata` entries are attached to series whose __name__ equals the family.
std::string encode_remote_write_v2(const write_batch& b, const metadata_list& metadata = {});

}  // namespace strata::wire
