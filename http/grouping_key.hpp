#pragma once
// The Pushgateway URL of a group: /metrics/job/<job>{/<label>/<value>}, where
// `<label>@base64/<value>` carries a URL-safe base64 value (padding optional;
// a lone "=" is the empty value), so values may hold '/'.
#include <string>
#include <string_view>

#include "common/series.hpp"
#include "common/status.hpp"

namespace strata::http {

inline constexpr std::string_view push_path_prefix = "/metrics/job";  // then "/" or "@base64/"

// The grouping key of `path` (percent-decoded, starting with push_path_prefix),
// canonical (sorted). Fails with bad_request naming the segment: a missing or
// empty job, a label without a value, an invalid label name (or one starting
// with "__"), a label given twice, bad base64, or a value that is not UTF-8.
result<labels> parse_grouping_key(std::string_view path);

// URL-safe base64 (RFC 4648 section 5), '=' padding optional; also accepts the
// standard alphabet's '+' and '/'. False on any other byte or a bad length.
bool decode_base64url(std::string_view in, std::string& out);

}  // namespace strata::http
