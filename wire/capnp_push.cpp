#include "wire/capnp_push.hpp"

#include <algorithm>
#include <utility>

#include "common/utf8.hpp"
#include "wire/batch.hpp"
#include "wire/utf8.hpp"

namespace strata::wire {
namespace {

status bad(std::string msg) { return error(strata_errc::bad_request, std::move(msg)); }

std::string at(size_t i) { return "series[" + std::to_string(i) + "]"; }

status check(size_t i, series& s, const write_limits& limits) {
  if (s.lbls.empty()) return bad(at(i) + ": series has no labels");
  if (limits.max_labels && s.lbls.size() > limits.max_labels)
    return bad(at(i) + ": " + std::to_string(s.lbls.size()) + " labels, over the limit of " +
               std::to_string(limits.max_labels) + " labels per series (--max-labels-per-series)");
  for (size_t j = 0; j < s.lbls.size(); ++j) {
    const auto& l = s.lbls[j];
    if (l.name.empty()) return bad(at(i) + ": label " + std::to_string(j) + " has an empty name");
    if (limits.max_name_length && l.name.size() > limits.max_name_length)
      return bad(at(i) + ": label name of " + std::to_string(l.name.size()) + " bytes, over the limit of " +
                 std::to_string(limits.max_name_length) + " (--max-label-name-length)");
    if (limits.max_value_length && l.value.size() > limits.max_value_length)
      return bad(at(i) + ": value of label " + quote_for_message(l.name) + " has " + std::to_string(l.value.size()) +
                 " bytes, over the limit of " + std::to_string(limits.max_value_length) + " (--max-label-value-length)");
    if (!valid_utf8(l.name)) return bad(at(i) + ": label name " + quote_for_message(l.name) + " is not valid UTF-8");
    if (!valid_utf8(l.value))
      return bad(at(i) + ": value of label " + quote_for_message(l.name) + " is not valid UTF-8");
  }
  std::sort(s.lbls.begin(), s.lbls.end(), [](const label& a, const label& b) { return a.name < b.name; });
  auto dup = std::adjacent_find(s.lbls.begin(), s.lbls.end(),
                                [](const label& a, const label& b) { return a.name == b.name; });
  if (dup != s.lbls.end()) return bad(at(i) + ": duplicate label name " + quote_for_message(dup->name));
  s.lbls.erase(std::remove_if(s.lbls.begin(), s.lbls.end(), [](const label& l) { return l.value.empty(); }),
               s.lbls.end());
  if (s.lbls.empty()) return bad(at(i) + ": series has no label with a non-empty value");
  return status::ok();
}

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
    if (auto st = check(i, s, limits); !st) return st;
    if (!s.samples.empty()) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace strata::wire
