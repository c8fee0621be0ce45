#include "wire/json_push.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "common/utf8.hpp"
#include "wire/check_series.hpp"

namespace strata::wire {
namespace {

using json = nlohmann::json;

status bad(std::string msg) { return error(strata_errc::bad_request, std::move(msg)); }

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// A number as a float: JSON numbers, or the strings "NaN", "+Inf", "-Inf".
bool number(const json& j, double& out) {
  if (j.is_number()) {
    out = j.get<double>();
    return true;
  }
  if (!j.is_string()) return false;
  const auto& s = j.get_ref<const std::string&>();
  if (s == "NaN") out = std::numeric_limits<double>::quiet_NaN();
  else if (s == "+Inf" || s == "Inf") out = HUGE_VAL;
  else if (s == "-Inf") out = -HUGE_VAL;
  else return false;
  return true;
}

std::string format_le(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

bool timestamp(const json& j, int64_t& out) {
  if (j.is_number_integer()) {
    out = j.get<int64_t>();
    return true;
  }
  if (j.is_string()) return parse_rfc3339_ms(j.get_ref<const std::string&>(), out);
  return false;
}

// One metric of data.metrics into `out` (series and metadata); "" or the reason it is refused.
std::string take_metric(const json& m, const labels& base, int64_t ts, const write_limits& limits, json_push& out) {
  if (!m.is_object()) return "a metric must be an object";
  auto name_it = m.find("name");
  if (name_it == m.end() || !name_it->is_string()) return "field name is missing or not a string";
  const std::string& name = name_it->get_ref<const std::string&>();
  if (name.empty()) return "field name is empty";
  auto type_it = m.find("type");
  if (type_it == m.end() || !type_it->is_string()) return "field type is missing or not a string";
  const std::string& type = type_it->get_ref<const std::string&>();
  if (type != "counter" && type != "gauge" && type != "histogram")
    return "type \"" + type.substr(0, 32) + "\" is not counter, gauge or histogram";
  if (auto t = m.find("timestamp"); t != m.end() && !timestamp(*t, ts))
    return "timestamp is neither RFC 3339 nor integer milliseconds";

  labels ls = base;
  if (auto l = m.find("labels"); l != m.end()) {
    if (!l->is_object()) return "field labels must be an object of strings";
    for (auto it = l->begin(); it != l->end(); ++it) {
      if (!it.value().is_string()) return "label " + it.key().substr(0, 64) + " is not a string";
      if (it.key().substr(0, 2) == "__")
        return "label name \"" + it.key().substr(0, 64) + "\" starts with __ (reserved)";
      if (it.key() == "service") return "label service is set from data.service, not per metric";
      if (type == "histogram" && it.key() == "le") return "label le is reserved for histogram buckets";
      ls.push_back({it.key(), it.value().get_ref<const std::string&>()});
    }
  }

  // Every series the metric becomes passes check_series; "" or its message.
  auto add = [&](const std::string& n, labels extra, double v) -> std::string {
    series s;
    s.lbls = ls;
    s.lbls.push_back({std::string(metric_name_label), n});
    for (auto& e : extra) s.lbls.push_back(std::move(e));
    if (auto st = check_series(s.lbls, limits); !st) return st.message();
    s.samples.push_back({ts, v});
    out.series.push_back(std::move(s));
    return "";
  };

  if (type != "histogram") {
    auto v = m.find("value");
    double d = 0;
    if (v == m.end() || !number(*v, d)) return "field value is missing or not a number";
    if (type == "counter" && (std::isnan(d) || d < 0)) return "a counter value must be a number >= 0";
    if (auto reason = add(name, {}, d); !reason.empty()) return reason;
    out.metadata.push_back({name, type == "counter" ? metric_type::counter : metric_type::gauge, "", ""});
    return "";
  }

  auto b = m.find("buckets");
  if (b == m.end() || !b->is_array() || b->empty()) return "a histogram needs a non-empty buckets array";
  double sum = 0, count = 0;
  auto s = m.find("sum");
  if (s == m.end() || !number(*s, sum)) return "a histogram needs a number in sum";
  auto c = m.find("count");
  if (c == m.end() || !number(*c, count) || std::isnan(count) || count < 0) return "a histogram needs a count >= 0";
  std::vector<std::pair<double, double>> buckets;
  for (size_t i = 0; i < b->size(); ++i) {
    const auto& e = (*b)[i];
    double le = 0, n = 0;
    if (!e.is_object() || !e.contains("le") || !number(e["le"], le) || std::isnan(le))
      return "buckets[" + std::to_string(i) + "].le is missing or not a number (or \"+Inf\")";
    if (!e.contains("count") || !number(e["count"], n) || std::isnan(n) || n < 0)
      return "buckets[" + std::to_string(i) + "].count is missing or not a number >= 0";
    if (!buckets.empty() && le <= buckets.back().first)
      return "buckets[" + std::to_string(i) + "].le is not greater than the previous bucket's";
    if (!buckets.empty() && n < buckets.back().second)
      return "buckets[" + std::to_string(i) + "].count is less than the previous bucket's (counts are cumulative)";
    buckets.emplace_back(le, n);
  }
  if (buckets.back().second > count) return "count is less than the last bucket's count";
  if (!std::isinf(buckets.back().first)) buckets.emplace_back(HUGE_VAL, count);
  else if (buckets.back().second != count) return "the +Inf bucket's count differs from count";
  for (const auto& [le, n] : buckets)
    if (auto reason = add(name + "_bucket", {{"le", format_le(le)}}, n); !reason.empty()) return reason;
  if (auto reason = add(name + "_sum", {}, sum); !reason.empty()) return reason;
  if (auto reason = add(name + "_count", {}, count); !reason.empty()) return reason;
  out.metadata.push_back({name, metric_type::histogram, "", ""});
  return "";
}

}  // namespace

bool parse_rfc3339_ms(std::string_view s, int64_t& out) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  auto digits = [&](size_t pos, size_t n, int& v) {
    if (pos + n > s.size()) return false;
    v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, sec;
  if (!digits(0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-' || !digits(8, 2, d) ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(11, 2, h) || s[13] != ':' || !digits(14, 2, mi) ||
      s[16] != ':' || !digits(17, 2, sec))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
  size_t i = 19;
  int64_t ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t b = i;
    int scale = 100;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ms += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == b) return false;
  }
  int64_t offset_min = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!digits(i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !digits(i + 4, 2, om) || oh > 23 || om > 59)
      return false;
    offset_min = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  out = ((days * 24 + h) * 60 + mi - offset_min) * 60'000 + int64_t{sec} * 1000 + ms;
  return true;
}

result<json_push> decode_json_push(std::string_view body, int64_t now_ms, const write_limits& limits) {
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded()) return bad("body is not valid JSON");
  if (!j.is_object()) return bad("body must be a JSON object (an event)");
  auto type = j.find("type");
  if (type == j.end() || !type->is_string() || *type != "metrics.push")
    return bad("field type must be \"metrics.push\"");
  auto data = j.find("data");
  if (data == j.end() || !data->is_object()) return bad("field data is missing or not an object");
  json_push out;
  if (auto id = data->find("correlation_id"); id != data->end()) {
    if (!id->is_string()) return bad("field data.correlation_id must be a string");
    out.correlation_id = id->get<std::string>();
  }
  auto service = data->find("service");
  if (service == data->end() || !service->is_string() || service->get_ref<const std::string&>().empty())
    return bad("field data.service is missing or not a non-empty string");
  out.service = service->get<std::string>();
  if (!valid_utf8(out.service)) return bad("field data.service is not valid UTF-8");
  if (limits.max_value_length && out.service.size() > limits.max_value_length)
    return bad("field data.service has " + std::to_string(out.service.size()) + " bytes, over the limit of " +
               std::to_string(limits.max_value_length) + " (--max-label-value-length)");
  int64_t ts = now_ms;
  if (auto t = data->find("timestamp"); t != data->end() && !timestamp(*t, ts))
    return bad("field data.timestamp is neither RFC 3339 nor integer milliseconds");
  auto metrics = data->find("metrics");
  if (metrics == data->end() || !metrics->is_array()) return bad("field data.metrics is missing or not an array");
  if (limits.max_series && metrics->size() > limits.max_series)
    return bad("data.metrics holds " + std::to_string(metrics->size()) + " metrics, over the limit of " +
               std::to_string(limits.max_series) + " series per request (--max-series-per-request)");

  const labels base{{"service", out.service}};
  for (size_t i = 0; i < metrics->size(); ++i) {
    const auto& m = (*metrics)[i];
    size_t before = out.series.size();
    std::string reason = take_metric(m, base, ts, limits, out);
    if (reason.empty()) {
      ++out.accepted;
      continue;
    }
    out.series.resize(before);
    std::string name;
    if (m.is_object())
      if (auto n = m.find("name"); n != m.end() && n->is_string()) name = n->get<std::string>();
    out.rejected.push_back({i, std::move(name), std::move(reason)});
  }
  return out;
}

std::string encode_collected(const json_push& p) {
  json rejected = json::array();
  for (const auto& r : p.rejected) rejected.push_back({{"index", r.index}, {"name", r.name}, {"reason", r.reason}});
  json j = {{"type", "metrics.collected"},
            {"data", {{"correlation_id", p.correlation_id}, {"accepted", p.accepted}, {"rejected", rejected}}}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace strata::wire
