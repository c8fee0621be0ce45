#include "persistence/packed_chunk.hpp"

#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "persistence/codec/detail/zstd_context.hpp"

namespace strata::persistence {
namespace {

// Format 0x51 (written): format u8 | count uvarint | min_t zigzag varint |
// max_t - min_t uvarint | value coding | exponent << 2 u8 | body length
// uvarint | zstd(body) | checksum u32 (low half of XXH3-64 of everything
// before it). Format 0x50 (still read): the same fields at fixed widths,
// little-endian: format u8 | count u16 | min_t i64 | max_t i64 | value coding
// u8 | decimal exponent u8 | body length u32 | zstd(body) | checksum u32.
// docs/format/chunk.md, "Packed chunk".
constexpr size_t v1_header_size = 1 + 2 + 8 + 8 + 1 + 1 + 4;
constexpr size_t checksum_size = 4;
constexpr size_t min_size = 1 + 1 + 1 + 1 + 1 + 1 + checksum_size;  // the shortest 0x51 chunk
// Compaction writes a packed chunk once and reads it many times: a high
// level costs little (measured: 6% smaller than level 3 on the bench data).
constexpr int zstd_level = 19;
constexpr int max_exponent = 15;  // 10^15 and below are exact doubles
constexpr uint8_t factor_bit = 0x40;  // 0x51 coding byte: a common factor of the decimals follows

enum coding : uint8_t { decimal_delta = 0, decimal_dod = 1, xor_words = 2 };

const double pow10[max_exponent + 1] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

template <class T>
void put(std::string& s, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof v);
  s.append(b, sizeof b);
}
template <class T>
T get(std::string_view s, size_t at) {
  T v;
  std::memcpy(&v, s.data() + at, sizeof v);
  return v;
}

uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

void put_varint(std::string& s, uint64_t v) {
  while (v >= 0x80) {
    s.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  s.push_back(static_cast<char>(v));
}

// A varint of more than one byte: its value and where the next field
// starts, or `at` npos when the varint runs past s.
struct long_varint {
  uint64_t v;
  size_t at;
};
__attribute__((noinline)) long_varint get_long_varint(std::string_view s, size_t at) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && at < s.size(); shift += 7) {
    auto b = static_cast<uint8_t>(s[at++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return {v, at};
  }
  return {v, std::string_view::npos};
}

// Most deltas take one byte: that case is inlined in the decoding loops
// (and `at` and `v` stay in registers).
inline bool get_varint(std::string_view s, size_t& at, uint64_t& v) {
  if (at < s.size() && !(s[at] & 0x80)) {
    v = static_cast<uint8_t>(s[at++]);
    return true;
  }
  auto r = get_long_varint(s, at);
  if (r.at == std::string_view::npos) {
    at = s.size();
    return false;
  }
  v = r.v;
  at = r.at;
  return true;
}

uint64_t bits_of(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// The integer m with m / 10^k == v bit for bit, if there is one.
bool as_decimal(double v, int k, int64_t& m) {
  if (!std::isfinite(v) || (v == 0 && std::signbit(v))) return false;
  double scaled = v * pow10[k];
  if (!(std::fabs(scaled) <= 9007199254740992.0)) return false;  // 2^53
  double r = std::nearbyint(scaled);
  if (bits_of(r / pow10[k]) != bits_of(v)) return false;
  m = static_cast<int64_t>(r);
  return true;
}

// The smallest exponent at which every value is an exact decimal, or -1.
int common_exponent(const std::vector<sample>& s) {
  int k = 0;
  int64_t m;
  for (const auto& x : s) {
    while (k <= max_exponent && !as_decimal(x.v, k, m)) ++k;
    if (k > max_exponent) return -1;
  }
  for (const auto& x : s)  // exact at its own k does not always mean exact at a larger one
    if (!as_decimal(x.v, k, m)) return -1;
  return k;
}

status corrupt(const std::string& why) { return error(strata_errc::corruption, "packed chunk: " + why); }

// The uncompressed body, its value coding and decimal exponent.
// With `factored`, decimal values are divided by their greatest common
// divisor, returned in g (else g = 1).
std::string make_body(const std::vector<sample>& s, uint8_t& how_out, int& k_out, uint64_t& g_out, bool factored) {
  std::string body;
  body.reserve(s.size() * 3);
  // Timestamps: the first delta, then deltas of deltas.
  int64_t prev_delta = 0;
  for (size_t i = 1; i < s.size(); ++i) {
    int64_t d = s[i].t - s[i - 1].t;
    put_varint(body, zigzag(i == 1 ? d : d - prev_delta));
    prev_delta = d;
  }
  uint8_t how = xor_words;
  g_out = 1;
  int k = common_exponent(s);
  if (k >= 0) {
    std::vector<int64_t> m(s.size());
    for (size_t i = 0; i < s.size(); ++i) as_decimal(s[i].v, k, m[i]);
    uint64_t g = 0;
    for (int64_t x : m) g = std::gcd(g, static_cast<uint64_t>(x < 0 ? -x : x));  // |m| <= 2^53
    if (factored && g > 1) {
      for (auto& x : m) x /= static_cast<int64_t>(g);
      g_out = g;
    }
    std::string delta, dod;
    put_varint(delta, zigzag(m[0]));
    put_varint(dod, zigzag(m[0]));
    int64_t pd = 0;
    for (size_t i = 1; i < m.size(); ++i) {
      int64_t d = m[i] - m[i - 1];  // |m| <= 2^53: no overflow
      put_varint(delta, zigzag(d));
      put_varint(dod, zigzag(i == 1 ? d : d - pd));
      pd = d;
    }
    how = dod.size() < delta.size() ? decimal_dod : decimal_delta;
    body += how == decimal_dod ? dod : delta;
  } else {
    k = 0;
    uint64_t prev = 0;
    for (const auto& x : s) {
      uint64_t b = bits_of(x.v);
      put<uint64_t>(body, b ^ prev);
      prev = b;
    }
  }
  how_out = how;
  k_out = k;
  return body;
}

std::string compress(const std::string& body, int level) {
  std::string z(ZSTD_compressBound(body.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), body.data(), body.size(), level));  // cannot fail: compressBound-sized
  return z;
}

}  // namespace

std::string encode_packed_chunk(const std::vector<sample>& s) {
  uint8_t how;
  int k;
  uint64_t g;
  std::string body = make_body(s, how, k, g, true);
  std::string z = compress(body, zstd_level);
  std::string out;
  out.reserve(32 + z.size() + checksum_size);
  out.push_back(static_cast<char>(packed_chunk_format));
  put_varint(out, s.size());
  put_varint(out, zigzag(s.front().t));
  put_varint(out, static_cast<uint64_t>(s.back().t) - static_cast<uint64_t>(s.front().t));
  out.push_back(static_cast<char>(how | (k << 2) | (g > 1 ? factor_bit : 0)));
  if (g > 1) put_varint(out, g);
  put_varint(out, body.size());
  out += z;
  put<uint32_t>(out, static_cast<uint32_t>(XXH3_64bits(out.data(), out.size())));
  return out;
}

std::string encode_packed_chunk_v1(const std::vector<sample>& s) {
  uint8_t how;
  int k;
  uint64_t g;
  std::string body = make_body(s, how, k, g, false);
  std::string out;
  out.push_back(static_cast<char>(packed_chunk_format_v1));
  put<uint16_t>(out, static_cast<uint16_t>(s.size()));
  put<int64_t>(out, s.front().t);
  put<int64_t>(out, s.back().t);
  out.push_back(static_cast<char>(how));
  out.push_back(static_cast<char>(k));
  put<uint32_t>(out, static_cast<uint32_t>(body.size()));
  out += compress(body, 3);
  put<uint32_t>(out, static_cast<uint32_t>(XXH3_64bits(out.data(), out.size())));
  return out;
}

namespace {

// The header fields of either format, and where the zstd frame starts.
struct parsed {
  packed_header h;
  uint8_t coding = 0, exponent = 0;
  uint64_t body_size = 0;
  uint64_t factor = 1;
  size_t frame_at = 0;
};

result<parsed> parse(std::string_view b) {
  if (b.size() < min_size) return corrupt(std::to_string(b.size()) + " bytes, shorter than header and checksum");
  const auto format = static_cast<uint8_t>(b[0]);
  if (format != packed_chunk_format && format != packed_chunk_format_v1)
    return corrupt("format byte " + std::to_string(format) + " is neither 0x51 nor 0x50");
  if (format == packed_chunk_format_v1 && b.size() < v1_header_size + checksum_size)
    return corrupt(std::to_string(b.size()) + " bytes, shorter than the 25-byte header and checksum");
  uint32_t want = get<uint32_t>(b, b.size() - checksum_size);
  if (static_cast<uint32_t>(XXH3_64bits(b.data(), b.size() - checksum_size)) != want) return corrupt("checksum mismatch");
  parsed p;
  if (format == packed_chunk_format_v1) {
    p.h = {get<uint16_t>(b, 1), get<int64_t>(b, 3), get<int64_t>(b, 11)};
    p.coding = static_cast<uint8_t>(b[19]);
    p.exponent = static_cast<uint8_t>(b[20]);
    p.body_size = get<uint32_t>(b, 21);
    p.frame_at = v1_header_size;
  } else {
    std::string_view head = b.substr(0, b.size() - checksum_size);
    size_t at = 1;
    uint64_t count, min_z, span, body;
    if (!get_varint(head, at, count) || !get_varint(head, at, min_z) || !get_varint(head, at, span) ||
        at >= head.size())
      return corrupt("header cut short");
    const auto how = static_cast<uint8_t>(head[at++]);
    if (how & 0x80) return corrupt("coding byte " + std::to_string(how) + " has bit 7 set");
    if (how & factor_bit) {
      if (!get_varint(head, at, p.factor)) return corrupt("common factor cut short");
      if (p.factor < 2 || p.factor > (uint64_t{1} << 53) || (how & 3) == xor_words)
        return corrupt("common factor " + std::to_string(p.factor) + " outside 2..2^53 or with XOR words");
    }
    if (!get_varint(head, at, body)) return corrupt("body length cut short");
    if (count > max_packed_samples) return corrupt("count " + std::to_string(count) + " above 65535");
    const int64_t min_t = unzigzag(min_z);
    int64_t max_t;
    if (span > static_cast<uint64_t>(INT64_MAX) || __builtin_add_overflow(min_t, static_cast<int64_t>(span), &max_t))
      return corrupt("max_t overflows");
    p.h = {static_cast<uint16_t>(count), min_t, max_t};
    p.coding = how & 3;
    p.exponent = (how >> 2) & 0x0F;
    p.body_size = body;
    p.frame_at = at;
  }
  if (p.h.count == 0) return corrupt("no samples");
  if (p.h.max_t < p.h.min_t) return corrupt("max_t before min_t");
  if (p.coding > xor_words) return corrupt("unknown value coding " + std::to_string(p.coding));
  if (p.exponent > max_exponent) return corrupt("decimal exponent " + std::to_string(p.exponent));
  return p;
}

}  // namespace

result<packed_header> packed_chunk_header(std::string_view b) {
  auto p = parse(b);
  if (!p) return p.error();
  return p->h;
}

namespace {

// Decodes a body of n samples (timestamps from min_t, ending at max_t; the
// values in coding `how`, exponent k, common factor g) and appends those in
// [mint, maxt] to out. Nothing is appended when the body is damaged.
status decode_body(std::string_view body, size_t n, int64_t min_t, int64_t max_t, uint8_t how_byte, uint8_t k,
                   uint64_t factor, int64_t mint, int64_t maxt, std::vector<sample>& out) {
  // The timestamps of one body, in a buffer each reading thread keeps: a
  // query decodes thousands of bodies one after the other.
  thread_local std::vector<int64_t> ts;
  ts.resize(n);
  ts[0] = min_t;
  size_t at = 0;
  int64_t delta = 0;
  bool sorted = true;
  for (size_t i = 1; i < n; ++i) {
    uint64_t z;
    if (!get_varint(body, at, z)) return corrupt("timestamp " + std::to_string(i) + " runs past the body");
    delta = i == 1 ? unzigzag(z) : delta + unzigzag(z);
    ts[i] = ts[i - 1] + delta;
    sorted &= delta >= 0;
  }
  if (ts[n - 1] != max_t) return corrupt("timestamps do not end at max_t");
  auto how = static_cast<coding>(how_byte);
  const double scale = pow10[k];
  const size_t first = out.size();
  // The samples in [mint, maxt]: with sorted timestamps (every body that is
  // not damaged) those of [lo, hi), written in place through a pointer; a
  // damaged body's in-range samples are appended one by one.
  size_t lo = 0, hi = 0;
  if (sorted) {
    lo = static_cast<size_t>(std::lower_bound(ts.begin(), ts.begin() + n, mint) - ts.begin());
    hi = static_cast<size_t>(std::upper_bound(ts.begin(), ts.begin() + n, maxt) - ts.begin());
    if (hi < lo) hi = lo;
    // Exactly what this body adds (a geometric growth would hold up to
    // twice a large selection's samples at its peak).
    out.reserve(first + (hi - lo));
    out.resize(first + (hi - lo));
  }
  // Steps through the values in order (next(i) reads value i, false when
  // the body ends early, at i); value(i) is the one just read.
  size_t i = 0;
  auto walk = [&](auto&& next, auto&& value) {
    if (sorted) {
      sample* w = out.data() + first;
      for (; i < lo; ++i)
        if (!next(i)) return false;
      for (; i < hi; ++i, ++w) {
        if (!next(i)) return false;
        w->t = ts[i];
        w->v = value(i);
      }
    }
    for (; i < n; ++i) {
      if (!next(i)) return false;
      if (!sorted && ts[i] >= mint && ts[i] <= maxt) out.push_back({ts[i], value(i)});
    }
    return true;
  };
  if (how == xor_words) {
    if (body.size() - at != n * 8) {
      out.resize(first);
      return corrupt("value words do not fill the body");
    }
    uint64_t prev = 0;
    walk(
        [&](size_t j) {
          prev ^= get<uint64_t>(body, at + 8 * j);
          return true;
        },
        [&](size_t) {
          double v;
          std::memcpy(&v, &prev, sizeof v);
          return v;
        });
  } else {
    int64_t m = 0, d = 0;
    auto next = [&](size_t j) {
      uint64_t z;
      if (!get_varint(body, at, z)) return false;
      if (j == 0) m = unzigzag(z);
      else {
        d = how == decimal_dod && j > 1 ? d + unzigzag(z) : unzigzag(z);
        m += d;
      }
      return true;
    };
    auto whole_number = [&](size_t) {
      return static_cast<double>(static_cast<int64_t>(static_cast<uint64_t>(m) * factor));
    };
    // Dividing by 10^0 changes nothing, and a division per sample is
    // a good part of decoding integers (counters, bytes) otherwise.
    bool whole = k == 0 ? walk(next, whole_number) : walk(next, [&](size_t j) { return whole_number(j) / scale; });
    if (!whole) {
      out.resize(first);
      return corrupt("value " + std::to_string(i) + " runs past the body");
    }
    if (at != body.size()) {
      out.resize(first);
      return corrupt("bytes left after the last value");
    }
  }
  return status::ok();
}

}  // namespace

status decode_packed_chunk(std::string_view b, int64_t mint, int64_t maxt, std::vector<sample>& out) {
  auto p = parse(b);
  if (!p) return p.error();
  const packed_header* h = &p->h;
  if (h->max_t < mint || h->min_t > maxt) return status::ok();
  const uint64_t body_size = p->body_size;
  const size_t n = h->count;
  // Every sample takes at least 1 byte of timestamp (but the first) and 1 of value.
  if (body_size < 2 * n - 1 || body_size > n * 20) return corrupt("body length " + std::to_string(body_size));
  std::string body(body_size, '\0');
  auto frame = b.substr(p->frame_at, b.size() - p->frame_at - checksum_size);
  size_t got = codec::detail::zstd_decompress(body.data(), body.size(), frame.data(), frame.size());
  if (ZSTD_isError(got) || got != body_size) return corrupt("body does not decompress");
  return decode_body(body, n, h->min_t, h->max_t, p->coding, p->exponent, p->factor, mint, maxt, out);
}

std::string encode_packed_section(const std::vector<sample>& s) {
  uint8_t how;
  int k;
  uint64_t g;
  std::string body = make_body(s, how, k, g, true);
  std::string out;
  out.push_back(static_cast<char>(how | (k << 2) | (g > 1 ? factor_bit : 0)));
  if (g > 1) put_varint(out, g);
  return out + body;
}

status decode_packed_section(std::string_view section, size_t n, int64_t min_t, int64_t max_t, int64_t mint,
                             int64_t maxt, std::vector<sample>& out) {
  if (n == 0 || section.empty()) return corrupt("empty section");
  const auto how = static_cast<uint8_t>(section[0]);
  if (how & 0x80) return corrupt("coding byte " + std::to_string(how) + " has bit 7 set");
  if ((how & 3) > xor_words) return corrupt("unknown value coding " + std::to_string(how & 3));
  if (((how >> 2) & 0x0F) > max_exponent) return corrupt("decimal exponent " + std::to_string((how >> 2) & 0x0F));
  size_t at = 1;
  uint64_t factor = 1;
  if (how & factor_bit) {
    if (!get_varint(section, at, factor)) return corrupt("common factor cut short");
    if (factor < 2 || factor > (uint64_t{1} << 53) || (how & 3) == xor_words)
      return corrupt("common factor " + std::to_string(factor) + " outside 2..2^53 or with XOR words");
  }
  auto body = section.substr(at);
  if (body.size() < 2 * n - 1 || body.size() > n * 20) return corrupt("body length " + std::to_string(body.size()));
  return decode_body(body, n, min_t, max_t, how & 3, (how >> 2) & 0x0F, factor, mint, maxt, out);
}

}  // namespace strata::persistence

#include "persistence/codec/gorilla.hpp"

namespace strata::persistence {

bool is_packed_chunk(std::string_view bytes) {
  return !bytes.empty() &&
         (static_cast<uint8_t>(bytes[0]) == packed_chunk_format || static_cast<uint8_t>(bytes[0]) == packed_chunk_format_v1);
}

status decode_any_chunk(std::string_view bytes, int64_t mint, int64_t maxt, std::vector<sample>& out) {
  if (is_packed_chunk(bytes)) return decode_packed_chunk(bytes, mint, maxt, out);
  auto c = codec::open_chunk(bytes);
  if (!c) return c.error();
  if (c->max_t() >= mint && c->min_t() <= maxt) c->decode(mint, maxt, out);
  return status::ok();
}

}  // namespace strata::persistence
