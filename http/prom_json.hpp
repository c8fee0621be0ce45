#pragma once
// Response bodies of the Prometheus HTTP API, byte for byte in Prometheus's
// shape:
//   {"status":"success","data":{"resultType":"vector","result":[
//     {"metric":{"__name__":"up"},"value":[1435781451.781,"1"]}]}}
//   {"status":"error","errorType":"bad_data","error":"..."}
// with "warnings":[...] after data/error when there are any.
// Over common types only, so that http/ does not depend on query/.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/metric_metadata.hpp"
#include "common/series.hpp"

namespace strata::http {

using warnings_t = std::vector<std::string>;

std::string vector_json(const std::vector<std::pair<labels, sample>>& v, const warnings_t& warnings = {});
std::string matrix_json(const std::vector<series>& m, const warnings_t& warnings = {});
std::string scalar_json(sample s, const warnings_t& warnings = {});
// /api/v1/series: a list of label sets.
std::string series_json(const std::vector<labels>& sets, const warnings_t& warnings = {});
// /api/v1/labels and /api/v1/label/<name>/values: a list of strings.
std::string strings_json(const std::vector<std::string>& values, const warnings_t& warnings = {});
// /api/v1/metadata: {"family":[{"type":..,"help":..,"unit":..}],...}.
// `sorted` is sorted by family (entries of a family together). At most
// `limit` families when limit >= 0 (the first by name), at most
// `limit_per_metric` entries of each when it is > 0, as Prometheus reads them.
std::string metadata_json(const std::vector<metric_metadata>& sorted, int64_t limit, int64_t limit_per_metric,
                          const warnings_t& warnings = {});
// {"status":"success","data":<data>} with `data` already JSON.
std::string success_json(std::string_view data, const warnings_t& warnings = {});
// error_type is Prometheus's errorType: bad_data, execution, internal,
// not_found, timeout, canceled, unavailable.
std::string error_json(std::string_view error_type, std::string_view message, const warnings_t& warnings = {});

// The pieces, for other JSON bodies.
// A JSON string literal: quotes, escapes for '"', '\\' and control
// characters, <, > and & as \u003c \u003e \u0026, U+2028/2029 escaped, and
// each byte of invalid UTF-8 replaced by \ufffd (as Go's encoder does).
void append_json_string(std::string& out, std::string_view s);
// A timestamp as Prometheus prints it: unix seconds, with exactly three
// decimals when the milliseconds are not zero (1435781451.781,
// 1435781451.500, 1435781451).
void append_json_time(std::string& out, int64_t ms);
// A sample value as Prometheus prints it in JSON (a string): shortest
// round-trip digits, plain notation unless |v| < 1e-6 or >= 1e21
// ("1000000", "0.1", "1e-07", "1e+21", "+Inf", "-Inf", "NaN").
std::string json_value(double v);

}  // namespace strata::http
