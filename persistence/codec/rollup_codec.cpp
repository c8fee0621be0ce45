// encode_buckets_v1 / decode_buckets: the rollup record of version 1, and the
// version dispatch of decode_buckets (docs/format/rollup.md).
#include <xxhash.h>

#include <cassert>
#include <cmath>
#include <cstdio>

#include "persistence/codec/detail/bits.hpp"
#include "persistence/codec/detail/sketch_bins.hpp"
#include "persistence/codec/detail/xor_coder.hpp"
#include "persistence/codec/rollup.hpp"

namespace strata::persistence::codec {
namespace detail {
result<std::vector<std::pair<int64_t, rollup_bucket>>> decode_buckets_v2(std::string_view in, int64_t* window_ms);
}  // namespace detail
namespace {

using bucket_run = std::vector<std::pair<int64_t, rollup_bucket>>;
using detail::double_bits;

constexpr size_t checksum_size = 4;
constexpr uint8_t flag_starts_in_windows = 1;  // starts are multiples of window_ms: coded in windows
constexpr uint8_t flag_consecutive = 2;        // every start is the previous + one unit: no gaps stored
constexpr uint8_t known_flags = flag_starts_in_windows | flag_consecutive;

std::string hex32(uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

status corrupt(std::string cause) { return error(strata_errc::corruption, "rollup record: " + std::move(cause)); }

// The distance from a to b; REQUIRES: a <= b (it may exceed INT64_MAX).
uint64_t distance(int64_t a, int64_t b) { return static_cast<uint64_t>(b) - static_cast<uint64_t>(a); }

int64_t wrap_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t wrap_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// The increase a bucket would have with no reset, when it is a number; the
// increase column stores a single bit when they agree. A NaN never agrees: its
// payload after a subtraction differs between CPUs.
bool increase_is_last_minus_first(const rollup_bucket& b) {
  double d = b.last - b.first;
  return !std::isnan(d) && double_bits(d) == double_bits(b.increase);
}

// min and max: '0' equal to first, '10' equal to last, '11' + XOR with first.
void put_extreme(detail::string_bit_writer& w, double v, const rollup_bucket& b, detail::xor_window& win) {
  if (double_bits(v) == double_bits(b.first)) {
    w.put(0, 1);
  } else if (double_bits(v) == double_bits(b.last)) {
    w.put(0b10, 2);
  } else {
    w.put(0b11, 2);
    detail::put_xor(w, double_bits(v) ^ double_bits(b.first), win);
  }
}

double get_extreme(detail::bit_reader& r, const rollup_bucket& b, detail::xor_window& win) {
  if (r.read(1) == 0) return b.first;
  if (r.read(1) == 0) return b.last;
  return detail::bits_double(detail::get_xor(r, win) ^ double_bits(b.first));
}

bool sketch_bounds_are_bucket_bounds(const rollup_bucket& b) {
  return double_bits(b.sketch.min()) == double_bits(b.min) && double_bits(b.sketch.max()) == double_bits(b.max);
}

}  // namespace

std::string encode_buckets_v1(int64_t window_ms, const bucket_run& b) {
  assert(window_ms > 0);
  std::string out;
  out.reserve(16 + b.size() * 24);
  out.push_back(static_cast<char>(rollup_format_v1));
  detail::put_uvarint(out, static_cast<uint64_t>(window_ms));
  detail::put_uvarint(out, b.size());
  if (!b.empty()) {
    bool in_windows = true;
    for (const auto& [start, bucket] : b) in_windows = in_windows && start % window_ms == 0;
    int64_t unit = in_windows ? window_ms : 1;
    bool consecutive = true;
    for (size_t i = 1; i < b.size(); ++i) {
      assert(b[i].first > b[i - 1].first);
      consecutive = consecutive && distance(b[i - 1].first, b[i].first) == static_cast<uint64_t>(unit);
    }
    out.push_back(static_cast<char>((in_windows ? flag_starts_in_windows : 0) | (consecutive ? flag_consecutive : 0)));

    // starts
    detail::put_varint(out, b[0].first / unit);
    if (!consecutive)
      for (size_t i = 1; i < b.size(); ++i)
        detail::put_uvarint(out, distance(b[i - 1].first, b[i].first) / static_cast<uint64_t>(unit) - 1);
    // counts
    for (const auto& e : b) detail::put_uvarint(out, e.second.count);
    // times: first_t - start and last_t - first_t, each as the change from the previous bucket
    int64_t prev_offset = 0;
    for (const auto& [start, bucket] : b) {
      int64_t offset = wrap_sub(bucket.first_t, start);
      detail::put_varint(out, wrap_sub(offset, prev_offset));
      prev_offset = offset;
    }
    int64_t prev_span = 0;
    for (const auto& e : b) {
      int64_t span = wrap_sub(e.second.last_t, e.second.first_t);
      detail::put_varint(out, wrap_sub(span, prev_span));
      prev_span = span;
    }

    // values: one bit stream, column after column
    detail::string_bit_writer w(out);
    detail::xor_window win;
    uint64_t ref = 0;
    for (const auto& e : b) {  // first, XOR with the previous bucket's last
      detail::put_xor(w, double_bits(e.second.first) ^ ref, win);
      ref = double_bits(e.second.last);
    }
    win = {};
    for (const auto& e : b) detail::put_xor(w, double_bits(e.second.last) ^ double_bits(e.second.first), win);
    win = {};
    for (const auto& e : b) put_extreme(w, e.second.min, e.second, win);
    win = {};
    for (const auto& e : b) put_extreme(w, e.second.max, e.second, win);
    win = {};
    ref = 0;
    for (const auto& e : b) {  // sum, XOR with the previous bucket's sum
      detail::put_xor(w, double_bits(e.second.sum) ^ ref, win);
      ref = double_bits(e.second.sum);
    }
    win = {};
    ref = 0;
    for (const auto& e : b) {  // increase: '0' last - first, or '1' + XOR with the previous bucket's increase
      if (increase_is_last_minus_first(e.second)) {
        w.put(0, 1);
      } else {
        w.put(1, 1);
        detail::put_xor(w, double_bits(e.second.increase) ^ ref, win);
      }
      ref = double_bits(e.second.increase);
    }
    for (const auto& e : b) {  // sketch bounds: '0' the bucket's min and max, '1' + both raw
      if (sketch_bounds_are_bucket_bounds(e.second)) {
        w.put(0, 1);
      } else {
        w.put(1, 1);
        w.put(double_bits(e.second.sketch.min()), 64);
        w.put(double_bits(e.second.sketch.max()), 64);
      }
    }
    w.finish();

    // sketches
    int32_t first_key = 0;
    for (const auto& e : b) detail::sketch_bins::encode(e.second.sketch, out, first_key);
  }
  detail::put_le<uint32_t>(out, static_cast<uint32_t>(XXH3_64bits(out.data(), out.size())));
  return out;
}

result<bucket_run> decode_buckets(std::string_view in, int64_t* window_ms) {
  if (in.size() < 1 + checksum_size)
    return corrupt(std::to_string(in.size()) + " bytes is shorter than a version and a checksum");
  auto version = static_cast<uint8_t>(in[0]);
  if (version != rollup_format_v1 && version != rollup_format_version)
    return corrupt("unknown version " + std::to_string(version));
  std::string_view body = in.substr(0, in.size() - checksum_size);
  auto stored = detail::get_le<uint32_t>(in.data() + body.size());
  auto computed = static_cast<uint32_t>(XXH3_64bits(body.data(), body.size()));
  if (stored != computed)
    return corrupt("checksum mismatch: stored " + hex32(stored) + ", computed " + hex32(computed));
  if (version == rollup_format_version) return detail::decode_buckets_v2(in, window_ms);

  detail::byte_reader r(body);
  r.advance(1);
  uint64_t window, n;
  if (!r.get_uvarint(window) || window == 0 || window > static_cast<uint64_t>(INT64_MAX))
    return corrupt("bad window length");
  if (!r.get_uvarint(n)) return corrupt("bucket count cut short");
  // Every bucket takes at least three bytes (count, offset, span).
  if (n > r.remaining() / 3)
    return corrupt(std::to_string(n) + " buckets cannot fit in " + std::to_string(body.size()) + " bytes");
  if (window_ms) *window_ms = static_cast<int64_t>(window);
  bucket_run b(static_cast<size_t>(n));
  if (n == 0) {
    if (r.remaining() != 0) return corrupt("bytes after an empty run");
    return b;
  }

  uint8_t flags;
  if (!r.get_u8(flags) || (flags & ~known_flags) != 0) return corrupt("bad flags");
  int64_t unit = (flags & flag_starts_in_windows) ? static_cast<int64_t>(window) : 1;
  int64_t first_units;
  if (!r.get_varint(first_units) || __builtin_mul_overflow(first_units, unit, &b[0].first))
    return corrupt("bad first window start");
  for (size_t i = 1; i < b.size(); ++i) {
    uint64_t gap = 0;
    if (!(flags & flag_consecutive) && (!r.get_uvarint(gap) || gap == UINT64_MAX))
      return corrupt("bad window start gap");
    uint64_t step;
    if (__builtin_mul_overflow(gap + 1, static_cast<uint64_t>(unit), &step) ||
        step > distance(b[i - 1].first, INT64_MAX))
      return corrupt("window start " + std::to_string(i) + " overflows");
    b[i].first = static_cast<int64_t>(static_cast<uint64_t>(b[i - 1].first) + step);
  }
  for (auto& e : b)
    if (!r.get_uvarint(e.second.count)) return corrupt("counts cut short");
  int64_t offset = 0;
  for (auto& [start, bucket] : b) {
    int64_t d;
    if (!r.get_varint(d)) return corrupt("first timestamps cut short");
    offset = wrap_add(offset, d);
    bucket.first_t = wrap_add(start, offset);
  }
  int64_t span = 0;
  for (auto& e : b) {
    int64_t d;
    if (!r.get_varint(d)) return corrupt("last timestamps cut short");
    span = wrap_add(span, d);
    e.second.last_t = wrap_add(e.second.first_t, span);
  }

  std::string_view rest = r.rest();
  detail::bit_reader br(reinterpret_cast<const uint8_t*>(rest.data()), rest.size());
  // first is XOR-coded against the previous bucket's last and last against its
  // own first: read both columns, then resolve them in bucket order.
  std::vector<uint64_t> first_x(b.size());
  detail::xor_window win;
  for (auto& x : first_x) x = detail::get_xor(br, win);
  win = {};
  uint64_t ref = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    rollup_bucket& e = b[i].second;
    uint64_t first = first_x[i] ^ ref;
    e.first = detail::bits_double(first);
    ref = detail::get_xor(br, win) ^ first;
    e.last = detail::bits_double(ref);
  }
  win = {};
  for (auto& e : b) e.second.min = get_extreme(br, e.second, win);
  win = {};
  for (auto& e : b) e.second.max = get_extreme(br, e.second, win);
  win = {};
  ref = 0;
  for (auto& e : b) {
    ref ^= detail::get_xor(br, win);
    e.second.sum = detail::bits_double(ref);
  }
  win = {};
  ref = 0;
  for (auto& e : b) {
    if (br.read(1) == 0) {
      e.second.increase = e.second.last - e.second.first;
    } else {
      e.second.increase = detail::bits_double(detail::get_xor(br, win) ^ ref);
    }
    ref = double_bits(e.second.increase);
  }
  std::vector<std::pair<double, double>> sketch_bounds(b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    if (br.read(1) == 0) {
      sketch_bounds[i] = {b[i].second.min, b[i].second.max};
    } else {
      double lo = detail::bits_double(br.read_long(64));
      double hi = detail::bits_double(br.read_long(64));
      sketch_bounds[i] = {lo, hi};
    }
    if (!br.ok()) break;
  }
  if (!br.ok()) return corrupt("value columns malformed or cut short");
  uint64_t used_bits = br.position();
  if (used_bits % 8 != 0 && br.read(static_cast<unsigned>(8 - used_bits % 8)) != 0)
    return corrupt("non-zero padding after the value columns");
  r.advance(static_cast<size_t>((used_bits + 7) / 8));

  int32_t first_key = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    std::string cause =
        detail::sketch_bins::decode(r, first_key, sketch_bounds[i].first, sketch_bounds[i].second, b[i].second.sketch);
    if (!cause.empty()) return corrupt("sketch of bucket " + std::to_string(i) + ": " + cause);
  }
  if (r.remaining() != 0) return corrupt(std::to_string(r.remaining()) + " bytes after the last sketch");
  return b;
}

}  // namespace strata::persistence::codec
