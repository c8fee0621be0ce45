#include "wire/remote_write_v2.hpp"

#include <google/protobuf/arena.h>
#include <snappy.h>

#include <algorithm>
#include <climits>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "proto/remote_v2.pb.h"
#include "common/utf8.hpp"
#include "wire/check_series.hpp"
#include "wire/utf8.hpp"

namespace strata::wire {
namespace {

namespace v2 = io::prometheus::write::v2;

status bad(std::string msg) { return error(strata_errc::bad_request, std::move(msg)); }

std::string at(int i) { return "timeseries[" + std::to_string(i) + "]"; }

std::string where(int i, const labels& ls) { return at(i) + " " + series_for_message(ls); }

metric_type from_proto(v2::Metadata::MetricType t) {
  switch (t) {
    case v2::Metadata::METRIC_TYPE_COUNTER: return metric_type::counter;
    case v2::Metadata::METRIC_TYPE_GAUGE: return metric_type::gauge;
    case v2::Metadata::METRIC_TYPE_HISTOGRAM: return metric_type::histogram;
    case v2::Metadata::METRIC_TYPE_GAUGEHISTOGRAM: return metric_type::gaugehistogram;
    case v2::Metadata::METRIC_TYPE_SUMMARY: return metric_type::summary;
    case v2::Metadata::METRIC_TYPE_INFO: return metric_type::info;
    case v2::Metadata::METRIC_TYPE_STATESET: return metric_type::stateset;
    default: return metric_type::unknown;
  }
}

v2::Metadata::MetricType to_proto(metric_type t) {
  switch (t) {
    case metric_type::counter: return v2::Metadata::METRIC_TYPE_COUNTER;
    case metric_type::gauge: return v2::Metadata::METRIC_TYPE_GAUGE;
    case metric_type::histogram: return v2::Metadata::METRIC_TYPE_HISTOGRAM;
    case metric_type::gaugehistogram: return v2::Metadata::METRIC_TYPE_GAUGEHISTOGRAM;
    case metric_type::summary: return v2::Metadata::METRIC_TYPE_SUMMARY;
    case metric_type::info: return v2::Metadata::METRIC_TYPE_INFO;
    case metric_type::stateset: return v2::Metadata::METRIC_TYPE_STATESET;
    default: return v2::Metadata::METRIC_TYPE_UNSPECIFIED;
  }
}

// Resolves one series' labels and checks them; ok with `ls` canonical.
status take_labels(int i, const v2::TimeSeries& ts, const v2::Request& req, const write_limits& limits, labels& ls) {
  const int refs = ts.labels_refs_size();
  if (refs % 2 != 0) return bad(at(i) + ": odd number of label references (" + std::to_string(refs) + ")");
  const auto nsym = static_cast<uint32_t>(req.symbols_size());
  ls.clear();
  ls.reserve(static_cast<size_t>(refs / 2));
  for (int j = 0; j < refs; j += 2) {
    uint32_t n = ts.labels_refs(j), v = ts.labels_refs(j + 1);
    if (n >= nsym || v >= nsym)
      return bad(at(i) + ": label reference " + std::to_string(std::max(n, v)) + " is past the symbol table of " +
                 std::to_string(nsym) + " symbols");
    ls.push_back({req.symbols(static_cast<int>(n)), req.symbols(static_cast<int>(v))});
  }
  if (auto st = check_series(ls, limits); !st) return bad(at(i) + " " + st.message());
  return status::ok();
}

}  // namespace

remote_write_proto remote_write_proto_for(std::string_view content_type) {
  auto trim = [](std::string_view v) {
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    return v;
  };
  auto semi = content_type.find(';');
  if (trim(content_type.substr(0, semi)) != "application/x-protobuf") return remote_write_proto::unsupported;
  std::string_view proto;
  while (semi != std::string_view::npos) {
    content_type.remove_prefix(semi + 1);
    semi = content_type.find(';');
    std::string_view param = trim(content_type.substr(0, semi));
    if (param.substr(0, 6) == "proto=") proto = param.substr(6);
  }
  if (proto.empty() || proto == "prometheus.WriteRequest") return remote_write_proto::v1;
  if (proto == "io.prometheus.write.v2.Request") return remote_write_proto::v2;
  return remote_write_proto::unsupported;
}

result<remote_write_v2> decode_remote_write_v2(std::string_view body, const write_limits& limits) {
  size_t len = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &len))
    return bad("body is not valid snappy-compressed data (bad length header)");
  if (len > limits.max_decompressed || len > static_cast<size_t>(INT_MAX))
    return bad("body decompresses to " + std::to_string(len) + " bytes, over the limit of " +
               std::to_string(std::min<size_t>(limits.max_decompressed, INT_MAX)) + " bytes");
  std::string raw(len, '\0');
  if (!snappy::RawUncompress(body.data(), body.size(), raw.data())) return bad("body is not valid snappy-compressed data");

  google::protobuf::ArenaOptions arena_opts;
  arena_opts.start_block_size = std::min<size_t>(len * 2 + 4096, size_t{64} << 20);
  arena_opts.max_block_size = size_t{64} << 20;
  google::protobuf::Arena arena(arena_opts);
  auto& req = *google::protobuf::Arena::CreateMessage<v2::Request>(&arena);
  if (!req.ParseFromArray(raw.data(), static_cast<int>(raw.size())))
    return bad("body is not a valid remote_write 2.0 io.prometheus.write.v2.Request protobuf (" +
               std::to_string(raw.size()) + " bytes after snappy)");
  if (req.symbols_size() > 0 && !req.symbols(0).empty())
    return bad("symbols[0] must be the empty string, not " + quote_for_message(req.symbols(0), 64));
  if (limits.max_series && static_cast<size_t>(req.timeseries_size()) > limits.max_series)
    return bad("request holds " + std::to_string(req.timeseries_size()) + " series, over the limit of " +
               std::to_string(limits.max_series) + " series per request (--max-series-per-request); send smaller batches");

  remote_write_v2 out;
  out.series.reserve(static_cast<size_t>(req.timeseries_size()));
  std::unordered_set<std::string> described;
  const auto nsym = static_cast<uint32_t>(req.symbols_size());
  for (int i = 0; i < req.timeseries_size(); ++i) {
    const auto& ts = req.timeseries(i);
    labels ls;
    if (auto st = take_labels(i, ts, req, limits, ls); !st) return st;
    out.histograms += static_cast<size_t>(ts.histograms_size());
    out.exemplars += static_cast<size_t>(ts.exemplars_size());
    if (ts.has_metadata()) {
      const auto& md = ts.metadata();
      if (md.help_ref() >= nsym || md.unit_ref() >= nsym)
        return bad(where(i, ls) + ": metadata reference " + std::to_string(std::max(md.help_ref(), md.unit_ref())) +
                   " is past the symbol table of " + std::to_string(nsym) + " symbols");
      std::string name(label_value(ls, metric_name_label));
      bool any = md.type() != v2::Metadata::METRIC_TYPE_UNSPECIFIED || md.help_ref() != 0 || md.unit_ref() != 0;
      if (any && !name.empty() && described.insert(name).second) {
        metric_metadata m{name, from_proto(md.type()), md.help_ref() ? req.symbols(static_cast<int>(md.help_ref())) : "",
                          md.unit_ref() ? req.symbols(static_cast<int>(md.unit_ref())) : ""};
        if (!valid_utf8(m.help) || !valid_utf8(m.unit))
          return bad(where(i, ls) + ": metadata help or unit is not valid UTF-8");
        out.metadata.push_back(std::move(m));
      }
    }
    if (ts.samples_size() == 0) continue;
    series s;
    s.lbls = std::move(ls);
    s.samples.reserve(static_cast<size_t>(ts.samples_size()));
    for (const auto& smp : ts.samples()) s.samples.push_back({smp.timestamp(), smp.value()});
    out.samples += s.samples.size();
    out.series.push_back(std::move(s));
  }
  return out;
}

std::string encode_remote_write_v2(const write_batch& b, const metadata_list& metadata) {
  v2::Request req;
  std::unordered_map<std::string, uint32_t> index;
  auto sym = [&](const std::string& s) -> uint32_t {
    auto [it, fresh] = index.emplace(s, static_cast<uint32_t>(req.symbols_size()));
    if (fresh) req.add_symbols(s);
    return it->second;
  };
  sym("");
  for (const auto& s : b) {
    auto* ts = req.add_timeseries();
    for (const auto& l : s.lbls) {
      ts->add_labels_refs(sym(l.name));
      ts->add_labels_refs(sym(l.value));
    }
    for (const auto& smp : s.samples) {
      auto* ps = ts->add_samples();
      ps->set_timestamp(smp.t);
      ps->set_value(smp.v);
    }
    auto name = label_value(s.lbls, metric_name_label);
    for (const auto& m : metadata)
      if (m.family == name) {
        auto* md = ts->mutable_metadata();
        md->set_type(to_proto(m.type));
        if (!m.help.empty()) md->set_help_ref(sym(m.help));
        if (!m.unit.empty()) md->set_unit_ref(sym(m.unit));
      }
  }
  std::string raw = req.SerializeAsString();
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

}  // namespace strata::wire
