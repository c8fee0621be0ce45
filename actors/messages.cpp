#include "actors/messages.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

#include "persistence/shard_store.hpp"

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

}  // namespace strata::actors
