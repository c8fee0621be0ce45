#include "http/params.hpp"

#include <charconv>
#include <cmath>
#include <limits>

namespace strata::http {
namespace {

// Prometheus clients send these for "no bound" (Go's time range ends that
// still survive a round trip through UnixMilli).
constexpr std::string_view min_time_text = "-292273086-05-16T16:47:06Z";
constexpr std::string_view max_time_text = "292277025-08-18T07:12:54.999999999Z";
constexpr int64_t min_time_ms = -9223309901257974000LL;
constexpr int64_t max_time_ms = 9223309901257974999LL;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A float spelled as Go's ParseFloat accepts it for our purposes: optional
// sign, digits, optional fraction, optional exponent. Inf and NaN fail.
bool parse_finite_float(std::string_view s, double& out) {
  if (s.empty()) return false;
  size_t i = 0;
  if (s[0] == '+' || s[0] == '-') i = 1;
  bool digits = false;
  for (size_t k = i; k < s.size(); ++k) {
    char c = s[k];
    if (is_digit(c))
      digits = true;
    else if (c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-')
      return false;
  }
  if (!digits) return false;
  std::string_view body = s.substr(s[0] == '+' ? 1 : 0);
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), out);
  return ec == std::errc() && end == body.data() + body.size() && std::isfinite(out);
}

// Reads exactly n digits at s[i]; advances i.
bool read_digits(std::string_view s, size_t& i, size_t n, int& out) {
  if (i + n > s.size()) return false;
  out = 0;
  for (size_t k = 0; k < n; ++k) {
    if (!is_digit(s[i + k])) return false;
    out = out * 10 + (s[i + k] - '0');
  }
  i += n;
  return true;
}

bool expect(std::string_view s, size_t& i, char c) {
  if (i >= s.size() || s[i] != c) return false;
  ++i;
  return true;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Days from 0001-01-01 to January 1st of year y (proleptic Gregorian).
int64_t days_before_year(int64_t y) {
  int64_t p = y - 1;
  return p * 365 + floor_div(p, 4) - floor_div(p, 100) + floor_div(p, 400);
}

int days_in_month(int64_t y, int m) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm), like Go's RFC3339Nano.
bool parse_rfc3339(std::string_view s, int64_t& ms) {
  size_t i = 0;
  int year, month, day, hour, minute, second;
  if (!read_digits(s, i, 4, year) || !expect(s, i, '-') || !read_digits(s, i, 2, month) || !expect(s, i, '-') ||
      !read_digits(s, i, 2, day) || !expect(s, i, 'T') || !read_digits(s, i, 2, hour) || !expect(s, i, ':') ||
      !read_digits(s, i, 2, minute) || !expect(s, i, ':') || !read_digits(s, i, 2, second))
    return false;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59)
    return false;
  int64_t frac_ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t first = i;
    while (i < s.size() && is_digit(s[i])) {
      if (i - first < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
      ++i;
    }
    if (i == first) return false;
    for (size_t n = i - first; n < 3; ++n) frac_ms *= 10;
  }
  int64_t offset_ms = 0;
  if (i < s.size() && s[i] == 'Z') {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int sign = s[i] == '-' ? -1 : 1;
    ++i;
    int oh, om;
    if (!read_digits(s, i, 2, oh) || !expect(s, i, ':') || !read_digits(s, i, 2, om) || oh > 23 || om > 59)
      return false;
    offset_ms = sign * (oh * 3600000LL + om * 60000LL);
  } else {
    return false;
  }
  if (i != s.size()) return false;
  int64_t days = days_before_year(year) - days_before_year(1970);
  for (int m = 1; m < month; ++m) days += days_in_month(year, m);
  days += day - 1;
  ms = days * 86400000LL + hour * 3600000LL + minute * 60000LL + second * 1000LL + frac_ms - offset_ms;
  return true;
}

// A Prometheus duration: <digits><unit> parts, units y w d h m s ms from
// the largest down, each at most once; or "0".
bool parse_prometheus_duration(std::string_view s, int64_t& ms) {
  static constexpr std::pair<std::string_view, int64_t> units[] = {
      {"y", 365LL * 86400000},
      {"w", 7LL * 86400000},
      {"d", 86400000},
      {"h", 3600000},
      {"m", 60000},
      {"s", 1000},
      {"ms", 1},
  };
  if (s == "0") {
    ms = 0;
    return true;
  }
  if (s.empty()) return false;
  int64_t total = 0;
  size_t next_unit = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (!is_digit(s[i])) return false;
    int64_t n = 0;
    while (i < s.size() && is_digit(s[i])) {
      if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, s[i] - '0', &n)) return false;
      ++i;
    }
    std::string_view u = s.substr(i, 2) == "ms" ? s.substr(i, 2) : s.substr(i, 1);
    i += u.size();
    size_t k = next_unit;
    while (k < std::size(units) && units[k].first != u) ++k;
    if (k == std::size(units)) return false;
    next_unit = k + 1;
    int64_t part;
    if (__builtin_mul_overflow(n, units[k].second, &part) || __builtin_add_overflow(total, part, &total)) return false;
  }
  ms = total;
  return true;
}

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

result<int64_t> parse_time_ms(std::string_view s) {
  double secs;
  if (parse_finite_float(s, secs)) {
    double whole;
    double frac = std::modf(secs, &whole);
    if (std::fabs(whole) < 9.2e15) return static_cast<int64_t>(whole) * 1000 + std::llround(frac * 1000);
  } else {
    if (s == min_time_text) return min_time_ms;
    if (s == max_time_text) return max_time_ms;
    int64_t ms;
    if (parse_rfc3339(s, ms)) return ms;
  }
  return error(strata_errc::bad_request, "cannot parse " + quoted(s) + " to a valid timestamp");
}

result<int64_t> parse_duration_ms(std::string_view s) {
  double secs;
  if (parse_finite_float(s, secs)) {
    double ms = secs * 1000;
    if (std::fabs(ms) >= 9.2e18)
      return error(strata_errc::bad_request, "cannot parse " + quoted(s) + " to a valid duration. It overflows int64");
    return static_cast<int64_t>(std::llround(ms));
  }
  int64_t ms;
  if (parse_prometheus_duration(s, ms)) return ms;
  return error(strata_errc::bad_request, "cannot parse " + quoted(s) + " to a valid duration");
}

result<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return error(strata_errc::bad_request, "invalid URL escape " + quoted(s.substr(i, 3)));
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

result<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view s) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!s.empty()) {
    size_t amp = s.find('&');
    std::string_view part = s.substr(0, amp);
    s = amp == std::string_view::npos ? std::string_view{} : s.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    auto key = percent_decode(part.substr(0, eq), true);
    if (!key) return key.error();
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1), true);
    if (!value) return value.error();
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

result<int64_t> parse_int(std::string_view s) {
  auto bad = [&] { return error(strata_errc::bad_request, "cannot parse \"" + std::string(s) + "\" to an integer"); };
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (i == s.size()) return bad();
  uint64_t v = 0;
  const uint64_t cap = neg ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return bad();
    uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (cap - d) / 10) return bad();
    v = v * 10 + d;
  }
  return neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
}

}  // namespace strata::http
