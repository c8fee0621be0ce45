#pragma once
// Which live node scrapes a target: rendezvous hashing (the highest
// XXH3(node address + "\n" + target key) wins) over the live members, so every
// node that sees the same members picks the same owner, and a member leaving
// moves only its own targets.
#include <cstdint>
#include <string>
#include <vector>

namespace strata::scrape {

// The key of a target: job name and address, so one address in two jobs is
// two targets.
std::string target_key(const std::string& job, const std::string& address);

// The owner among `members`; "" when members is empty.
std::string owner_of(const std::vector<std::string>& members, const std::string& key);

// The target's place in its interval, [0, interval_ms): targets of one job
// are spread over the interval instead of all starting at once.
int64_t scrape_offset_ms(const std::string& key, int64_t interval_ms);

}  // namespace strata::scrape
