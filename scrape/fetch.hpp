#pragma once
// One bounded HTTP GET of a scrape target (Boost.Beast underneath, kept out
// of this header). Blocking: the calling scrape loop thread waits for it.
#include <cstdint>
#include <string>

#include "scrape/target.hpp"

namespace strata::scrape {

struct fetch_options {
  int64_t timeout_ms = 10'000;  // connect + request + response; past it the scrape is cancelled
  uint64_t max_body_bytes = 32u << 20;  // a larger body fails the scrape
};

// GET http://<address><path> with Prometheus's Accept header and
// X-Prometheus-Scrape-Timeout-Seconds. Fails (ok = false, error says why) on
// a connection error, the timeout, a status other than 200 or a body over
// the limit. The body must not be compressed (no Accept-Encoding is sent).
fetch_result fetch(const std::string& address, const std::string& path, const fetch_options& o);

}  // namespace strata::scrape
