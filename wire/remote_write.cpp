#include "wire/remote_write.hpp"

#include <snappy.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <utility>

#include "proto/remote.pb.h"
#include "wire/check_series.hpp"

namespace strata::wire {
namespace {

status bad(std::string msg) { return error(strata_errc::bad_request, std::move(msg)); }

// Protobuf's wire format, read straight from the uncompressed body: label
// strings are copied once, into the series, with no message objects between
// (they cost a fifth of a node's ingest CPU: a string and a destructor on the
// arena per label, then the copy out of it). Fields not in remote.proto
// (exemplars, native histograms, reserved ones) and known fields of an
// unexpected wire type are skipped, as protobuf does; a repeated scalar field
// keeps its last value. Fails (false) on a truncated varint or field, a
// length past the end of its message, or a group (no proto3 sender writes
// one).
class pb_reader {
 public:
  explicit pb_reader(std::string_view s)
      : p_(reinterpret_cast<const uint8_t*>(s.data())), end_(p_ + s.size()) {}
  bool done() const { return p_ == end_; }
  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      uint8_t b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (b < 0x80) return true;
    }
    return false;
  }
  bool tag(uint32_t& field, uint32_t& type) {
    uint64_t t;
    if (!varint(t) || t > UINT32_MAX || (t >> 3) == 0) return false;
    field = static_cast<uint32_t>(t >> 3);
    type = static_cast<uint32_t>(t & 7);
    return true;
  }
  bool bytes(std::string_view& out) {
    uint64_t n;
    if (!varint(n) || n > static_cast<uint64_t>(end_ - p_)) return false;
    out = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  bool fixed64(uint64_t& v) {
    if (end_ - p_ < 8) return false;
    std::memcpy(&v, p_, 8);  // little-endian, as is every host strata builds for
    p_ += 8;
    return true;
  }
  bool skip(uint32_t type) {
    uint64_t v;
    std::string_view b;
    switch (type) {
      case 0: return varint(v);
      case 1: return fixed64(v);
      case 2: return bytes(b);
      case 5:
        if (end_ - p_ < 4) return false;
        p_ += 4;
        return true;
      default: return false;
    }
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// One TimeSeries message into `ls` and `samples` (both cleared first).
bool read_series(std::string_view msg, labels& ls, std::vector<sample>& samples) {
  ls.clear();
  samples.clear();
  pb_reader r(msg);
  uint32_t field = 0, type = 0;
  while (!r.done()) {
    if (!r.tag(field, type)) return false;
    if (type != 2 || (field != 1 && field != 2)) {
      if (!r.skip(type)) return false;
      continue;
    }
    std::string_view m;
    if (!r.bytes(m)) return false;
    pb_reader in(m);
    if (field == 1) {  // Label
      std::string_view name, value;
      while (!in.done()) {
        if (!in.tag(field, type)) return false;
        if (type == 2 && field == 1) {
          if (!in.bytes(name)) return false;
        } else if (type == 2 && field == 2) {
          if (!in.bytes(value)) return false;
        } else if (!in.skip(type)) {
          return false;
        }
      }
      ls.push_back({std::string(name), std::string(value)});
    } else {  // Sample
      sample smp;
      while (!in.done()) {
        if (!in.tag(field, type)) return false;
        uint64_t v;
        if (type == 1 && field == 1) {
          if (!in.fixed64(v)) return false;
          std::memcpy(&smp.v, &v, sizeof v);
        } else if (type == 0 && field == 2) {
          if (!in.varint(v)) return false;
          smp.t = static_cast<int64_t>(v);
        } else if (!in.skip(type)) {
          return false;
        }
      }
      samples.push_back(smp);
    }
  }
  return true;
}

// One MetricMetadata message into `type` (as protobuf reads an int32 enum)
// and `m`'s strings.
bool read_metadata(std::string_view msg, int32_t& type, metric_metadata& m) {
  type = 0;
  pb_reader r(msg);
  uint32_t field = 0, wt = 0;
  while (!r.done()) {
    if (!r.tag(field, wt)) return false;
    std::string_view b;
    if (wt == 0 && field == 1) {
      uint64_t v;
      if (!r.varint(v)) return false;
      type = static_cast<int32_t>(static_cast<uint32_t>(v));
    } else if (wt == 2 && (field == 2 || field == 4 || field == 5)) {
      if (!r.bytes(b)) return false;
      (field == 2 ? m.family : field == 4 ? m.help : m.unit) = std::string(b);
    } else if (!r.skip(wt)) {
      return false;
    }
  }
  return true;
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
  auto not_protobuf = [&] {
    return bad("body is not a valid remote_write WriteRequest protobuf (" + std::to_string(raw.size()) +
               " bytes after snappy)");
  };

  // The WriteRequest's own fields first: its shape and the number of series.
  size_t series_count = 0;
  {
    pb_reader r(raw);
    uint32_t field = 0, type = 0;
    while (!r.done()) {
      if (!r.tag(field, type) || !r.skip(type)) return not_protobuf();
      if (field == 1 && type == 2) ++series_count;
    }
  }
  if (limits.max_series && series_count > limits.max_series)
    return bad("request holds " + std::to_string(series_count) + " series, over the limit of " +
               std::to_string(limits.max_series) + " series per request (--max-series-per-request); send smaller batches");

  write_batch out;
  out.reserve(series_count);
  pb_reader r(raw);
  uint32_t field = 0, type = 0;
  size_t i = 0, m = 0;
  labels ls;
  std::vector<sample> samples;
  while (!r.done()) {
    r.tag(field, type);  // checked by the pass above
    std::string_view msg;
    if (type != 2 || (field != 1 && field != 3)) {
      r.skip(type);
      continue;
    }
    r.bytes(msg);
    if (field == 1) {
      if (!read_series(msg, ls, samples)) return not_protobuf();
      if (auto st = check_series(ls, limits); !st) return bad("timeseries[" + std::to_string(i) + "] " + st.message());
      ++i;
      if (samples.empty()) continue;  // nothing to store
      size_t nl = ls.size(), ns = samples.size();
      out.push_back({std::move(ls), std::move(samples)});
      ls.reserve(nl);  // the next series is most likely of the same shape
      samples.reserve(ns);
    } else {
      // WriteRequest.metadata, checked, when asked for.
      std::string at = "metadata[" + std::to_string(m++) + "]";
      int32_t code;
      metric_metadata md;
      if (!read_metadata(msg, code, md)) return not_protobuf();
      if (!metadata) continue;
      if (code < 0 || static_cast<size_t>(code) >= metric_type_count)
        return bad(at + ": type " + std::to_string(code) + " is not a remote_write 1.0 MetricType (0 to " +
                   std::to_string(metric_type_count - 1) + ")");
      md.type = metric_types[static_cast<size_t>(code)];
      if (auto st = check_metadata(md); !st) return bad(at + ": " + st.message());
      metadata->push_back(std::move(md));
    }
  }
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
