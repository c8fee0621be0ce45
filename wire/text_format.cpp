#include "wire/text_format.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <utility>

#include "common/utf8.hpp"
#include "wire/check_series.hpp"
#include "wire/utf8.hpp"

namespace strata::wire {
namespace {

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_metric_start(char c) { return is_name_start(c) || c == ':'; }
bool is_metric_char(char c) { return is_name_char(c) || c == ':'; }
bool is_blank(char c) { return c == ' ' || c == '\t'; }

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A float as Go's strconv.ParseFloat reads the exposition formats: decimal
// or exponent form, NaN, Inf, +Inf, -Inf (any case).
bool parse_float(std::string_view s, double& out) {
  if (s.empty()) return false;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    s.remove_prefix(1);
    if (s.empty() || s[0] == '+' || s[0] == '-') return false;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || p != s.data() + s.size()) {
    // from_chars refuses values out of double range; Go gives +-Inf.
    if (ec == std::errc::result_out_of_range && p == s.data() + s.size()) {
      out = std::strtod(std::string(s).c_str(), nullptr);
    } else {
      return false;
    }
  }
  if (neg) out = -out;
  return true;
}

// OpenMetrics timestamps: seconds, possibly fractional. Decimal forms are
// converted exactly (rounded to the millisecond); exponent forms via double.
bool parse_seconds_to_ms(std::string_view s, int64_t& out) {
  std::string_view digits = s;
  bool neg = false;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    neg = digits[0] == '-';
    digits.remove_prefix(1);
  }
  auto dot = digits.find('.');
  std::string_view ip = digits.substr(0, dot);
  std::string_view fp = dot == std::string_view::npos ? std::string_view{} : digits.substr(dot + 1);
  auto all_digits = [](std::string_view d) { return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; }); };
  if (!ip.empty() && all_digits(ip) && all_digits(fp) && ip.size() <= 15) {
    int64_t sec = 0;
    for (char c : ip) sec = sec * 10 + (c - '0');
    int64_t ms = 0;
    for (size_t i = 0; i < 3; ++i) ms = ms * 10 + (i < fp.size() ? fp[i] - '0' : 0);
    if (fp.size() > 3 && fp[3] >= '5') ++ms;
    int64_t v = sec * 1000 + ms;
    out = neg ? -v : v;
    return true;
  }
  double d = 0;
  if (!parse_float(s, d) || !std::isfinite(d)) return false;
  double ms = std::round(d * 1000);
  if (std::fabs(ms) > 9.0e18) return false;
  out = static_cast<int64_t>(ms);
  return true;
}

