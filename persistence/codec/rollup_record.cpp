// encode_buckets / decode of version 2: the rollup record as stored
// (docs/format/rollup.md, "Version 2"). Values are coded as decimals: with
// one exponent k per record every value x becomes the integer m = round(x *
// 10^k), coded as the change from a prediction, and the difference between
// the bits of x and of m / 10^k (0 when x is a short decimal, as most scraped
// values are). The body is byte-aligned varints, zstd-compressed when that
// is smaller. Version 1 (rollup_codec.cpp) stays readable.
#include <xxhash.h>
#include <zstd.h>

#include <cassert>
#include <cmath>
#include <numeric>

#include "persistence/codec/detail/bits.hpp"
#include "persistence/codec/detail/sketch_bins.hpp"
#include "persistence/codec/detail/zstd_context.hpp"
#include "persistence/codec/rollup.hpp"

namespace strata::persistence::codec {
namespace {

using bucket_run = std::vector<std::pair<int64_t, rollup_bucket>>;
using detail::double_bits;

constexpr size_t checksum_size = 4;
constexpr uint8_t flag_starts_in_windows = 1;
constexpr uint8_t flag_consecutive = 2;
constexpr uint8_t flag_compressed = 4;
constexpr uint8_t flag_factor = 8;  // a common factor of every m follows the exponent
constexpr uint8_t known_flags = flag_starts_in_windows | flag_consecutive | flag_compressed | flag_factor;
constexpr int max_exponent = 15;  // 10^15 and below are exact doubles
constexpr uint64_t max_body = 256u << 20;
constexpr int zstd_level = 3;

// The shape byte of a bucket.
constexpr uint8_t min_is_first = 0, min_is_last = 1, min_coded = 2;  // bits 0-1
constexpr unsigned max_shift = 2;                                    // bits 2-3, the same codes for max
constexpr uint8_t increase_coded = 1 << 4;   // else increase = last - first
constexpr uint8_t sketch_bounds_own = 1 << 5;  // else the sketch's min and max are the bucket's
constexpr uint8_t known_shape = 0x3F;

const double pow10[max_exponent + 1] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

status corrupt(std::string cause) { return error(strata_errc::corruption, "rollup record: " + std::move(cause)); }

uint64_t distance(int64_t a, int64_t b) { return static_cast<uint64_t>(b) - static_cast<uint64_t>(a); }
int64_t wrap_sub(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b)); }
int64_t wrap_add(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b)); }

// A value as (m, e): m = round(x * 10^k) when x is finite and |x * 10^k| <=
// 2^53, else 0; e = bits(x) - bits(m / 10^k) modulo 2^64.
struct decimal {
  int64_t m;
  int64_t e;
};

double base_of(int64_t m, int k) { return static_cast<double>(m) / pow10[k]; }

decimal to_decimal(double x, int k) {
  int64_t m = 0;
  double scaled = x * pow10[k];
  if (std::isfinite(scaled) && std::fabs(scaled) <= 9007199254740992.0) m = static_cast<int64_t>(std::nearbyint(scaled));
  return {m, static_cast<int64_t>(double_bits(x) - double_bits(base_of(m, k)))};
}

double from_decimal(int64_t m, int64_t e, int k) {
  return detail::bits_double(double_bits(base_of(m, k)) + static_cast<uint64_t>(e));
}

bool exact_at(double x, int k) {
  if (!std::isfinite(x) || (x == 0 && std::signbit(x))) return false;
  return to_decimal(x, k).e == 0;
}

// The smallest k at which every first and last value is an exact decimal; 0 when there is none.
int choose_exponent(const bucket_run& b) {
  for (int k = 0; k <= max_exponent; ++k) {
    bool all = true;
    for (const auto& e : b) {
      if (!exact_at(e.second.first, k) || !exact_at(e.second.last, k)) {
        all = false;
        break;
      }
    }
    if (all) return k;
  }
  return 0;
}

// The greatest common divisor of every m of the record (byte counts are
// multiples of 1024), or 1.
uint64_t common_factor(const bucket_run& b, int k) {
  uint64_t g = 0;
  for (const auto& [start, x] : b) {
    for (double v : {x.first, x.last, x.min, x.max, x.sum, x.increase}) {
      int64_t m = to_decimal(v, k).m;
      g = std::gcd(g, static_cast<uint64_t>(m < 0 ? -m : m));  // |m| <= 2^53
      if (g == 1) return 1;
    }
  }
  return g == 0 ? 1 : g;
}

