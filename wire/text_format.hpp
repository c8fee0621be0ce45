#pragma once
// Text exposition formats: Prometheus text 0.0.4 and OpenMetrics text 1.0
// (docs/api.md, "Text exposition"). Independent of HTTP: the push endpoints
// and a scraper feed it the body and the time the body was received.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/series.hpp"
#include "common/status.hpp"
#include "wire/metadata.hpp"
#include "wire/remote_write.hpp"

namespace strata::wire {

enum class text_format : uint8_t { prometheus, openmetrics };

// From a Content-Type: `application/openmetrics-text...` is OpenMetrics,
// everything else (`text/plain; version=0.0.4`, empty) the Prometheus format.
text_format text_format_for(std::string_view content_type);

struct parsed_text {
  write_batch series;                // canonical labels; a series appears once
  std::vector<size_t> family_of;     // per series: its index into `metadata`
  std::vector<size_t> line_of;       // per series: the line of its first sample
  metadata_list metadata;            // one per family, in the order first seen
};

struct text_options {
  // Timestamp of samples that carry none (the receive or scrape time).
  int64_t default_timestamp_ms = 0;
  // Series per exposition (max_series) and the rules of check_series, which
  // every series passes as parsed; max_decompressed is not used. A caller
  // that adds labels (a grouping key, target labels) checks the result again.
  write_limits limits;
};

// Parses a whole exposition. Prometheus text 0.0.4: `# HELP` / `# TYPE`
// (counter, gauge, histogram, summary, untyped), other `#` lines are comments,
// timestamps are integer milliseconds. OpenMetrics 1.0: `# HELP` / `# TYPE` /
// `# UNIT`, the body must end with `# EOF`, timestamps are (fractional)
// seconds, counters are `<family>_total`, info `<family>_info`, exemplars are
// skipped, and `_created` samples (a creation time, not a value) are dropped.
// Both: label values unescape \\ \" \n, HELP unescapes \\ \n, values take
// NaN, +Inf, -Inf; a `_bucket`, `_sum`, `_count` (histograms), `_sum`,
// `_count` (summaries), `_gsum`, `_gcount` (gauge histograms) sample belongs
// to the family of its TYPE line.
//
// Fails with bad_request on the first error: `line N: <what is wrong>`. Among
// the errors: a bad metric or label name, an unterminated label value, a bad
// escape, a bad value or timestamp, a series that fails check_series (the
// message is then `line N: <check_series message>`), a second HELP,
// TYPE or UNIT for one family or one after its samples, an unknown type, the
// same series and timestamp twice, a UNIT that is not a suffix of the family
// name, anything after `# EOF`, a missing `# EOF` (OpenMetrics), invalid
// UTF-8 in help text, or more than `o.limits.max_series` series.
result<parsed_text> parse_text(std::string_view body, text_format f, const text_options& o);

}  // namespace strata::wire
