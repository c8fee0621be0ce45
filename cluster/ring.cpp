#include "cluster/ring.hpp"

#include "persistence/codec/detail/bits.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace strata::cluster {
namespace {

uint64_t score(const std::string& member, uint32_t p) {
  std::string key = member;
  key += '\n';
  key += std::to_string(p);
  return XXH3_64bits(key.data(), key.size());
}

constexpr char magic[4] = {'S', 'E', 'P', 'H'};
constexpr uint8_t version = 1;

using persistence::codec::detail::byte_reader;
using persistence::codec::detail::put_le;

status corrupt(const std::string& what) { return error(strata_errc::corruption, "epoch history: " + what); }

}  // namespace

std::vector<std::string> owners(const std::vector<std::string>& members, uint32_t p, uint32_t rf) {
  std::vector<std::pair<uint64_t, const std::string*>> scored;
  scored.reserve(members.size());
  for (const auto& m : members) scored.emplace_back(score(m, p), &m);
  size_t n = std::min<size_t>(rf, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(n), scored.end(),
                    [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : *a.second < *b.second; });
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(*scored[i].second);
  return out;
}

status check_replication_factor(int64_t rf) {
  if (rf < 1 || rf > 5)
    return error(strata_errc::bad_request, "--replication-factor must be 1 to 5 (got " + std::to_string(rf) +
                                               "); 3 survives the loss of any one node");
  return status::ok();
}

void epoch_history::insert(epoch e) {
  auto at = std::upper_bound(epochs_.begin(), epochs_.end(), e.start_ms,
                             [](int64_t t, const epoch& x) { return t < x.start_ms; });
  epochs_.insert(at, std::move(e));
  // Drop an epoch that repeats the ownership of the one before it.
  std::vector<epoch> kept;
  kept.reserve(epochs_.size());
  for (auto& x : epochs_)
    if (kept.empty() || kept.back().rf != x.rf || kept.back().members != x.members) kept.push_back(std::move(x));
  epochs_ = std::move(kept);
  if (epochs_.size() > max_epochs) epochs_.erase(epochs_.begin(), epochs_.end() - static_cast<std::ptrdiff_t>(max_epochs));
}

bool epoch_history::advance(std::vector<std::string> members, uint32_t rf, int64_t now_ms) {
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  if (!epochs_.empty() && current_.rf == rf && current_.members == members) return false;
  if (!epochs_.empty()) now_ms = std::max(now_ms, epochs_.back().start_ms + 1);
  current_ = epoch{now_ms, rf, std::move(members)};
  insert(current_);
  return true;
}

bool epoch_history::merge(const epoch_history& other) {
  auto before = epochs_.size();
  auto last = epochs_.empty() ? epoch{} : epochs_.back();
  for (const auto& e : other.epochs_) insert(e);
  if (!epochs_.empty() && current_.members.empty()) current_ = epochs_.back();
  return epochs_.size() != before || (!epochs_.empty() && !(epochs_.back() == last));
}

std::vector<const epoch*> epoch_history::overlapping(int64_t mint, int64_t maxt) const {
  std::vector<const epoch*> out;
  for (size_t i = 0; i < epochs_.size(); ++i) {
    int64_t end = i + 1 < epochs_.size() ? epochs_[i + 1].start_ms : INT64_MAX;
    // Data written before the first epoch (an older version, or a node that
    // kept no history) belongs to the first.
    int64_t start = i == 0 ? INT64_MIN : epochs_[i].start_ms;
    if (start <= maxt && end > mint) out.push_back(&epochs_[i]);
  }
  return out;
}

uint32_t epoch_history::unowned_partitions(const std::vector<std::string>& live, int64_t mint, int64_t maxt) const {
  std::set<std::string> up(live.begin(), live.end());
  std::vector<bool> lost(partitions, false);
  for (const epoch* e : overlapping(mint, maxt)) {
    if (std::all_of(e->members.begin(), e->members.end(), [&](const std::string& m) { return up.count(m) > 0; }))
      continue;
    for (uint32_t p = 0; p < partitions; ++p) {
      if (lost[p]) continue;
      auto os = owners(e->members, p, e->rf);
      lost[p] = std::none_of(os.begin(), os.end(), [&](const std::string& m) { return up.count(m) > 0; });
    }
  }
  return static_cast<uint32_t>(std::count(lost.begin(), lost.end(), true));
}

std::string epoch_history::encode() const {
  std::string out(magic, sizeof(magic));
  put_le<uint8_t>(out, version);
  put_le<uint32_t>(out, static_cast<uint32_t>(epochs_.size()));
  for (const auto& e : epochs_) {
    put_le<int64_t>(out, e.start_ms);
    put_le<uint32_t>(out, e.rf);
    put_le<uint32_t>(out, static_cast<uint32_t>(e.members.size()));
    for (const auto& m : e.members) {
      put_le<uint16_t>(out, static_cast<uint16_t>(m.size()));
      out += m;
    }
  }
  put_le<uint64_t>(out, XXH3_64bits(out.data(), out.size()));
  return out;
}

result<epoch_history> epoch_history::decode(std::string_view bytes) {
  if (bytes.size() < sizeof(magic) + 1 + 4 + 8) return corrupt("truncated (" + std::to_string(bytes.size()) + " bytes)");
  if (std::memcmp(bytes.data(), magic, sizeof(magic)) != 0) return corrupt("not an epoch history (bad magic)");
  uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (stored != XXH3_64bits(bytes.data(), bytes.size() - 8)) return corrupt("checksum mismatch");
  byte_reader r(bytes.substr(sizeof(magic), bytes.size() - 8 - sizeof(magic)));
  uint8_t v = 0;
  uint32_t n = 0;
  r.get_u8(v);
  if (v != version) return corrupt("unknown version " + std::to_string(v) + " (this build reads 1)");
  bool ok = r.get_fixed(n);
  epoch_history h;
  for (uint32_t i = 0; i < n && ok; ++i) {
    epoch e;
    uint32_t m = 0;
    ok = r.get_fixed(e.start_ms) && r.get_fixed(e.rf) && r.get_fixed(m);
    for (uint32_t j = 0; j < m && ok; ++j) {
      uint16_t len = 0;
      ok = r.get_fixed(len) && r.remaining() >= len;
      if (ok) {
        e.members.emplace_back(r.rest().substr(0, len));
        r.advance(len);
      }
    }
    if (ok) h.epochs_.push_back(std::move(e));
  }
  if (!ok || r.remaining() != 0) return corrupt("length fields do not match the bytes");
  for (size_t i = 1; i < h.epochs_.size(); ++i)
    if (h.epochs_[i].start_ms < h.epochs_[i - 1].start_ms) return corrupt("epochs out of order");
  if (!h.epochs_.empty()) h.current_ = h.epochs_.back();
  return h;
}

status epoch_history::save(const std::string& path) const {
  std::string bytes = encode();
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return error(strata_errc::storage, "cannot write " + tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) return error(strata_errc::storage, "cannot write " + tmp + ": " + std::strerror(err));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return error(strata_errc::storage, "cannot replace " + path + ": " + std::strerror(errno));
  return status::ok();
}

result<epoch_history> epoch_history::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return epoch_history{};
  std::stringstream ss;
  ss << in.rdbuf();
  auto h = decode(ss.str());
  if (!h) return error(h.error().code(), path + ": " + h.error().message());
  return h;
}

}  // namespace strata::cluster
