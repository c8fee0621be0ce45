// Reading Gorilla chunks: chunk_iterator, chunk_view and open_chunk.
#include <xxhash.h>

#include <cstdio>

#include "persistence/codec/detail/bits.hpp"
#include "persistence/codec/detail/gorilla_stream.hpp"
#include "persistence/codec/gorilla.hpp"

namespace strata::persistence::codec {
namespace {

std::string hex32(uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

status corrupt(std::string cause) { return error(strata_errc::corruption, "chunk: " + std::move(cause)); }

const uint8_t* bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace

bool chunk_iterator::next() {
  if (remaining_ == 0) return false;
  detail::bit_reader r(data_, size_, pos_);
  detail::stream_state s{t_, delta_, value_bits_, {leading_, trailing_}};
  if (started_) {
    detail::get_next(r, s);
  } else {
    detail::get_first(r, s);
    started_ = true;
  }
  pos_ = r.position();
  t_ = s.t;
  delta_ = s.delta;
  value_bits_ = s.value_bits;
  leading_ = s.win.leading;
  trailing_ = s.win.trailing;
  --remaining_;
  return true;
}

// The stream of an opened chunk is followed by its 4-byte checksum inside the
// caller's buffer; readers may load those bytes (a checked stream never
// consumes them), which keeps every word load on the fast path.
chunk_iterator chunk_view::iterator() const {
  return chunk_iterator(bytes(stream_), stream_.size() + chunk_checksum_size, count_, min_t_);
}

void chunk_view::decode(int64_t mint, int64_t maxt, std::vector<sample>& out) const {
  if (count_ == 0 || maxt < min_t_ || mint > max_t_) return;
  detail::bit_reader r(bytes(stream_), stream_.size() + chunk_checksum_size);
  detail::stream_state s;
  s.t = min_t_;
  detail::get_first(r, s);
  if (mint <= min_t_ && maxt >= max_t_) {
    size_t base = out.size();
    out.resize(base + count_);
    sample* p = out.data() + base;
    p[0] = {s.t, detail::bits_double(s.value_bits)};
    for (size_t i = 1; i < count_; ++i) {
      detail::get_next(r, s);
      p[i] = {s.t, detail::bits_double(s.value_bits)};
    }
    return;
  }
  for (size_t i = 0;;) {
    if (s.t > maxt) return;
    if (s.t >= mint) out.push_back({s.t, detail::bits_double(s.value_bits)});
    if (++i == count_) return;
    detail::get_next(r, s);
  }
}

result<chunk_view> open_chunk(std::string_view sealed) {
  constexpr size_t overhead = chunk_header_size + chunk_checksum_size;
  if (sealed.size() < overhead)
    return corrupt(std::to_string(sealed.size()) + " bytes is shorter than its " + std::to_string(overhead) +
                   "-byte header and checksum");
  auto version = static_cast<uint8_t>(sealed[0]);
  if (version != chunk_format_version) return corrupt("unknown version " + std::to_string(version));
  auto stored = detail::get_le<uint32_t>(sealed.data() + sealed.size() - chunk_checksum_size);
  auto computed = static_cast<uint32_t>(XXH3_64bits(sealed.data(), sealed.size() - chunk_checksum_size));
  if (stored != computed)
    return corrupt("checksum mismatch: stored " + hex32(stored) + ", computed " + hex32(computed));

  chunk_view v;
  v.count_ = detail::get_le<uint16_t>(sealed.data() + 1);
  v.min_t_ = detail::get_le<int64_t>(sealed.data() + 3);
  v.max_t_ = detail::get_le<int64_t>(sealed.data() + 11);
  v.stream_ = sealed.substr(chunk_header_size, sealed.size() - overhead);
  if (v.count_ == 0) {
    if (!v.stream_.empty()) return corrupt("0 samples but " + std::to_string(v.stream_.size()) + " stream bytes");
    return v;
  }
  if (v.min_t_ > v.max_t_)
    return corrupt("min_t " + std::to_string(v.min_t_) + " is after max_t " + std::to_string(v.max_t_));

  detail::bit_reader r(bytes(v.stream_), v.stream_.size());
  detail::stream_state s;
  s.t = v.min_t_;
  detail::get_first(r, s);
  for (size_t i = 1; i < v.count_ && r.ok(); ++i) {
    int64_t prev = s.t;
    detail::get_next(r, s);
    if (r.ok() && s.t <= prev)
      return corrupt("sample " + std::to_string(i) + " has timestamp " + std::to_string(s.t) + " after " +
                     std::to_string(prev));
  }
  if (r.overrun())
    return corrupt("the " + std::to_string(v.stream_.size()) + "-byte stream ends before sample " +
                   std::to_string(v.count_) + " of the count");
  if (!r.ok()) return corrupt("malformed value in the stream");
  if (s.t != v.max_t_)
    return corrupt("last timestamp " + std::to_string(s.t) + " but max_t " + std::to_string(v.max_t_));
  uint64_t used_bits = r.position();
  if ((used_bits + 7) / 8 != v.stream_.size())
    return corrupt(std::to_string(v.stream_.size() - (used_bits + 7) / 8) + " stream bytes after the last sample");
  if (used_bits % 8 != 0 && r.read(static_cast<unsigned>(8 - used_bits % 8)) != 0)
    return corrupt("non-zero padding after the last sample");
  return v;
}

}  // namespace strata::persistence::codec
