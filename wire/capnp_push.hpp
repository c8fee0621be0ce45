#pragma once
// A native batch (wire/schema/batch.capnp, docs/format/batch.md) pushed by a
// client over HTTP (docs/api/capnp_push.md). The bytes are untrusted: unlike a
// batch between nodes, every series is checked and made canonical here.
#include <string_view>

#include "common/series.hpp"
#include "common/status.hpp"
#include "wire/remote_write.hpp"

namespace strata::wire {

// Decodes `body` with decode_batch and checks it with the rules and limits of
// decode_remote_write (max_decompressed = largest body): labels sorted, empty
// values dropped, series without samples dropped. Fails with bad_request
// naming `series[i]` and the problem; a body that is not a version-1 batch
// fails with bad_request carrying decode_batch's cause.
result<write_batch> decode_capnp_push(std::string_view body, const write_limits& limits);

}  // namespace strata::wire