// sum's prediction: count times the mean of first and last, in decimal units.
int64_t predict_sum(uint64_t count, int64_t mf, int64_t ml) {
  __int128 p = static_cast<__int128>(mf) + ml;
  p = p * static_cast<__int128>(count) / 2;
  return static_cast<int64_t>(static_cast<uint64_t>(static_cast<unsigned __int128>(p)));
}

bool increase_is_last_minus_first(const rollup_bucket& b) {
  double d = b.last - b.first;
  return !std::isnan(d) && double_bits(d) == double_bits(b.increase);
}

uint8_t extreme_code(double v, const rollup_bucket& b) {
  if (double_bits(v) == double_bits(b.first)) return min_is_first;
  if (double_bits(v) == double_bits(b.last)) return min_is_last;
  return min_coded;
}

// One value column: the corrections e, then the changes of m from their predictions.
struct column {
  std::string e, d;
  void put(const decimal& x, int64_t predicted) {
    detail::put_varint(e, x.e);
    detail::put_varint(d, wrap_sub(x.m, predicted));
  }
  void append_to(std::string& out) const {
    out += e;
    out += d;
  }
};

// A version 2 record without its checksum; the body is zstd-compressed when
// `may_compress` and that is smaller.
std::string encode_v2(int64_t window_ms, const bucket_run& b, bool may_compress) {
  assert(window_ms > 0);
  std::string out;
  out.push_back(static_cast<char>(rollup_format_version));
  detail::put_uvarint(out, static_cast<uint64_t>(window_ms));
  detail::put_uvarint(out, b.size());
  if (!b.empty()) {
    bool in_windows = true;
    for (const auto& [start, bucket] : b) in_windows = in_windows && start % window_ms == 0;
    const int64_t unit = in_windows ? window_ms : 1;
    bool consecutive = true;
    for (size_t i = 1; i < b.size(); ++i) {
      assert(b[i].first > b[i - 1].first);
      consecutive = consecutive && distance(b[i - 1].first, b[i].first) == static_cast<uint64_t>(unit);
    }
    const int k = choose_exponent(b);

    std::string body;
    body.reserve(b.size() * 24);
    detail::put_varint(body, b[0].first / unit);
    if (!consecutive)
      for (size_t i = 1; i < b.size(); ++i)
        detail::put_uvarint(body, distance(b[i - 1].first, b[i].first) / static_cast<uint64_t>(unit) - 1);
    for (const auto& e : b) detail::put_uvarint(body, e.second.count);
    int64_t prev_offset = 0, prev_span = 0;
    for (const auto& [start, bucket] : b) {
      int64_t offset = wrap_sub(bucket.first_t, start);
      detail::put_varint(body, wrap_sub(offset, prev_offset));
      prev_offset = offset;
    }
    for (const auto& e : b) {
      int64_t span = wrap_sub(e.second.last_t, e.second.first_t);
      detail::put_varint(body, wrap_sub(span, prev_span));
      prev_span = span;
    }
    // Columns hold q = m / g; predictions are made in q.
    const uint64_t g = common_factor(b, k);
    auto dec = [&](double v) {
      decimal d = to_decimal(v, k);
      d.m /= static_cast<int64_t>(g);
      return d;
    };
    column first, last, mins, maxs, sums, increases;
    std::string own_bounds;
    int64_t prev_last = 0;
    for (const auto& [start, x] : b) {
      uint8_t shape = extreme_code(x.min, x) | static_cast<uint8_t>(extreme_code(x.max, x) << max_shift);
      decimal f = dec(x.first), l = dec(x.last);
      first.put(f, prev_last);
      last.put(l, f.m);
      prev_last = l.m;
      if ((shape & 3) == min_coded) mins.put(dec(x.min), f.m);
      if ((shape >> max_shift) == min_coded) maxs.put(dec(x.max), f.m);
      sums.put(dec(x.sum), predict_sum(x.count, f.m, l.m));
      if (!increase_is_last_minus_first(x)) {
        shape |= increase_coded;
        increases.put(dec(x.increase), wrap_sub(l.m, f.m));
      }
      if (double_bits(x.sketch.min()) != double_bits(x.min) || double_bits(x.sketch.max()) != double_bits(x.max)) {
        shape |= sketch_bounds_own;
        detail::put_le<uint64_t>(own_bounds, double_bits(x.sketch.min()));
        detail::put_le<uint64_t>(own_bounds, double_bits(x.sketch.max()));
      }
      body.push_back(static_cast<char>(shape));
    }
    for (const column* c : {&first, &last, &mins, &maxs, &sums, &increases}) c->append_to(body);
    body += own_bounds;
    int32_t first_key = 0;
    for (const auto& e : b) detail::sketch_bins::encode(e.second.sketch, body, first_key);

    std::string packed;
    size_t n = 0;
    if (may_compress) {
      packed.resize(ZSTD_compressBound(body.size()));
      n = detail::zstd_compress_small(packed.data(), packed.size(), body.data(), body.size(), zstd_level);
    }
    const bool compress = may_compress && !ZSTD_isError(n) && n < body.size();
    out.push_back(static_cast<char>((in_windows ? flag_starts_in_windows : 0) | (consecutive ? flag_consecutive : 0) |
                                    (compress ? flag_compressed : 0) | (g > 1 ? flag_factor : 0)));
    out.push_back(static_cast<char>(k));
    if (g > 1) detail::put_uvarint(out, g);
    detail::put_uvarint(out, body.size());
    if (compress) out.append(packed.data(), n);
    else out += body;
  }
  return out;
}

}  // namespace

