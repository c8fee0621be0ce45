#include "actors/messages.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace strata::actors {

caf::error to_caf_error(const status& s) {
  return caf::error(static_cast<uint8_t>(s.code()), error_category, caf::make_message(s.message()));
}

status from_caf_error(const caf::error& e, const std::string& what) {
  if (e.category() == error_category) {
    std::string msg;
    if (e.context().match_elements<std::string>()) msg = e.context().get_as<std::string>(0);
    return error(static_cast<strata_errc>(e.code()), msg);
  }
  // CAF's own errors: timeouts and lost peers mean "try again later".
  auto code = strata_errc::unavailable;
  if (e.category() == caf::atom("system") && e.code() == static_cast<uint8_t>(caf::sec::request_timeout))
    code = strata_errc::timeout;
  return error(code, what + ": " + caf::to_string(e));
}

std::vector<std::string> encode_matchers(const matchers& ms) {
  std::vector<std::string> out;
  out.reserve(ms.size() * 3);
  for (const auto& m : ms) {
    out.push_back(std::to_string(static_cast<int>(m.type())));
    out.push_back(m.name());
    out.push_back(m.value());
  }
  return out;
}

result<matchers> decode_matchers(const std::vector<std::string>& flat) {
  if (flat.size() % 3 != 0) return error(strata_errc::bad_request, "matcher list is not a list of triples");
  matchers out;
  for (size_t i = 0; i < flat.size(); i += 3) {
    int op = flat[i].size() == 1 ? flat[i][0] - '0' : -1;
    if (op < 0 || op > 3) return error(strata_errc::bad_request, "unknown matcher op '" + flat[i] + "'");
    auto m = matcher::make(static_cast<matcher::op>(op), flat[i + 1], flat[i + 2]);
    if (!m) return m.error();
    out.push_back(std::move(*m));
  }
  return out;
}

}  // namespace strata::actors
