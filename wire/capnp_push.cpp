#include "wire/capnp_push.hpp"

#include <utility>

#include "wire/batch.hpp"
#include "wire/check_series.hpp"

namespace strata::wire {
namespace {

status bad(std::string msg) { return error(strata_errc::bad_request, std::move(msg)); }

}  // namespace

result<write_batch> decode_capnp_push(std::string_view body, const write_limits& limits) {
  if (limits.max_decompressed && body.size() > limits.max_decompressed)
    return bad("body of " + std::to_string(body.size()) + " bytes, over the limit of " +
               std::to_string(limits.max_decompressed) + " bytes");
  auto b = decode_batch(body);
  if (!b) return bad("body is not a strata batch (application/x-capnp, docs/api/capnp_push.md): " + b.error().message());
  if (limits.max_series && b->size() > limits.max_series)
    return bad("batch holds " + std::to_string(b->size()) + " series, over the limit of " +
               std::to_string(limits.max_series) + " series per request (--max-series-per-request)");
  write_batch out;
  out.reserve(b->size());
  for (size_t i = 0; i < b->size(); ++i) {
    auto& s = (*b)[i];
    if (auto st = check_series(s.lbls, limits); !st) return bad("series[" + std::to_string(i) + "] " + st.message());
    if (!s.samples.empty()) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace strata::wire