std::string encode_buckets(int64_t window_ms, const bucket_run& b) {
  std::string out = encode_v2(window_ms, b, true);
  detail::put_le<uint32_t>(out, static_cast<uint32_t>(XXH3_64bits(out.data(), out.size())));
  return out;
}

std::string encode_bucket_section(int64_t window_ms, const bucket_run& b) { return encode_v2(window_ms, b, false); }

namespace detail {

// Decodes a version 2 record without its checksum (a record's bytes that
// passed the checksum, or a section of a rollup group).
result<bucket_run> decode_v2_head(std::string_view head, int64_t* window_ms) {
  byte_reader r(head);
  r.advance(1);
  uint64_t window, n;
  if (!r.get_uvarint(window) || window == 0 || window > static_cast<uint64_t>(INT64_MAX))
    return corrupt("bad window length");
  if (!r.get_uvarint(n)) return corrupt("bucket count cut short");
  if (window_ms) *window_ms = static_cast<int64_t>(window);
  if (n == 0) {
    if (r.remaining() != 0) return corrupt("bytes after an empty run");
    return bucket_run{};
  }
  uint8_t flags, k8;
  if (!r.get_u8(flags) || (flags & ~known_flags) != 0) return corrupt("bad flags");
  if (!r.get_u8(k8) || k8 > max_exponent) return corrupt("decimal exponent above 15 or cut short");
  const int k = k8;
  uint64_t g = 1;
  if ((flags & flag_factor) && (!r.get_uvarint(g) || g < 2 || g > (uint64_t{1} << 53)))
    return corrupt("common factor missing, below 2 or above 2^53");
  uint64_t body_size;
  if (!r.get_uvarint(body_size) || body_size > max_body) return corrupt("body length missing or above 256 MiB");
  // Every bucket takes at least four body bytes (count, offset, span, shape).
  if (n > body_size / 4)
    return corrupt(std::to_string(n) + " buckets cannot fit in a body of " + std::to_string(body_size) + " bytes");
  std::string inflated;
  std::string_view body = r.rest();
  if (flags & flag_compressed) {
    unsigned long long size = ZSTD_getFrameContentSize(body.data(), body.size());
    if (size != body_size) return corrupt("compressed body does not declare its length " + std::to_string(body_size));
    inflated.resize(body_size);
    size_t got = detail::zstd_decompress(inflated.data(), inflated.size(), body.data(), body.size());
    if (ZSTD_isError(got) || got != body_size) return corrupt("body does not decompress");
    body = inflated;
  } else if (body.size() != body_size) {
    return corrupt("body of " + std::to_string(body.size()) + " bytes, its length says " + std::to_string(body_size));
  }

  byte_reader br(body);
  bucket_run b(static_cast<size_t>(n));
  const int64_t unit = (flags & flag_starts_in_windows) ? static_cast<int64_t>(window) : 1;
  int64_t first_units;
  if (!br.get_varint(first_units) || __builtin_mul_overflow(first_units, unit, &b[0].first))
    return corrupt("bad first window start");
  for (size_t i = 1; i < b.size(); ++i) {
    uint64_t gap = 0;
    if (!(flags & flag_consecutive) && (!br.get_uvarint(gap) || gap == UINT64_MAX))
      return corrupt("bad window start gap");
    uint64_t step;
    if (__builtin_mul_overflow(gap + 1, static_cast<uint64_t>(unit), &step) ||
        step > distance(b[i - 1].first, INT64_MAX))
      return corrupt("window start " + std::to_string(i) + " overflows");
    b[i].first = static_cast<int64_t>(static_cast<uint64_t>(b[i - 1].first) + step);
  }
  for (auto& e : b)
    if (!br.get_uvarint(e.second.count)) return corrupt("counts cut short");
  int64_t offset = 0, span = 0;
  for (auto& [start, bucket] : b) {
    int64_t d;
    if (!br.get_varint(d)) return corrupt("first timestamps cut short");
    offset = wrap_add(offset, d);
    bucket.first_t = wrap_add(start, offset);
  }
  for (auto& e : b) {
    int64_t d;
    if (!br.get_varint(d)) return corrupt("last timestamps cut short");
    span = wrap_add(span, d);
    e.second.last_t = wrap_add(e.second.first_t, span);
  }
  std::vector<uint8_t> shape(b.size());
  size_t n_min = 0, n_max = 0, n_inc = 0;
  for (auto& s : shape) {
    if (!br.get_u8(s)) return corrupt("shapes cut short");
    if ((s & ~known_shape) != 0 || (s & 3) > min_coded || ((s >> max_shift) & 3) > min_coded)
      return corrupt("bad bucket shape " + std::to_string(s));
    n_min += (s & 3) == min_coded;
    n_max += ((s >> max_shift) & 3) == min_coded;
    n_inc += (s & increase_coded) != 0;
  }
  // A column of `count` values: corrections, then changes.
  auto read_column = [&](size_t count, std::vector<decimal>& col) -> bool {
    col.resize(count);
    for (auto& x : col)
      if (!br.get_varint(x.e)) return false;
    for (auto& x : col)
      if (!br.get_varint(x.m)) return false;  // the change; resolved by the caller
    return true;
  };
  std::vector<decimal> first, last, mins, maxs, sums, incs;
  if (!read_column(b.size(), first) || !read_column(b.size(), last) || !read_column(n_min, mins) ||
      !read_column(n_max, maxs) || !read_column(b.size(), sums) || !read_column(n_inc, incs))
    return corrupt("value columns cut short");
  std::vector<std::pair<double, double>> bounds(b.size());
  size_t i_min = 0, i_max = 0, i_inc = 0;
  int64_t prev_last = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    rollup_bucket& x = b[i].second;
    int64_t mf = wrap_add(prev_last, first[i].m), ml = wrap_add(mf, last[i].m);
    prev_last = ml;
    auto value = [&](int64_t q, int64_t e) {
      return from_decimal(static_cast<int64_t>(static_cast<uint64_t>(q) * g), e, k);
    };
    x.first = value(mf, first[i].e);
    x.last = value(ml, last[i].e);
    auto extreme = [&](uint8_t code, std::vector<decimal>& col, size_t& at) {
      if (code == min_is_first) return x.first;
      if (code == min_is_last) return x.last;
      const decimal& d = col[at++];
      return value(wrap_add(mf, d.m), d.e);
    };
    x.min = extreme(shape[i] & 3, mins, i_min);
    x.max = extreme((shape[i] >> max_shift) & 3, maxs, i_max);
    x.sum = value(wrap_add(predict_sum(x.count, mf, ml), sums[i].m), sums[i].e);
    if (shape[i] & increase_coded) {
      const decimal& d = incs[i_inc++];
      x.increase = value(wrap_add(wrap_sub(ml, mf), d.m), d.e);
    } else {
      x.increase = x.last - x.first;
    }
    if (shape[i] & sketch_bounds_own) {
      double lo, hi;
      if (!br.get_f64(lo) || !br.get_f64(hi)) return corrupt("sketch bounds cut short");
      bounds[i] = {lo, hi};
    } else {
      bounds[i] = {x.min, x.max};
    }
  }
  int32_t first_key = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    std::string cause = sketch_bins::decode(br, first_key, bounds[i].first, bounds[i].second, b[i].second.sketch);
    if (!cause.empty()) return corrupt("sketch of bucket " + std::to_string(i) + ": " + cause);
  }
  if (br.remaining() != 0) return corrupt(std::to_string(br.remaining()) + " bytes after the last sketch");
  return b;
}

// Decodes a version 2 record; `in` passed the length and checksum checks.
result<bucket_run> decode_buckets_v2(std::string_view in, int64_t* window_ms) {
  return decode_v2_head(in.substr(0, in.size() - checksum_size), window_ms);
}

}  // namespace detail

result<bucket_run> decode_bucket_section(std::string_view section, int64_t* window_ms) {
  if (section.empty() || static_cast<uint8_t>(section[0]) != rollup_format_version)
    return corrupt("section does not start with version 2");
  return detail::decode_v2_head(section, window_ms);
}

}  // namespace strata::persistence::codec
