#include "scrape/ownership.hpp"

#include <xxhash.h>

namespace strata::scrape {

std::string target_key(const std::string& job, const std::string& address) { return job + "\n" + address; }

std::string owner_of(const std::vector<std::string>& members, const std::string& key) {
  std::string best;
  uint64_t best_score = 0;
  for (const auto& m : members) {
    std::string buf = m + "\n" + key;
    uint64_t score = XXH3_64bits(buf.data(), buf.size());
    if (best.empty() || score > best_score || (score == best_score && m < best)) {
      best = m;
      best_score = score;
    }
  }
  return best;
}

int64_t scrape_offset_ms(const std::string& key, int64_t interval_ms) {
  if (interval_ms <= 0) return 0;
  return static_cast<int64_t>(XXH3_64bits(key.data(), key.size()) % static_cast<uint64_t>(interval_ms));
}

}  // namespace strata::scrape