bool parse_int_ms(std::string_view s, int64_t& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

struct family_state {
  bool help = false, type = false, unit = false, samples = false;
};

struct sample_key {
  size_t series;
  int64_t t;
  bool operator==(const sample_key& o) const { return series == o.series && t == o.t; }
};
struct sample_key_hash {
  size_t operator()(const sample_key& k) const { return std::hash<size_t>()(k.series * 1000003u) ^ std::hash<int64_t>()(k.t); }
};

class parser {
 public:
  parser(text_format f, const text_options& o) : om_(f == text_format::openmetrics), o_(o) {}

  result<parsed_text> run(std::string_view body) {
    size_t pos = 0;
    bool eof = false;
    while (pos < body.size()) {
      size_t nl = body.find('\n', pos);
      std::string_view line = body.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
      pos = nl == std::string_view::npos ? body.size() : nl + 1;
      ++line_no_;
      if (eof) return fail("data after # EOF");
      if (line.empty()) {
        if (om_) return fail("empty line (OpenMetrics allows none)");
        continue;
      }
      if (om_ && line == "# EOF") {
        eof = true;
        continue;
      }
      status st = line[0] == '#' ? comment(line) : sample_line(line);
      if (!st) return st;
    }
    if (om_ && !eof) {
      ++line_no_;
      return fail("the exposition does not end with # EOF (OpenMetrics requires it)");
    }
    return std::move(out_);
  }

 private:
  status fail(const std::string& what) const {
    return error(strata_errc::bad_request, "line " + std::to_string(line_no_) + ": " + what);
  }

  size_t family(std::string_view name) {
    auto it = families_.find(std::string(name));
    if (it != families_.end()) return it->second;
    out_.metadata.push_back({std::string(name), metric_type::unknown, "", ""});
    state_.emplace_back();
    families_.emplace(std::string(name), out_.metadata.size() - 1);
    return out_.metadata.size() - 1;
  }

  // `# HELP`, `# TYPE`, `# UNIT`, other comments.
  status comment(std::string_view line) {
    std::string_view rest = line.substr(1);
    if (rest.empty() || !is_blank(rest[0])) {
      if (om_) return fail("a line starting with # must be # HELP, # TYPE, # UNIT or # EOF");
      return status::ok();  // 0.0.4: a comment
    }
    if (om_ && (rest[0] != ' ' || (rest.size() > 1 && is_blank(rest[1]))))
      return fail("expected exactly one space after #");
    while (!rest.empty() && is_blank(rest[0])) rest.remove_prefix(1);
    size_t kw_end = 0;
    while (kw_end < rest.size() && !is_blank(rest[kw_end])) ++kw_end;
    std::string_view kw = rest.substr(0, kw_end);
    if (kw != "HELP" && kw != "TYPE" && kw != "UNIT") {
      if (om_) return fail("unknown metadata keyword \"" + std::string(kw.substr(0, 32)) + "\" (HELP, TYPE, UNIT or EOF)");
      return status::ok();
    }
    if (kw == "UNIT" && !om_) return status::ok();  // 0.0.4 has no UNIT: a comment
    rest.remove_prefix(kw_end);
    if (rest.empty() || !is_blank(rest[0])) return fail("# " + std::string(kw) + " needs a metric name");
    while (!rest.empty() && is_blank(rest[0])) rest.remove_prefix(1);
    size_t n = 0;
    if (n < rest.size() && is_metric_start(rest[n]))
      while (n < rest.size() && is_metric_char(rest[n])) ++n;
    if (n == 0) return fail("# " + std::string(kw) + ": invalid metric name " + quote_for_message(rest.substr(0, 64)));
    std::string_view name = rest.substr(0, n);
    rest.remove_prefix(n);
    if (!rest.empty() && !is_blank(rest[0]))
      return fail("# " + std::string(kw) + ": invalid metric name " + quote_for_message(line.substr(line.size() - rest.size() - n, n + 1)));
    if (!rest.empty()) rest.remove_prefix(1);
    if (!om_)
      while (!rest.empty() && is_blank(rest[0])) rest.remove_prefix(1);
    if (kw != "HELP")
      while (!rest.empty() && is_blank(rest.back())) rest.remove_suffix(1);

    size_t fi = family(name);
    auto& st = state_[fi];
    auto& md = out_.metadata[fi];
    const std::string what = "# " + std::string(kw) + " for " + std::string(name);
    if (st.samples && (om_ || kw == "TYPE")) return fail(what + " comes after samples of that family");
    if (kw == "HELP") {
      if (st.help) return fail("second " + what);
      st.help = true;
      std::string text;
      for (size_t i = 0; i < rest.size(); ++i) {
        char c = rest[i];
        if (c != '\\') {
          text += c;
          continue;
        }
        if (i + 1 == rest.size()) return fail(what + ": help text ends in a lone backslash");
        char e = rest[++i];
        if (e == '\\') text += '\\';
        else if (e == 'n') text += '\n';
        else if (e == '"' && om_) text += '"';
        else return fail(what + ": invalid escape \\" + std::string(1, e) + " in help text (\\\\, \\n" + (om_ ? ", \\\")" : ")"));
      }
      if (!valid_utf8(text)) return fail(what + ": help text is not valid UTF-8");
      md.help = std::move(text);
    } else if (kw == "TYPE") {
      if (st.type) return fail("second " + what);
      st.type = true;
      metric_type t;
      if (!parse_metric_type(rest, t) || (om_ && rest == "untyped") ||
          (!om_ && t != metric_type::unknown && t != metric_type::counter && t != metric_type::gauge &&
           t != metric_type::histogram && t != metric_type::summary))
        return fail(what + ": unknown type " + quote_for_message(rest, 32) +
                    (om_ ? " (counter, gauge, histogram, gaugehistogram, summary, info, stateset, unknown)"
                         : " (counter, gauge, histogram, summary, untyped)"));
      md.type = t;
    } else {  // UNIT, OpenMetrics only
      if (st.unit) return fail("second " + what);
      st.unit = true;
      if (!rest.empty() && !ends_with(name, "_" + std::string(rest)))
        return fail(what + ": the family name must end in _" + std::string(rest.substr(0, 64)) + " (OpenMetrics)");
      md.unit = std::string(rest);
    }
    return status::ok();
  }

  // Where a sample named `name` goes: the index of its family, or drop it
  // (OpenMetrics `_created`), or an error.
  struct placement {
    size_t family = 0;
    bool drop = false;
    std::string error;
  };

  placement family_of_sample(std::string_view name, const labels& ls) {
    auto known = [&](std::string_view n) -> const size_t* {
      auto it = families_.find(std::string(n));
      return it == families_.end() ? nullptr : &it->second;
    };
    if (const size_t* fi = known(name)) {
      metric_type t = out_.metadata[*fi].type;
      if (!om_ || t == metric_type::unknown || t == metric_type::gauge || t == metric_type::stateset ||
          t == metric_type::summary)
        return {*fi, false, ""};
      return {0, false, std::string(to_string(t)) + " family " + std::string(name) +
                            " has a sample without the suffix its type needs"};
    }
    struct rule {
      std::string_view suffix;
      std::initializer_list<metric_type> types;
      bool drop;
    };
    static const rule om_rules[] = {
        {"_total", {metric_type::counter}, false},
        {"_created", {metric_type::counter, metric_type::histogram, metric_type::summary, metric_type::gaugehistogram}, true},
        {"_bucket", {metric_type::histogram, metric_type::gaugehistogram}, false},
        {"_sum", {metric_type::histogram, metric_type::summary}, false},
        {"_count", {metric_type::histogram, metric_type::summary}, false},
        {"_gsum", {metric_type::gaugehistogram}, false},
        {"_gcount", {metric_type::gaugehistogram}, false},
        {"_info", {metric_type::info}, false},
    };
    static const rule prom_rules[] = {
        {"_bucket", {metric_type::histogram}, false},
        {"_sum", {metric_type::histogram, metric_type::summary}, false},
        {"_count", {metric_type::histogram, metric_type::summary}, false},
    };
    const rule* begin = om_ ? std::begin(om_rules) : std::begin(prom_rules);
    const rule* end = om_ ? std::end(om_rules) : std::end(prom_rules);
    for (const rule* r = begin; r != end; ++r) {
      if (!ends_with(name, r->suffix)) continue;
      const size_t* fi = known(name.substr(0, name.size() - r->suffix.size()));
      if (fi == nullptr) continue;
      metric_type t = out_.metadata[*fi].type;
      if (std::find(r->types.begin(), r->types.end(), t) == r->types.end()) continue;
      if (r->suffix == "_bucket" && label_value(ls, "le").empty())
        return {0, false, "histogram bucket " + std::string(name) + " has no le label"};
      return {*fi, r->drop, ""};
    }
    return {family(name), false, ""};
  }

  status sample_line(std::string_view line) {
    size_t i = 0;
    if (!is_metric_start(line[0])) return fail("invalid metric name at the start of " + quote_for_message(line, 64));
    while (i < line.size() && is_metric_char(line[i])) ++i;
    std::string_view name = line.substr(0, i);
    labels ls;
    ls.push_back({std::string(metric_name_label), std::string(name)});
    size_t brace = i;
    if (!om_)
      while (brace < line.size() && is_blank(line[brace])) ++brace;
    if (brace < line.size() && line[brace] == '{') {
      i = brace + 1;
      if (auto st = label_set(line, i, ls); !st) return st;
    }
    // value
    if (i >= line.size() || !is_blank(line[i])) return fail(std::string(name) + ": expected a space and a value after the " + (ls.size() > 1 ? "labels" : "metric name"));
    auto token = [&]() {
      while (i < line.size() && is_blank(line[i])) ++i;
      size_t b = i;
      while (i < line.size() && !is_blank(line[i])) ++i;
      return line.substr(b, i - b);
    };
    if (om_ && i + 1 < line.size() && is_blank(line[i + 1])) return fail(std::string(name) + ": more than one space before the value");
    std::string_view vtok = token();
    double v = 0;
    if (!parse_float(vtok, v)) return fail(std::string(name) + ": invalid value " + quote_for_message(vtok, 40));
    int64_t ts = o_.default_timestamp_ms;
    std::string_view ttok = token();
    if (!ttok.empty() && ttok != "#") {
      bool ok = om_ ? parse_seconds_to_ms(ttok, ts) : parse_int_ms(ttok, ts);
      if (!ok)
        return fail(std::string(name) + ": invalid timestamp " + quote_for_message(ttok, 40) +
                    (om_ ? " (seconds since the epoch)" : " (integer milliseconds since the epoch)"));
      ttok = token();
    }
    if (!ttok.empty()) {
      if (!(om_ && ttok == "#")) return fail(std::string(name) + ": unexpected " + quote_for_message(ttok, 40) + " after the value");
      while (i < line.size() && is_blank(line[i])) ++i;
      if (i >= line.size() || line[i] != '{') return fail(std::string(name) + ": an exemplar must start with {");
      // Exemplars are skipped; only their shape is checked.
      labels ex;
      if (auto st = label_set(line, ++i, ex); !st) return st;
    }

    if (auto st = check_series(ls, o_.limits); !st) return fail(st.message());

    placement where = family_of_sample(name, ls);
    if (!where.error.empty()) return fail(where.error);
    state_[where.family].samples = true;
    if (where.drop) return status::ok();  // _created: a creation time, not a value

    std::string key;
    for (const auto& l : ls) {
      key += l.name;
      key += '\xff';
      key += l.value;
      key += '\xfe';
    }
    auto [it, fresh] = series_.emplace(std::move(key), out_.series.size());
    if (fresh) {
      if (o_.limits.max_series && out_.series.size() >= o_.limits.max_series)
        return fail("more than " + std::to_string(o_.limits.max_series) +
                    " series, over the limit of series per request (--max-series-per-request)");
      out_.series.push_back({std::move(ls), {}});
      out_.line_of.push_back(line_no_);
      out_.family_of.push_back(where.family);
    }
    auto [dit, first] = seen_.emplace(sample_key{it->second, ts}, line_no_);
    if (!first)
      return fail("second sample of " + to_string(out_.series[it->second].lbls) + " at timestamp " + std::to_string(ts) +
                  " (first on line " + std::to_string(dit->second) + ")");
    out_.series[it->second].samples.push_back({ts, v});
    return status::ok();
  }

  // Reads `name="value", ...}` starting at line[i] (after the `{`); leaves i
  // after the `}`.
  status label_set(std::string_view line, size_t& i, labels& ls) {
    auto skip = [&] {
      if (!om_)
        while (i < line.size() && is_blank(line[i])) ++i;
    };
    skip();
    bool first = true;
    while (true) {
      if (i >= line.size()) return fail("labels not closed with }");
      if (line[i] == '}') {
        if (!first && om_) return fail("a comma before } (OpenMetrics allows none)");
        ++i;
        return status::ok();
      }
      size_t b = i;
      if (!is_name_start(line[i])) return fail("invalid label name at " + quote_for_message(line.substr(i), 40));
      while (i < line.size() && is_name_char(line[i])) ++i;
      std::string lname(line.substr(b, i - b));
      if (lname == metric_name_label) return fail("label __name__ inside {} (the metric name comes before the braces)");
      skip();
      if (i >= line.size() || line[i] != '=') return fail("expected = after label name " + lname);
      ++i;
      skip();
      if (i >= line.size() || line[i] != '"') return fail("expected \" to open the value of label " + lname);
      ++i;
      std::string value;
      while (true) {
        if (i >= line.size()) return fail("value of label " + lname + " is not closed with \"");
        char c = line[i++];
        if (c == '"') break;
        if (c != '\\') {
          value += c;
          continue;
        }
        if (i >= line.size()) return fail("value of label " + lname + " ends in a lone backslash");
        char e = line[i++];
        if (e == '\\') value += '\\';
        else if (e == '"') value += '"';
        else if (e == 'n') value += '\n';
        else return fail("invalid escape \\" + std::string(1, e) + " in the value of label " + lname + " (\\\\, \\\", \\n)");
      }
      ls.push_back({std::move(lname), std::move(value)});
      first = false;
      skip();
      if (i < line.size() && line[i] == ',') {
        ++i;
        skip();
        first = false;
        if (i < line.size() && line[i] == '}') {
          if (om_) return fail("a comma before } (OpenMetrics allows none)");
          ++i;
          return status::ok();
        }
        continue;
      }
      if (i < line.size() && line[i] == '}') {
        ++i;
        return status::ok();
      }
      return fail("expected , or } after the value of label " + ls.back().name);
    }
  }

  bool om_;
  const text_options& o_;
  size_t line_no_ = 0;
  parsed_text out_;
  std::vector<family_state> state_;                       // parallel to out_.metadata
  std::unordered_map<std::string, size_t> families_;      // family name -> index
  std::unordered_map<std::string, size_t> series_;        // canonical label key -> index
  std::unordered_map<sample_key, size_t, sample_key_hash> seen_;  // -> line
};

}  // namespace

text_format text_format_for(std::string_view content_type) {
  return content_type.substr(0, 25) == "application/openmetrics-t" ? text_format::openmetrics : text_format::prometheus;
}

result<parsed_text> parse_text(std::string_view body, text_format f, const text_options& o) {
  return parser(f, o).run(body);
}

}  // namespace strata::wire
