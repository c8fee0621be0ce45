#include "common/status.hpp"

namespace strata {

const char* to_string(strata_errc c) {
  switch (c) {
    case strata_errc::ok: return "ok";
    case strata_errc::bad_request: return "bad_request";
    case strata_errc::not_found: return "not_found";
    case strata_errc::unavailable: return "unavailable";
    case strata_errc::overloaded: return "overloaded";
    case strata_errc::storage: return "storage";
    case strata_errc::corruption: return "corruption";
    case strata_errc::timeout: return "timeout";
    case strata_errc::internal: return "internal";
    case strata_errc::limit_exceeded: return "limit_exceeded";
  }
  return "unknown";
}

}  // namespace strata
