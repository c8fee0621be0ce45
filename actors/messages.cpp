#include "actors/messages.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

#include "persistence/shard_store.hpp"
#include "query/plan.hpp"

#include <cstring>

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
  std::string take_string() {
    auto n = take(4);
    if (!ok || in.size() - pos < n) {
      ok = false;
      return {};
    }
    std::string s(in.substr(pos, n));
    pos += n;
    return s;
  }
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

void put_labels(std::string& out, const labels& ls) {
  put_le(out, ls.size(), 4);
  for (const auto& l : ls) {
    put_le(out, l.name.size(), 4);
    out += l.name;
    put_le(out, l.value.size(), 4);
    out += l.value;
  }
}

labels take_labels(le_reader& r, size_t total) {
  labels ls;
  uint64_t n = r.take(4);
  if (!r.ok || n > (total - r.pos) / 8) {
    r.ok = false;
    return ls;
  }
  for (uint64_t i = 0; r.ok && i < n; ++i) {
    label l;
    l.name = r.take_string();
    l.value = r.take_string();
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
    case query::token_kind::kw_avg: return f_sum;
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

std::string encode_partials(const query::partial_table& t, query::token_kind op, int64_t k) {
  std::string out;
  uint8_t f = fields_of(op);
  put_le(out, static_cast<uint64_t>(op), 1);
  put_le(out, static_cast<uint64_t>(k), 8);
  put_le(out, t.groups.size(), 4);
  for (const auto& g : t.groups) put_labels(out, g);
  put_le(out, t.steps.size(), 4);
  for (const auto& entries : t.steps) {
    put_le(out, entries.size(), 4);
    for (const auto& [g, st] : entries) {
      put_le(out, g, 4);
      put_f64(out, st.count);
      if (f & f_sum) put_f64(out, st.sum), put_f64(out, st.sum_c);
      if (f & f_extreme) put_f64(out, st.extreme);
      if (f & f_var) put_f64(out, st.mean), put_f64(out, st.m2);
      if (f & f_kept) {
        put_le(out, st.kept.size(), 4);
        for (const auto& x : st.kept) {
          put_labels(out, x.metric);
          put_f64(out, x.s.v);
        }
      }
    }
  }
  return out;
}

result<query::partial_table> decode_partials(std::string_view bytes) {
  le_reader r{bytes};
  query::partial_table t;
  auto op = static_cast<query::token_kind>(r.take(1));
  auto k = static_cast<int64_t>(r.take(8));
  uint8_t f = fields_of(op);
  uint64_t groups = r.take(4);
  if (r.ok && groups > (bytes.size() - r.pos) / 4) r.ok = false;
  for (uint64_t i = 0; r.ok && i < groups; ++i) t.groups.push_back(take_labels(r, bytes.size()));
  uint64_t steps = r.take(4);
  if (r.ok && steps > (bytes.size() - r.pos) / 4) r.ok = false;
  if (r.ok) t.steps.resize(steps);
  for (uint64_t i = 0; r.ok && i < steps; ++i) {
    uint64_t n = r.take(4);
    if (r.ok && n > (bytes.size() - r.pos) / 12) r.ok = false;
    for (uint64_t j = 0; r.ok && j < n; ++j) {
      auto g = static_cast<uint32_t>(r.take(4));
      if (g >= t.groups.size()) r.ok = false;
      query::partial_aggregate st;
      st.op = op;
      st.k = k;
      st.count = take_f64(r);
      if (f & f_sum) st.sum = take_f64(r), st.sum_c = take_f64(r);
      if (f & f_extreme) st.extreme = take_f64(r);
      if (f & f_var) st.mean = take_f64(r), st.m2 = take_f64(r);
      if (f & f_kept) {
        uint64_t kept = r.take(4);
        if (r.ok && kept > (bytes.size() - r.pos) / 12) r.ok = false;
        for (uint64_t x = 0; r.ok && x < kept; ++x) {
          query::instant_sample s;
          s.metric = take_labels(r, bytes.size());
          s.s.v = take_f64(r);
          st.kept.push_back(std::move(s));
        }
      }
      if (r.ok) t.steps[i].emplace_back(g, std::move(st));
    }
  }
  if (!r.ok || r.pos != bytes.size())
    return error(strata_errc::internal, "partial aggregates of " + std::to_string(bytes.size()) +
                                            " bytes do not decode (at offset " + std::to_string(r.pos) + ")");
  return t;
}

}  // namespace strata::actors
