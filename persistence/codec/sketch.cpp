#include "persistence/codec/sketch.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "persistence/codec/detail/bits.hpp"
#include "persistence/codec/detail/sketch_bins.hpp"

namespace strata::persistence::codec {
namespace {

constexpr double kgamma = (1 + quantile_sketch::relative_accuracy) / (1 - quantile_sketch::relative_accuracy);
const double log_gamma = std::log(kgamma);
const double inv_log_gamma = 1 / log_gamma;
// ln((gamma + 1) / 2): a bin answers gamma^i * 2 / (gamma + 1)
const double log_half_gamma_plus_one = std::log((kgamma + 1) / 2);
// Bin indexes of the smallest and largest positive finite doubles.
const int32_t min_index =
    static_cast<int32_t>(std::ceil(std::log(std::numeric_limits<double>::denorm_min()) * inv_log_gamma));
const int32_t max_index = static_cast<int32_t>(std::ceil(std::log(std::numeric_limits<double>::max()) * inv_log_gamma));

// Most bins an encoding can hold: two full stores, zero, +Inf, -Inf.
constexpr uint64_t max_bins = 2 * quantile_sketch::max_bins_per_store + 3;

status corrupt(std::string cause) { return error(strata_errc::corruption, "sketch: " + std::move(cause)); }

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

int32_t quantile_sketch::key_of(double v) {
  if (v == 0) return 0;
  if (std::isinf(v)) return v > 0 ? inf_key : -inf_key;
  auto index = static_cast<int32_t>(std::ceil(std::log(std::fabs(v)) * inv_log_gamma));
  return v > 0 ? index_offset + index : -(index_offset + index);
}

double quantile_sketch::value_of(int32_t key) {
  if (key == 0) return 0;
  if (key == inf_key) return std::numeric_limits<double>::infinity();
  if (key == -inf_key) return -std::numeric_limits<double>::infinity();
  int32_t index = (key > 0 ? key : -key) - index_offset;
  double m = std::exp(index * log_gamma - log_half_gamma_plus_one);
  return key > 0 ? m : -m;
}

bool quantile_sketch::valid_key(int64_t key) {
  if (key == 0 || key == inf_key || key == -inf_key) return true;
  int64_t index = (key > 0 ? key : -key) - index_offset;
  return index >= min_index && index <= max_index;
}

void quantile_sketch::add(double v) {
  if (std::isnan(v)) return;
  int32_t key = key_of(v);
  ++count_;
  if (v < min_) min_ = v;
  if (v > max_) max_ = v;
  auto it = std::lower_bound(bins_.begin(), bins_.end(), key, [](const bin& b, int32_t k) { return b.key < k; });
  if (it != bins_.end() && it->key == key) {
    ++it->count;
    return;
  }
  bins_.insert(it, bin{key, 1});
  if (key > 0 && key < inf_key) {
    collapse_positive();
  } else if (key < 0 && key > -inf_key) {
    collapse_negative();
  }
}

void quantile_sketch::collapse_positive() {
  auto lo = std::partition_point(bins_.begin(), bins_.end(), [](const bin& b) { return b.key <= 0; });
  auto hi = std::partition_point(lo, bins_.end(), [](const bin& b) { return b.key < inf_key; });
  if (lo == hi) return;
  int32_t floor = (hi - 1)->key - static_cast<int32_t>(max_bins_per_store - 1);
  if (lo->key >= floor) return;
  auto p = std::partition_point(lo, hi, [floor](const bin& b) { return b.key < floor; });
  uint64_t moved = 0;
  for (auto it = lo; it != p; ++it) moved += it->count;
  if (p != hi && p->key == floor) {
    p->count += moved;
    bins_.erase(lo, p);
  } else {
    *lo = bin{floor, moved};
    bins_.erase(lo + 1, p);
  }
}

void quantile_sketch::collapse_negative() {
  auto lo = std::partition_point(bins_.begin(), bins_.end(), [](const bin& b) { return b.key <= -inf_key; });
  auto hi = std::partition_point(lo, bins_.end(), [](const bin& b) { return b.key < 0; });
  if (lo == hi) return;
  // The largest magnitude has the lowest key; the smallest magnitudes kept
  // have keys up to `ceiling`.
  int32_t ceiling = lo->key + static_cast<int32_t>(max_bins_per_store - 1);
  if ((hi - 1)->key <= ceiling) return;
  auto p = std::partition_point(lo, hi, [ceiling](const bin& b) { return b.key <= ceiling; });
  uint64_t moved = 0;
  for (auto it = p; it != hi; ++it) moved += it->count;
  if ((p - 1)->key == ceiling) {
    (p - 1)->count += moved;
    bins_.erase(p, hi);
  } else {
    *p = bin{ceiling, moved};
    bins_.erase(p + 1, hi);
  }
}

void quantile_sketch::merge(const quantile_sketch& o) {
  if (&o == this) {
    const quantile_sketch copy = o;  // NOLINT(performance-unnecessary-copy-initialization): o is *this
    merge(copy);
    return;
  }
  if (o.count_ == 0) return;
  std::vector<bin> merged;
  merged.reserve(bins_.size() + o.bins_.size());
  auto a = bins_.begin();
  auto b = o.bins_.begin();
  while (a != bins_.end() && b != o.bins_.end()) {
    if (a->key < b->key) {
      merged.push_back(*a++);
    } else if (b->key < a->key) {
      merged.push_back(*b++);
    } else {
      merged.push_back(bin{a->key, a->count + b->count});
      ++a;
      ++b;
    }
  }
  merged.insert(merged.end(), a, bins_.end());
  merged.insert(merged.end(), b, o.bins_.end());
  bins_ = std::move(merged);
  count_ += o.count_;
  if (o.min_ < min_) min_ = o.min_;
  if (o.max_ > max_) max_ = o.max_;
  collapse_positive();
  collapse_negative();
}

double quantile_sketch::quantile(double q) const {
  if (count_ == 0 || std::isnan(q)) return std::numeric_limits<double>::quiet_NaN();
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  if (q == 0) return min_;
  if (q == 1) return max_;
  double r = std::ceil(q * static_cast<double>(count_));
  uint64_t rank = r < 1 ? 1 : (r >= static_cast<double>(count_) ? count_ : static_cast<uint64_t>(r));
  uint64_t seen = 0;
  for (const bin& b : bins_) {
    seen += b.count;
    if (seen >= rank) return std::min(std::max(value_of(b.key), min_), max_);
  }
  return max_;
}

bool operator==(const quantile_sketch& a, const quantile_sketch& b) {
  if (a.count_ != b.count_ || a.bins_.size() != b.bins_.size() ||
      detail::double_bits(a.min_) != detail::double_bits(b.min_) ||
      detail::double_bits(a.max_) != detail::double_bits(b.max_))
    return false;
  for (size_t i = 0; i < a.bins_.size(); ++i)
    if (a.bins_[i].key != b.bins_[i].key || a.bins_[i].count != b.bins_[i].count) return false;
  return true;
}

// ---- encoding ----

namespace {

// Bins after the count, one varint each, (k << 1) | (count > 1), followed by
// the varint count - 2 when count > 1. k is the first key relative to `base`
// (zigzag) for the first bin, the gap to the previous key minus 1 after it.
template <class Bins>
void put_bins(std::string& out, const Bins& bins, int32_t base) {
  int32_t prev = 0;
  for (size_t i = 0; i < bins.size(); ++i) {
    uint64_t k = i == 0 ? detail::zigzag(static_cast<int64_t>(bins[i].key) - base)
                        : static_cast<uint64_t>(static_cast<int64_t>(bins[i].key) - prev - 1);
    bool more = bins[i].count > 1;
    detail::put_uvarint(out, (k << 1) | (more ? 1 : 0));
    if (more) detail::put_uvarint(out, bins[i].count - 2);
    prev = bins[i].key;
  }
}

}  // namespace

void quantile_sketch::encode(std::string& out) const {
  out.push_back(static_cast<char>(format_version));
  detail::put_uvarint(out, bins_.size());
  if (bins_.empty()) return;
  detail::put_le<uint64_t>(out, detail::double_bits(min_));
  detail::put_le<uint64_t>(out, detail::double_bits(max_));
  put_bins(out, bins_, 0);
}

void detail::sketch_bins::encode(const quantile_sketch& s, std::string& out, int32_t& prev_first_key) {
  put_uvarint(out, s.bins_.size());
  if (s.bins_.empty()) return;
  put_bins(out, s.bins_, prev_first_key);
  prev_first_key = s.bins_.front().key;
}

std::string detail::sketch_bins::decode(byte_reader& in, int32_t& prev_first_key, double min, double max,
                                        quantile_sketch& s) {
  uint64_t n;
  if (!in.get_uvarint(n)) return "bin count cut short";
  return read(in, n, prev_first_key, min, max, s);
}

std::string detail::sketch_bins::read(byte_reader& in, uint64_t n, int32_t& prev_first_key, double min, double max,
                                      quantile_sketch& s) {
  using bin = quantile_sketch::bin;
  // Every bin takes at least one byte.
  if (n > max_bins || n > in.remaining()) return std::to_string(n) + " bins cannot be there";
  s = quantile_sketch();
  if (n == 0) {
    if (!(std::isinf(min) && min > 0 && std::isinf(max) && max < 0))
      return "no bins but min " + num(min) + " and max " + num(max);
    return "";
  }
  if (std::isnan(min) || std::isnan(max) || min > max)
    return "min " + num(min) + " and max " + num(max) + " do not bound values";
  s.bins_.reserve(static_cast<size_t>(n));
  int64_t key = 0;
  uint64_t total = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t h;
    if (!in.get_uvarint(h)) return "bin " + std::to_string(i) + " cut short";
    uint64_t k = h >> 1;
    if (i == 0) {
      int64_t d = detail::unzigzag(k);
      if (d < -(int64_t{1} << 32) || d > (int64_t{1} << 32)) return "bad first bin key";
      key = prev_first_key + d;
    } else {
      if (k >= (uint64_t{1} << 32)) return "bad bin key gap";
      key += static_cast<int64_t>(k) + 1;
    }
    if (!quantile_sketch::valid_key(key)) return "bin key " + std::to_string(key) + " is out of range";
    uint64_t count = 1;
    if (h & 1) {
      if (!in.get_uvarint(count) || count > UINT64_MAX - 2) return "bad bin count";
      count += 2;
    }
    if (__builtin_add_overflow(total, count, &total)) return "bin counts overflow";
    s.bins_.push_back(bin{static_cast<int32_t>(key), count});
  }
  auto span_ok = [&](auto in_store) {
    int64_t lo = 0, hi = 0;
    bool any = false;
    for (const bin& b : s.bins_) {
      if (!in_store(b.key)) continue;
      if (!any) lo = b.key;
      hi = b.key;
      any = true;
    }
    return !any || hi - lo < static_cast<int64_t>(quantile_sketch::max_bins_per_store);
  };
  if (!span_ok([](int32_t k) { return k > 0 && k < quantile_sketch::inf_key; }) ||
      !span_ok([](int32_t k) { return k < 0 && k > -quantile_sketch::inf_key; }))
    return "a store spans more than " + std::to_string(quantile_sketch::max_bins_per_store) + " bins";
  if (quantile_sketch::key_of(min) > s.bins_.front().key || quantile_sketch::key_of(max) < s.bins_.back().key)
    return "min " + num(min) + " or max " + num(max) + " lies outside the bins";
  s.count_ = total;
  s.min_ = min;
  s.max_ = max;
  prev_first_key = s.bins_.front().key;
  return "";
}

result<quantile_sketch> quantile_sketch::decode(std::string_view in) {
  detail::byte_reader r(in);
  uint8_t version;
  if (!r.get_u8(version)) return corrupt("empty input");
  if (version != format_version) return corrupt("unknown version " + std::to_string(version));
  uint64_t n;
  if (!r.get_uvarint(n)) return corrupt("bin count cut short");
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  if (n > 0 && (!r.get_f64(min) || !r.get_f64(max))) return corrupt("min and max cut short");
  quantile_sketch s;
  int32_t base = 0;
  std::string cause = detail::sketch_bins::read(r, n, base, min, max, s);
  if (!cause.empty()) return corrupt(cause);
  if (r.remaining() != 0) return corrupt(std::to_string(r.remaining()) + " bytes after the last bin");
  return s;
}

}  // namespace strata::persistence::codec
