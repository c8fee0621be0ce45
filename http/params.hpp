#pragma once
// Parameter parsing for the Prometheus HTTP API, with Prometheus's rules and
// messages, and URL decoding for the server.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.hpp"

namespace strata::http {

// A time parameter (`time`, `start`, `end`): unix seconds as a float
// ("1435781451.781", rounded to the millisecond) or RFC 3339 with optional
// fractional seconds and a Z or ±hh:mm offset ("2015-07-01T20:10:51.781Z",
// truncated to the millisecond). Also accepts the two strings Prometheus
// clients send for the smallest and largest time. Milliseconds since the
// epoch; fails with `cannot parse "abc" to a valid timestamp`.
result<int64_t> parse_time_ms(std::string_view s);

// A duration parameter (`step`, `timeout`): float seconds ("15", "0.5",
// rounded to the millisecond) or a Prometheus duration ("15s", "1m30s").
// May be zero or negative; the caller decides. Fails with
// `cannot parse "abc" to a valid duration`.
result<int64_t> parse_duration_ms(std::string_view s);

// An integer parameter (`limit`, `limit_per_metric`), as Go's strconv.Atoi
// reads it: optional sign, decimal digits, nothing else. Fails with
// `cannot parse "abc" to an integer`.
result<int64_t> parse_int(std::string_view s);

// Percent-decodes a URL component; '+' becomes a space when plus_is_space
// (query strings and form bodies, not paths). Fails on a bad escape:
// `invalid URL escape "%zz"`.
result<std::string> percent_decode(std::string_view s, bool plus_is_space);

// Splits `a=1&b=2&a=3` (a query string or an x-www-form-urlencoded body)
// into decoded pairs, in order; "a" alone is ("a", "").
result<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view s);

}  // namespace strata::http
