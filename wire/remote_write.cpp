#include "wire/remote_write.hpp"

#include <google/protobuf/arena.h>
#include <snappy.h>

#include <algorithm>
#include <climits>
#include <utility>

#include "proto/remote.pb.h"
#include "wire/check_series.hpp"

namespace strata::wire {
namespace {

status bad(std::string msg) { return error(strata_errc::bad_request, std::move(msg)); }

// Checks one series and moves it into `out` (canonical labels).
status take_series(int i, prometheus::TimeSeries& ts, const write_limits& limits, write_batch& out) {
  labels ls;
  ls.reserve(static_cast<size_t>(ts.labels_size()));
  for (auto& l : *ts.mutable_labels()) ls.push_back({std::move(*l.mutable_name()), std::move(*l.mutable_value())});
  if (auto st = check_series(ls, limits); !st)
    return bad("timeseries[" + std::to_string(i) + "] " + st.message());
  if (ts.samples_size() == 0) return status::ok();  // nothing to store
  series s;
  s.lbls = std::move(ls);
  s.samples.reserve(static_cast<size_t>(ts.samples_size()));
  for (const auto& smp : ts.samples()) s.samples.push_back({smp.timestamp(), smp.value()});
  out.push_back(std::move(s));
  return status::ok();
}

// WriteRequest.metadata, checked, into `out`.
status take_metadata(prometheus::WriteRequest& req, std::vector<metric_metadata>& out) {
  out.reserve(out.size() + static_cast<size_t>(req.metadata_size()));
  for (int i = 0; i < req.metadata_size(); ++i) {
    auto& pm = *req.mutable_metadata(i);
    std::string at = "metadata[" + std::to_string(i) + "]";
    auto type = static_cast<size_t>(pm.type());
    if (pm.type() < 0 || type >= metric_type_count)
      return bad(at + ": type " + std::to_string(pm.type()) + " is not a remote_write 1.0 MetricType (0 to " +
                 std::to_string(metric_type_count - 1) + ")");
    metric_metadata m{std::move(*pm.mutable_metric_family_name()), metric_types[type],
                      std::move(*pm.mutable_help()), std::move(*pm.mutable_unit())};
    if (auto st = check_metadata(m); !st) return bad(at + ": " + st.message());
    out.push_back(std::move(m));
  }
  return status::ok();
}

}  // namespace

result<write_batch> decode_remote_write(std::string_view body, const write_limits& limits) {
  return decode_remote_write(body, limits, nullptr);
}

result<write_batch> decode_remote_write(std::string_view body, const write_limits& limits,
                                        std::vector<metric_metadata>* metadata) {
  const size_t max_decompressed = limits.max_decompressed;
  size_t len = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &len))
    return bad("body is not valid snappy-compressed data (bad length header)");
  if (len > max_decompressed || len > static_cast<size_t>(INT_MAX))
    return bad("body decompresses to " + std::to_string(len) + " bytes, over the limit of " +
               std::to_string(std::min<size_t>(max_decompressed, INT_MAX)) + " bytes");
  std::string raw(len, '\0');
  if (!snappy::RawUncompress(body.data(), body.size(), raw.data()))
    return bad("body is not valid snappy-compressed data");

  // An arena: a request holds thousands of small messages and strings, and
  // freeing them one by one cost more than parsing them (measured: malloc and
  // free were ~40 % of a node's ingest CPU without it).
  google::protobuf::ArenaOptions arena_opts;
  arena_opts.start_block_size = std::min<size_t>(len * 2 + 4096, size_t{64} << 20);
  arena_opts.max_block_size = size_t{64} << 20;
  google::protobuf::Arena arena(arena_opts);
  auto& req = *google::protobuf::Arena::CreateMessage<prometheus::WriteRequest>(&arena);
  if (!req.ParseFromArray(raw.data(), static_cast<int>(raw.size())))
    return bad("body is not a valid remote_write WriteRequest protobuf (" + std::to_string(raw.size()) +
               " bytes after snappy)");
  raw.clear();
  raw.shrink_to_fit();

  if (limits.max_series && static_cast<size_t>(req.timeseries_size()) > limits.max_series)
    return bad("request holds " + std::to_string(req.timeseries_size()) + " series, over the limit of " +
               std::to_string(limits.max_series) + " series per request (--max-series-per-request); send smaller batches");
  write_batch out;
  out.reserve(static_cast<size_t>(req.timeseries_size()));
  for (int i = 0; i < req.timeseries_size(); ++i)
    if (auto st = take_series(i, *req.mutable_timeseries(i), limits, out); !st) return st;
  if (metadata)
    if (auto st = take_metadata(req, *metadata); !st) return st;
  return out;
}

std::string encode_remote_write(const write_batch& b, const std::vector<metric_metadata>& metadata) {
  prometheus::WriteRequest req;
  for (const auto& m : metadata) {
    auto* pm = req.add_metadata();
    pm->set_type(static_cast<prometheus::MetricMetadata::MetricType>(metric_type_code(m.type) % metric_type_count));
    pm->set_metric_family_name(m.family);
    pm->set_help(m.help);
    pm->set_unit(m.unit);
  }
  for (const auto& s : b) {
    auto* ts = req.add_timeseries();
    for (const auto& l : s.lbls) {
      auto* pl = ts->add_labels();
      pl->set_name(l.name);
      pl->set_value(l.value);
    }
    for (const auto& smp : s.samples) {
      auto* ps = ts->add_samples();
      ps->set_timestamp(smp.t);
      ps->set_value(smp.v);
    }
  }
  std::string raw = req.SerializeAsString();
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

}  // namespace strata::wire
