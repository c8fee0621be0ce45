#include "events/event.hpp"

#include <nlohmann/json.hpp>

#include <ctime>
#include <random>

namespace strata::events {

using json = nlohmann::json;

namespace {

std::string rfc3339_ms(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int frac = static_cast<int>(ms - static_cast<int64_t>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

}  // namespace

const std::vector<std::string_view>& known_types() {
  static const std::vector<std::string_view> types{metrics_collected, metrics_aggregated, alert_triggered,
                                                   alert_resolved};
  return types;
}

std::string encode_json(const event& e) {
  json data = json::parse(e.data, nullptr, false);
  if (data.is_discarded()) data = json::object();
  json j = {{"type", e.type},
            {"id", e.id},
            {"time", rfc3339_ms(e.time_ms)},
            {"time_ms", e.time_ms},
            {"correlation_id", e.correlation_id},
            {"node", e.node},
            {"data", std::move(data)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

result<event> decode_json(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error(strata_errc::bad_request, "event: not a JSON object");
  event e;
  for (auto [field, out] : {std::pair<const char*, std::string*>{"type", &e.type},
                            {"id", &e.id},
                            {"correlation_id", &e.correlation_id},
                            {"node", &e.node}}) {
    auto it = j.find(field);
    if (it == j.end() || !it->is_string())
      return error(strata_errc::bad_request, std::string("event: field \"") + field + "\" must be a string");
    *out = it->get<std::string>();
  }
  auto t = j.find("time_ms");
  if (t == j.end() || !t->is_number_integer())
    return error(strata_errc::bad_request, "event: field \"time_ms\" must be an integer");
  e.time_ms = t->get<int64_t>();
  auto d = j.find("data");
  if (d == j.end() || !d->is_object())
    return error(strata_errc::bad_request, "event: field \"data\" must be an object");
  e.data = d->dump(-1, ' ', false, json::error_handler_t::replace);
  return e;
}

std::string new_correlation_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string out(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t v = rng();
    for (int i = 0; i < 16; ++i) out[half * 16 + i] = digits[(v >> (60 - 4 * i)) & 0xf];
  }
  return out;
}

status check_correlation_id(std::string_view id, std::string_view what) {
  if (id.empty() || id.size() > 128)
    return error(strata_errc::bad_request, std::string(what) + " must be 1 to 128 characters long, not " +
                                               std::to_string(id.size()));
  for (char c : id)
    if (c < 0x21 || c > 0x7e)
      return error(strata_errc::bad_request, std::string(what) + " must be printable ASCII without spaces");
  return status::ok();
}

}  // namespace strata::events
