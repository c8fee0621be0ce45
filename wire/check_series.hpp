#pragma once
// The one check every ingest path (remote_write 1.0 and 2.0, text push, JSON
// push, Cap'n Proto batches, scrape) runs on a series before it is written,
// so that the same bad series gets the same answer whatever carried it.
// Sample time bounds are the other shared check: actors::drop_out_of_bounds,
// run by the collector on every write.
#include "common/series.hpp"
#include "common/status.hpp"
#include "wire/remote_write.hpp"

namespace strata::wire {

// Checks `ls` against `limits` and makes it canonical: sorted by name, labels
// with an empty value dropped (Prometheus: empty == absent). Fails with
// bad_request, leaving `ls` sorted, for the first rule broken, in this order:
//   - no labels at all;
//   - a label with an empty name;
//   - a label name longer than max_name_length, a value longer than
//     max_value_length;
//   - a name or value that is not valid UTF-8;
//   - with name_validation::legacy, a label name not [a-zA-Z_][a-zA-Z0-9_]*
//     or a metric name not [a-zA-Z_:][a-zA-Z0-9_:]*;
//   - a label name that appears twice;
//   - no label with a non-empty value;
//   - more than max_labels labels (those with a non-empty value).
// The message is `<series>: <reason>`, the series as series_for_message
// writes it, the reason naming the limit, its value and its flag. Callers
// prefix where the series was (`timeseries[3] `, `line 7: `).
status check_series(labels& ls, const write_limits& limits);

// Whether `ls` is canonical as check_series leaves it: names not empty and
// in strictly increasing order.
bool is_canonical(const labels& ls);

// `{a="b", c="d"}` for an error message: names and values quoted with
// quote_for_message, cut after about 256 bytes with `, ...`.
std::string series_for_message(const labels& ls);

}  // namespace strata::wire
