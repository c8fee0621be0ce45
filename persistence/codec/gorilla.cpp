#include "persistence/codec/gorilla.hpp"

#include <xxhash.h>

#include <cassert>
#include <cstdlib>
#include <new>

#include "persistence/codec/detail/bits.hpp"
#include "persistence/codec/detail/gorilla_stream.hpp"

namespace strata::persistence::codec {
namespace {

// Bytes one append may touch past the current byte: a '1111' timestamp (68
// bits) and a new-window value (77 bits), plus the 8 bytes put_bits loads.
constexpr size_t append_slack = 40;

// The buffer size for a stream of `bits` bits: the next of 64, 96, 128, 192,
// 256, 384, ... that leaves append_slack zero bytes after the stream. A pure
// function of the stream length, so the appender need not store its capacity.
size_t capacity_for(uint64_t bits) {
  size_t n = static_cast<size_t>(bits / 8) + append_slack;
  if (n < 64) n = 64;
  size_t p = size_t{1} << (64 - __builtin_clzll(n - 1));  // smallest power of two >= n
  size_t three_quarters = p / 4 * 3;
  return (p >= 128 && n <= three_quarters) ? three_quarters : p;
}

// Writes into the appender's buffer, which always has the room put_bits needs.
struct raw_writer {
  uint8_t* buf;
  uint64_t pos;
  STRATA_CODEC_INLINE void put(uint64_t v, unsigned n) {
    detail::put_bits(buf, pos, v, n);
    pos += n;
  }
};

uint8_t* allocate_zeroed(size_t n) {
  void* p = std::calloc(n, 1);
  if (!p) throw std::bad_alloc();
  return static_cast<uint8_t*>(p);
}

}  // namespace

chunk_appender::chunk_appender(const chunk_appender& o)
    : bits_(o.bits_),
      count_(o.count_),
      leading_(o.leading_),
      trailing_(o.trailing_),
      min_t_(o.min_t_),
      max_t_(o.max_t_),
      delta_(o.delta_),
      last_bits_(o.last_bits_) {
  if (o.buf_) {
    size_t cap = capacity_for(bits_);
    buf_ = allocate_zeroed(cap);
    std::memcpy(buf_, o.buf_, stream_bytes());
  }
}

chunk_appender::chunk_appender(chunk_appender&& o) noexcept
    : buf_(o.buf_),
      bits_(o.bits_),
      count_(o.count_),
      leading_(o.leading_),
      trailing_(o.trailing_),
      min_t_(o.min_t_),
      max_t_(o.max_t_),
      delta_(o.delta_),
      last_bits_(o.last_bits_) {
  o.buf_ = nullptr;
  o.reset();
}

chunk_appender& chunk_appender::operator=(const chunk_appender& o) {
  if (this != &o) *this = chunk_appender(o);
  return *this;
}

chunk_appender& chunk_appender::operator=(chunk_appender&& o) noexcept {
  if (this != &o) {
    std::free(buf_);
    buf_ = o.buf_;
    bits_ = o.bits_;
    count_ = o.count_;
    leading_ = o.leading_;
    trailing_ = o.trailing_;
    min_t_ = o.min_t_;
    max_t_ = o.max_t_;
    delta_ = o.delta_;
    last_bits_ = o.last_bits_;
    o.buf_ = nullptr;
    o.reset();
  }
  return *this;
}

chunk_appender::~chunk_appender() { std::free(buf_); }

void chunk_appender::reset() {
  std::free(buf_);
  buf_ = nullptr;
  bits_ = 0;
  count_ = 0;
  leading_ = detail::xor_window::none;
  trailing_ = 0;
  min_t_ = max_t_ = 0;
  delta_ = 0;
  last_bits_ = 0;
}

void chunk_appender::grow(size_t old_capacity) {
  size_t cap = capacity_for(bits_);
  if (cap == old_capacity) return;
  void* p = std::realloc(buf_, cap);
  if (!p) throw std::bad_alloc();
  buf_ = static_cast<uint8_t*>(p);
  std::memset(buf_ + old_capacity, 0, cap - old_capacity);
}

void chunk_appender::append(int64_t t, double v) {
  assert(count_ < chunk_max_samples);
  assert(count_ == 0 || t > max_t_);
  if (!buf_) buf_ = allocate_zeroed(capacity_for(0));
  size_t old_capacity = capacity_for(bits_);
  uint64_t vb = detail::double_bits(v);
  raw_writer w{buf_, bits_};
  if (count_ == 0) {
    min_t_ = max_t_ = t;
    delta_ = 0;
    w.put(vb, 64);
  } else {
    uint64_t delta = static_cast<uint64_t>(t) - static_cast<uint64_t>(max_t_);
    detail::put_dod(w, delta - delta_);
    delta_ = delta;
    max_t_ = t;
    detail::xor_window win{leading_, trailing_};
    detail::put_xor(w, vb ^ last_bits_, win);
    leading_ = win.leading;
    trailing_ = win.trailing;
  }
  last_bits_ = vb;
  ++count_;
  bits_ = static_cast<uint32_t>(w.pos);
  grow(old_capacity);
}

double chunk_appender::last_value() const {
  assert(count_ > 0);
  return detail::bits_double(last_bits_);
}

std::string chunk_appender::seal() const {
  std::string out;
  out.reserve(size_bytes());
  out.push_back(static_cast<char>(chunk_format_version));
  detail::put_le<uint16_t>(out, count_);
  detail::put_le<int64_t>(out, min_t_);
  detail::put_le<int64_t>(out, max_t_);
  if (buf_) out.append(reinterpret_cast<const char*>(buf_), stream_bytes());
  detail::put_le<uint32_t>(out, static_cast<uint32_t>(XXH3_64bits(out.data(), out.size())));
  return out;
}

chunk_iterator chunk_appender::iterator() const {
  // The zero slack after the stream lets the reader load whole words to the end.
  return chunk_iterator(buf_, buf_ ? capacity_for(bits_) : 0, count_, min_t_);
}

}  // namespace strata::persistence::codec
