#include "wire/remote_write.hpp"

#include <google/protobuf/arena.h>
#include <snappy.h>

#include <algorithm>
#include <climits>
#include <utility>

#include "proto/remote.pb.h"
#include "common/utf8.hpp"
#include "wire/utf8.hpp"

namespace strata::wire {
namespace {

status bad(std::string msg) { return error(strata_errc::bad_request, std::move(msg)); }

// Label name without the quotes that quote_for_message adds.
std::string name_for_message(std::string_view name) {
  auto q = quote_for_message(name, 64);
  return q.substr(1, q.size() - 2);
}

// `timeseries[i] {a="b", ...}` as the sender wrote it (invalid bytes escaped,
// long label sets cut), so that an error can be traced back to its series.
template <class Labels, class Name, class Value>
std::string where(int i, const Labels& ls, Name name, Value value) {
  constexpr size_t max_len = 256;
  std::string out = "timeseries[" + std::to_string(i) + "] {";
  bool first = true;
  for (const auto& l : ls) {
    if (out.size() > max_len) {
      out += ", ...";
      break;
    }
    if (!first) out += ", ";
    first = false;
    out += name_for_message(name(l));
    out += '=';
    out += quote_for_message(value(l), 64);
  }
  out += '}';
  return out;
}

std::string where(int i, const prometheus::TimeSeries& ts) {
  return where(
      i, ts.labels(), [](const prometheus::Label& l) -> const std::string& { return l.name(); },
      [](const prometheus::Label& l) -> const std::string& { return l.value(); });
}

std::string where(int i, const labels& ls) {
  return where(
      i, ls, [](const label& l) -> const std::string& { return l.name; },
      [](const label& l) -> const std::string& { return l.value; });
}

// Checks one series and moves it into `out` (canonical labels). Labels in the
// request may be unsorted; duplicates are found after sorting.
status take_series(int i, prometheus::TimeSeries& ts, const write_limits& limits, write_batch& out) {
  if (ts.labels_size() == 0) return bad(where(i, ts) + ": series has no labels");
  if (limits.max_labels && static_cast<size_t>(ts.labels_size()) > limits.max_labels)
    return bad(where(i, ts) + ": " + std::to_string(ts.labels_size()) + " labels, over the limit of " +
               std::to_string(limits.max_labels) + " labels per series (--max-labels-per-series)");
  for (int j = 0; j < ts.labels_size(); ++j) {
    const auto& l = ts.labels(j);
    if (limits.max_name_length && l.name().size() > limits.max_name_length)
      return bad(where(i, ts) + ": label name of " + std::to_string(l.name().size()) + " bytes, over the limit of " +
                 std::to_string(limits.max_name_length) + " (--max-label-name-length)");
    if (limits.max_value_length && l.value().size() > limits.max_value_length)
      return bad(where(i, ts) + ": value of label " + quote_for_message(l.name()) + " has " +
                 std::to_string(l.value().size()) + " bytes, over the limit of " +
                 std::to_string(limits.max_value_length) + " (--max-label-value-length)");
    if (l.name().empty()) return bad(where(i, ts) + ": label " + std::to_string(j) + " has an empty name");
    if (!valid_utf8(l.name()))
      return bad(where(i, ts) + ": label name " + quote_for_message(l.name()) + " is not valid UTF-8");
    if (!valid_utf8(l.value()))
      return bad(where(i, ts) + ": value of label " + quote_for_message(l.name()) + " is not valid UTF-8");
    if (limits.names == name_validation::legacy) {
      if (!legacy_label_name(l.name()))
        return bad(where(i, ts) + ": label name " + quote_for_message(l.name()) +
                   " does not match [a-zA-Z_][a-zA-Z0-9_]* (--name-validation=legacy)");
      if (l.name() == "__name__" && !l.value().empty() && !legacy_metric_name(l.value()))
        return bad(where(i, ts) + ": metric name " + quote_for_message(l.value()) +
                   " does not match [a-zA-Z_:][a-zA-Z0-9_:]* (--name-validation=legacy)");
    }
  }

  labels ls;
  ls.reserve(static_cast<size_t>(ts.labels_size()));
  for (auto& l : *ts.mutable_labels()) ls.push_back({std::move(*l.mutable_name()), std::move(*l.mutable_value())});
  std::sort(ls.begin(), ls.end(), [](const label& a, const label& b) { return a.name < b.name; });
  auto dup = std::adjacent_find(ls.begin(), ls.end(), [](const label& a, const label& b) { return a.name == b.name; });
  if (dup != ls.end()) return bad(where(i, ls) + ": duplicate label name " + quote_for_message(dup->name));
  ls.erase(std::remove_if(ls.begin(), ls.end(), [](const label& l) { return l.value.empty(); }), ls.end());
  if (ls.empty()) return bad("timeseries[" + std::to_string(i) + "]: series has no label with a non-empty value");

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

bool name_char(char c, bool first, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
         (!first && c >= '0' && c <= '9');
}

bool legacy_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, colon)) return false;
  return true;
}

}  // namespace

bool legacy_metric_name(std::string_view name) { return legacy_name(name, true); }
bool legacy_label_name(std::string_view name) { return legacy_name(name, false); }

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
