#include "actors/messages.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

#include "persistence/shard_store.hpp"
#include "query/plan.hpp"

#include <zstd.h>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>

namespace strata::actors {

caf::error to_caf_error(const status& s) {
  return caf::error(static_cast<uint8_t>(s.code()), error_category, caf::make_message(s.message()));
}

status from_caf_error(const caf::error& e, const std::string& what) {
  if (e.category() == error_category) {
    std::string msg;
    if (e.context().match_elements<std::string>()) msg = e.context().get_as<std::string>(0);
    return error(static_cast<strata_errc>(e.code()), msg);
  }
  // CAF's own errors: timeouts and lost peers mean "try again later".
  auto code = strata_errc::unavailable;
  if (e.category() == caf::atom("system") && e.code() == static_cast<uint8_t>(caf::sec::request_timeout))
    code = strata_errc::timeout;
  return error(code, what + ": " + caf::to_string(e));
}

std::vector<std::string> encode_matchers(const matchers& ms) {
  std::vector<std::string> out;
  out.reserve(ms.size() * 3);
  for (const auto& m : ms) {
    out.push_back(std::to_string(static_cast<int>(m.type())));
    out.push_back(m.name());
    out.push_back(m.value());
  }
  return out;
}

result<matchers> decode_matchers(const std::vector<std::string>& flat) {
  if (flat.size() % 3 != 0) return error(strata_errc::bad_request, "matcher list is not a list of triples");
  matchers out;
  for (size_t i = 0; i < flat.size(); i += 3) {
    int op = flat[i].size() == 1 ? flat[i][0] - '0' : -1;
    if (op < 0 || op > 3) return error(strata_errc::bad_request, "unknown matcher op '" + flat[i] + "'");
    auto m = matcher::make(static_cast<matcher::op>(op), flat[i + 1], flat[i + 2]);
    if (!m) return m.error();
    out.push_back(std::move(*m));
  }
  return out;
}

std::vector<std::string> encode_metadata(const std::vector<metric_metadata>& md) {
  std::vector<std::string> out;
  out.reserve(md.size() * 4);
  for (const auto& m : md) {
    out.push_back(m.family);
    out.push_back(m.type);
    out.push_back(m.help);
    out.push_back(m.unit);
  }
  return out;
}

result<std::vector<metric_metadata>> decode_metadata(const std::vector<std::string>& flat) {
  if (flat.size() % 4 != 0) return error(strata_errc::bad_request, "metadata list is not a list of quadruples");
  std::vector<metric_metadata> out;
  out.reserve(flat.size() / 4);
  for (size_t i = 0; i < flat.size(); i += 4) {
    metric_metadata m{flat[i], flat[i + 1], flat[i + 2], flat[i + 3]};
    if (auto st = check_metadata(m); !st) return st;
    out.push_back(std::move(m));
  }
  return out;
}

namespace {

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

struct le_reader {
  std::string_view in;
  size_t pos = 0;
  bool ok = true;
  uint64_t take(int bytes) {
    if (!ok || in.size() - pos < static_cast<size_t>(bytes)) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(in[pos + i])} << (8 * i);
    pos += bytes;
    return v;
  }
  uint64_t take_varint() {
    uint64_t v = 0;
    for (int shift = 0; ok && shift < 64; shift += 7) {
      if (pos >= in.size()) break;
      auto byte = static_cast<uint8_t>(in[pos++]);
      v |= uint64_t{byte & 0x7fu} << shift;
      if (!(byte & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  std::string take_bytes(uint64_t n) {
    if (!ok || in.size() - pos < n) {
      ok = false;
      return {};
    }
    std::string s(in.substr(pos, n));
    pos += n;
    return s;
  }
  std::string take_vstring() { return take_bytes(take_varint()); }  // varint length + bytes
  std::string take_string() { return take_bytes(take(4)); }         // u32 length + bytes
};

}  // namespace

std::string encode_tsdb_summary(const persistence::tsdb_summary& s) {
  std::string out;
  put_le(out, s.series, 8);
  put_le(out, s.chunks, 8);
  put_le(out, static_cast<uint64_t>(s.min_t), 8);
  put_le(out, static_cast<uint64_t>(s.max_t), 8);
  put_le(out, s.pairs.size(), 8);
  for (const auto& p : s.pairs) {
    put_le(out, p.name.size(), 4);
    out += p.name;
    put_le(out, p.value.size(), 4);
    out += p.value;
    put_le(out, p.series, 8);
  }
  return out;
}

result<persistence::tsdb_summary> decode_tsdb_summary(std::string_view bytes) {
  le_reader r{bytes};
  persistence::tsdb_summary s;
  s.series = r.take(8);
  s.chunks = r.take(8);
  s.min_t = static_cast<int64_t>(r.take(8));
  s.max_t = static_cast<int64_t>(r.take(8));
  uint64_t n = r.take(8);
  // Each pair takes at least 16 bytes: a count beyond that is damage, not a reason to allocate.
  if (r.ok && n > (bytes.size() - r.pos) / 16) r.ok = false;
  if (r.ok) s.pairs.reserve(n);
  for (uint64_t i = 0; r.ok && i < n; ++i) {
    persistence::tsdb_summary::pair p;
    p.name = r.take_string();
    p.value = r.take_string();
    p.series = r.take(8);
    s.pairs.push_back(std::move(p));
  }
  if (!r.ok || r.pos != bytes.size())
    return error(strata_errc::internal, "tsdb summary of " + std::to_string(bytes.size()) +
                                            " bytes does not decode (at offset " + std::to_string(r.pos) + ")");
  return s;
}

std::vector<std::string> encode_selections(
    const std::vector<std::pair<matchers, std::pair<int64_t, int64_t>>>& sels) {
  std::vector<std::string> out;
  for (const auto& [ms, span] : sels) {
    out.push_back(std::to_string(span.first));
    out.push_back(std::to_string(span.second));
    out.push_back(std::to_string(ms.size()));
    for (auto& x : encode_matchers(ms)) out.push_back(std::move(x));
  }
  return out;
}

result<std::vector<std::pair<matchers, std::pair<int64_t, int64_t>>>> decode_selections(
    const std::vector<std::string>& flat) {
  std::vector<std::pair<matchers, std::pair<int64_t, int64_t>>> out;
  size_t i = 0;
  auto bad = [] { return error(strata_errc::bad_request, "selection list does not decode"); };
  while (i < flat.size()) {
    if (flat.size() - i < 3) return bad();
    int64_t mint = 0, maxt = 0;
    size_t n = 0;
    try {
      mint = std::stoll(flat[i]);
      maxt = std::stoll(flat[i + 1]);
      n = std::stoul(flat[i + 2]);
    } catch (...) {
      return bad();
    }
    i += 3;
    if (n > (flat.size() - i) / 3) return bad();
    std::vector<std::string> triples(flat.begin() + static_cast<std::ptrdiff_t>(i),
                                     flat.begin() + static_cast<std::ptrdiff_t>(i + 3 * n));
    i += 3 * n;
    auto ms = decode_matchers(triples);
    if (!ms) return ms.error();
    out.push_back({std::move(*ms), {mint, maxt}});
  }
  return out;
}

namespace {

void put_f64(std::string& out, double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  put_le(out, b, 8);
}

double take_f64(le_reader& r) {
  uint64_t b = r.take(8);
  double v;
  std::memcpy(&v, &b, 8);
  return v;
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>(static_cast<uint8_t>(v) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void put_labels(std::string& out, const labels& ls) {
  put_varint(out, ls.size());
  for (const auto& l : ls) {
    put_varint(out, l.name.size());
    out += l.name;
    put_varint(out, l.value.size());
    out += l.value;
  }
}

labels take_labels(le_reader& r) {
  labels ls;
  uint64_t n = r.take_varint();
  if (!r.ok || n > (r.in.size() - r.pos) / 2) {
    r.ok = false;
    return ls;
  }
  for (uint64_t i = 0; r.ok && i < n; ++i) {
    label l;
    l.name = r.take_vstring();
    l.value = r.take_vstring();
    ls.push_back(std::move(l));
  }
  return ls;
}

}  // namespace

namespace {

enum fields : uint8_t { f_sum = 1, f_extreme = 2, f_var = 4, f_kept = 8 };

uint8_t fields_of(query::token_kind op) {
  switch (op) {
    case query::token_kind::kw_sum:
    case query::token_kind::kw_avg:
    case query::series_value_op: return f_sum;
    case query::token_kind::kw_min:
    case query::token_kind::kw_max: return f_extreme;
    case query::token_kind::kw_stddev:
    case query::token_kind::kw_stdvar: return f_var;
    case query::token_kind::kw_topk:
    case query::token_kind::kw_bottomk: return f_kept;
    default: return 0;
  }
}

}  // namespace

namespace {

void put_signed(std::string& out, int64_t v) {
  put_varint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));  // zigzag
}

int64_t take_signed(le_reader& r) {
  uint64_t z = r.take_varint();
  return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
}

}  // namespace

// A count that is a whole number (every count is, unless a sum of weights)
// goes as a varint; a compensation of 0 (the usual) is left out.
enum entry_flags : uint8_t { e_count_whole = 1, e_sum_c = 2 };

namespace {

// A table over compress_above bytes travels as a marker byte (no operator
// takes it) and one zstd frame with its checksum: steps of one group repeat
// their labels' numbers and similar values.
constexpr char zstd_marker = '\xff';
constexpr size_t compress_above = 1024;
constexpr unsigned long long max_table_bytes = 256ull << 20;

std::string encode_table(const query::partial_table& t, query::token_kind op, int64_t k) {
  std::string out;
  uint8_t f = fields_of(op);
  out += static_cast<char>(op);
  put_signed(out, k);
  put_varint(out, t.groups.size());
  for (const auto& g : t.groups) put_labels(out, g);
  // topk/bottomk: every kept series' labels once, then referred to by number.
  std::map<labels, uint64_t> kept_ids;
  if (f & f_kept) {
    std::vector<const labels*> order;
    for (const auto& entries : t.steps)
      for (const auto& [g, st] : entries)
        for (const auto& x : st.kept)
          if (kept_ids.emplace(x.metric, order.size()).second) order.push_back(&x.metric);
    put_varint(out, order.size());
    for (const labels* ls : order) put_labels(out, *ls);
  }
  put_varint(out, t.steps.size());
  for (const auto& entries : t.steps) {
    put_varint(out, entries.size());
    for (const auto& [g, st] : entries) {
      put_varint(out, g);
      bool whole = st.count >= 0 && st.count < 9007199254740992.0 && std::floor(st.count) == st.count;
      uint8_t flags = (whole ? e_count_whole : 0) | ((f & f_sum) && st.sum_c != 0 ? e_sum_c : 0);
      out += static_cast<char>(flags);
      if (whole) put_varint(out, static_cast<uint64_t>(st.count));
      else put_f64(out, st.count);
      if (f & f_sum) {
        put_f64(out, st.sum);
        if (flags & e_sum_c) put_f64(out, st.sum_c);
      }
      if (f & f_extreme) put_f64(out, st.extreme);
      if (f & f_var) put_f64(out, st.mean), put_f64(out, st.m2);
      if (f & f_kept) {
        put_varint(out, st.kept.size());
        for (const auto& x : st.kept) {
          put_varint(out, kept_ids.at(x.metric));
          put_f64(out, x.s.v);
        }
      }
    }
  }
  for (const auto* notes : {&t.warnings, &t.infos}) {
    put_varint(out, notes->size());
    for (const auto& n : *notes) {
      put_varint(out, n.size());
      out += n;
    }
  }
  return out;
}

result<query::partial_table> decode_table(std::string_view bytes);

}  // namespace

std::string encode_partials(const query::partial_table& t, query::token_kind op, int64_t k) {
  std::string plain = encode_table(t, op, k);
  if (plain.size() <= compress_above) return plain;
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  std::string out(1 + ZSTD_compressBound(plain.size()), zstd_marker);
  size_t n = ZSTD_compress2(cctx.get(), out.data() + 1, out.size() - 1, plain.data(), plain.size());
  if (ZSTD_isError(n) || n + 1 >= plain.size()) return plain;
  out.resize(n + 1);
  return out;
}

result<query::partial_table> decode_partials(std::string_view bytes) {
  if (bytes.empty() || bytes[0] != zstd_marker) return decode_table(bytes);
  auto frame = bytes.substr(1);
  unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > max_table_bytes)
    return error(strata_errc::internal, "compressed partial aggregates of " + std::to_string(bytes.size()) +
                                            " bytes have no valid frame header");
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  std::string plain(static_cast<size_t>(size), '\0');
  size_t got = ZSTD_decompressDCtx(dctx.get(), plain.data(), plain.size(), frame.data(), frame.size());
  if (ZSTD_isError(got) || got != plain.size())
    return error(strata_errc::internal, "compressed partial aggregates of " + std::to_string(bytes.size()) +
                                            " bytes do not decompress");
  return decode_table(plain);
}

namespace {

result<query::partial_table> decode_table(std::string_view bytes) {
  le_reader r{bytes};
  query::partial_table t;
  auto op = static_cast<query::token_kind>(r.take(1));
  int64_t k = take_signed(r);
  uint8_t f = fields_of(op);
  // Every count below is checked against the bytes left (each item takes one at least).
  auto count_ok = [&](uint64_t n) {
    if (r.ok && n > bytes.size() - r.pos) r.ok = false;
    return r.ok;
  };
  uint64_t groups = r.take_varint();
  if (count_ok(groups))
    for (uint64_t i = 0; r.ok && i < groups; ++i) t.groups.push_back(take_labels(r));
  std::vector<labels> kept_labels;
  if (f & f_kept) {
    uint64_t n = r.take_varint();
    if (count_ok(n))
      for (uint64_t i = 0; r.ok && i < n; ++i) kept_labels.push_back(take_labels(r));
  }
  uint64_t steps = r.take_varint();
  if (count_ok(steps)) t.steps.resize(steps);
  for (uint64_t i = 0; r.ok && i < steps; ++i) {
    uint64_t n = r.take_varint();
    if (!count_ok(n)) break;
    for (uint64_t j = 0; r.ok && j < n; ++j) {
      uint64_t g = r.take_varint();
      if (g >= t.groups.size()) r.ok = false;
      uint8_t flags = static_cast<uint8_t>(r.take(1));
      query::partial_aggregate st;
      st.op = op;
      st.k = k;
      st.count = (flags & e_count_whole) ? static_cast<double>(r.take_varint()) : take_f64(r);
      if (f & f_sum) {
        st.sum = take_f64(r);
        if (flags & e_sum_c) st.sum_c = take_f64(r);
      }
      if (f & f_extreme) st.extreme = take_f64(r);
      if (f & f_var) st.mean = take_f64(r), st.m2 = take_f64(r);
      if (f & f_kept) {
        uint64_t kept = r.take_varint();
        if (!count_ok(kept)) break;
        for (uint64_t x = 0; r.ok && x < kept; ++x) {
          uint64_t id = r.take_varint();
          if (id >= kept_labels.size()) {
            r.ok = false;
            break;
          }
          query::instant_sample s;
          s.metric = kept_labels[id];
          s.s.v = take_f64(r);
          st.kept.push_back(std::move(s));
        }
      }
      if (r.ok) t.steps[i].emplace_back(static_cast<uint32_t>(g), std::move(st));
    }
  }
  for (auto* notes : {&t.warnings, &t.infos}) {
    uint64_t n = r.take_varint();
    if (count_ok(n))
      for (uint64_t i = 0; r.ok && i < n; ++i) notes->push_back(r.take_vstring());
  }
  if (!r.ok || r.pos != bytes.size())
    return error(strata_errc::internal, "partial aggregates of " + std::to_string(bytes.size()) +
                                            " bytes do not decode (at offset " + std::to_string(r.pos) + ")");
  return t;
}

}  // namespace

std::string encode_eval_options(const query::eval_options& o) {
  std::string out;
  for (int64_t v : {o.lookback_ms, static_cast<int64_t>(o.max_samples), o.default_subquery_step_ms,
                    o.raw_retention_ms, o.now_ms, o.max_rollup_window_ms, o.min_tier_within_raw_ms})
    put_signed(out, v);
  put_varint(out, o.tiers.size());
  for (const auto& t : o.tiers) put_signed(out, t.window_ms), put_signed(out, t.retention_ms);
  return out;
}

result<query::eval_options> decode_eval_options(std::string_view bytes) {
  le_reader r{bytes};
  query::eval_options o;
  o.lookback_ms = take_signed(r);
  o.max_samples = static_cast<size_t>(std::max<int64_t>(take_signed(r), 0));
  o.default_subquery_step_ms = take_signed(r);
  o.raw_retention_ms = take_signed(r);
  o.now_ms = take_signed(r);
  o.max_rollup_window_ms = take_signed(r);
  o.min_tier_within_raw_ms = take_signed(r);
  uint64_t n = r.take_varint();
  if (r.ok && n > bytes.size() - r.pos) r.ok = false;
  for (uint64_t i = 0; r.ok && i < n; ++i) {
    query::eval_options::tier t;
    t.window_ms = take_signed(r);
    t.retention_ms = take_signed(r);
    o.tiers.push_back(t);
  }
  if (!r.ok || r.pos != bytes.size())
    return error(strata_errc::bad_request, "engine options of " + std::to_string(bytes.size()) +
                                               " bytes do not decode (at offset " + std::to_string(r.pos) + ")");
  return o;
}

}  // namespace strata::actors
