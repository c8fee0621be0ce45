#include "wire/text_format.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace strata::wire {
namespace {

constexpr int64_t now = 1'700'000'000'000;

result<parsed_text> prom(std::string_view body, write_limits limits = {}) {
  text_options o;
  o.default_timestamp_ms = now;
  o.limits = limits;
  return parse_text(body, text_format::prometheus, o);
}

result<parsed_text> om(std::string_view body) {
  text_options o;
  o.default_timestamp_ms = now;
  return parse_text(body, text_format::openmetrics, o);
}

const series* find(const parsed_text& p, const std::string& text) {
  for (const auto& s : p.series)
    if (to_string(s.lbls) == text) return &s;
  return nullptr;
}

const metric_metadata* meta(const parsed_text& p, const std::string& family) {
  for (const auto& m : p.metadata)
    if (m.family == family) return &m;
  return nullptr;
}

std::string err(const result<parsed_text>& r) { return r ? "(parsed)" : r.error().message(); }

TEST(PrometheusText, SamplesHelpAndTypeAreParsed) {
  auto r = prom(
      "# HELP http_requests_total Requests served.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"get\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"200\"} 3\n"
      "\n"
      "# a comment\n"
      "temperature -3.5e1\n");
  ASSERT_TRUE(r) << err(r);
  ASSERT_EQ(r->series.size(), 3u);
  auto* s = find(*r, R"({__name__="http_requests_total", code="200", method="get"})");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->samples.size(), 1u);
  EXPECT_EQ(s->samples[0].t, 1395066363000);
  EXPECT_EQ(s->samples[0].v, 1027);
  auto* t = find(*r, R"({__name__="temperature"})");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->samples[0].t, now);
  EXPECT_EQ(t->samples[0].v, -35);
  auto* m = meta(*r, "http_requests_total");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->type, metric_type::counter);
  EXPECT_EQ(m->help, "Requests served.");
  EXPECT_EQ(r->metadata[r->family_of[2]].family, "temperature");
}

TEST(PrometheusText, HistogramSamplesBelongToTheirFamily) {
  auto r = prom(
      "# TYPE rpc histogram\n"
      "rpc_bucket{le=\"0.1\"} 3\n"
      "rpc_bucket{le=\"+Inf\"} 5\n"
      "rpc_sum 1.5\n"
      "rpc_count 5\n"
      "# TYPE lat summary\n"
      "lat{quantile=\"0.5\"} 0.2\n"
      "lat_sum 9\n"
      "lat_count 40\n");
  ASSERT_TRUE(r) << err(r);
  ASSERT_EQ(r->series.size(), 7u);
  ASSERT_EQ(r->metadata.size(), 2u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(r->metadata[r->family_of[i]].family, "rpc");
  for (size_t i = 4; i < 7; ++i) EXPECT_EQ(r->metadata[r->family_of[i]].family, "lat");
  EXPECT_EQ(r->metadata[0].type, metric_type::histogram);
  EXPECT_EQ(r->metadata[1].type, metric_type::summary);
}

TEST(PrometheusText, EscapesAreUndone) {
  auto r = prom(
      "# HELP m A \\\\ backslash\\nand newline\n"
      "m{path=\"C:\\\\dir\",q=\"say \\\"hi\\\"\",nl=\"a\\nb\"} 1\n");
  ASSERT_TRUE(r) << err(r);
  EXPECT_EQ(r->metadata[0].help, "A \\ backslash\nand newline");
  const auto& ls = r->series[0].lbls;
  EXPECT_EQ(label_value(ls, "path"), "C:\\dir");
  EXPECT_EQ(label_value(ls, "q"), "say \"hi\"");
  EXPECT_EQ(label_value(ls, "nl"), "a\nb");
}

TEST(PrometheusText, SpecialValuesAreRead) {
  auto r = prom("a NaN\nb +Inf\nc -Inf\nd Inf\ne 1e-3\n");
  ASSERT_TRUE(r) << err(r);
  EXPECT_TRUE(std::isnan(find(*r, R"({__name__="a"})")->samples[0].v));
  EXPECT_EQ(find(*r, R"({__name__="b"})")->samples[0].v, HUGE_VAL);
  EXPECT_EQ(find(*r, R"({__name__="c"})")->samples[0].v, -HUGE_VAL);
  EXPECT_EQ(find(*r, R"({__name__="d"})")->samples[0].v, HUGE_VAL);
  EXPECT_EQ(find(*r, R"({__name__="e"})")->samples[0].v, 1e-3);
}

TEST(PrometheusText, WhitespaceAndTrailingCommaAreAccepted) {
  auto r = prom("m { a = \"1\" , b=\"2\", }   7   42\nn 1");
  ASSERT_TRUE(r) << err(r);
  auto* s = find(*r, R"({__name__="m", a="1", b="2"})");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->samples[0].t, 42);
  EXPECT_NE(find(*r, R"({__name__="n"})"), nullptr);  // no final newline
}

TEST(PrometheusText, EmptyLabelValueIsDropped) {
  auto r = prom("m{a=\"\",b=\"x\"} 1\n");
  ASSERT_TRUE(r) << err(r);
  EXPECT_NE(find(*r, R"({__name__="m", b="x"})"), nullptr);
}

TEST(PrometheusText, SamplesOfOneSeriesAreJoined) {
  auto r = prom("m{a=\"1\"} 1 1000\nm{a=\"1\"} 2 2000\n");
  ASSERT_TRUE(r) << err(r);
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(r->series[0].samples.size(), 2u);
}

struct bad_case {
  const char* body;
  const char* expect;  // substring of the error
};

TEST(PrometheusText, EveryErrorNamesTheLineAndTheProblem) {
  const bad_case cases[] = {
      {"ok 1\n9bad 1\n", "line 2: invalid metric name"},
      {"m{a=\"1\" 1\n", "line 1: expected , or } after the value of label a"},
      {"m{a=\"1} 1\n", "line 1: value of label a is not closed"},
      {"m{a=\"\\x\"} 1\n", "line 1: invalid escape \\x in the value of label a"},
      {"m{1a=\"x\"} 1\n", "line 1: invalid label name"},
      {"m{a=x} 1\n", "line 1: expected \" to open the value of label a"},
      {"m abc\n", "line 1: m: invalid value \"abc\""},
      {"m 1 12.5\n", "line 1: m: invalid timestamp \"12.5\" (integer milliseconds"},
      {"m 1 2 3\n", "line 1: m: unexpected \"3\" after the value"},
      {"m\n", "line 1: m: expected a space and a value"},
      {"m{a=\"1\",a=\"2\"} 1\n", "line 1: {__name__=\"m\", a=\"1\", a=\"2\"}: duplicate label name \"a\""},
      {"# TYPE m counter\n# TYPE m gauge\n", "line 2: second # TYPE for m"},
      {"# HELP m x\n# HELP m y\n", "line 2: second # HELP for m"},
      {"m 1\n# TYPE m gauge\n", "line 2: # TYPE for m comes after samples of that family"},
      {"# TYPE m gaugehistogram\n", "line 1: # TYPE for m: unknown type \"gaugehistogram\""},
      {"m 1 5\nm 2 5\n", "line 2: second sample of {__name__=\"m\"} at timestamp 5 (first on line 1)"},
      {"m{__name__=\"x\"} 1\n", "line 1: label __name__ inside {}"},
      {"m{a=\"\xff\"} 1\n", "line 1: {__name__=\"m\", a=\"\\xff\"}: value of label \"a\" is not valid UTF-8"},
      {"# HELP m bad \\t\n", "line 1: # HELP for m: invalid escape \\t"},
      {"m 1 # {a=\"1\"} 1\n", "line 1: m: unexpected \"#\" after the value"},
  };
  for (const auto& c : cases) {
    auto r = prom(c.body);
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().code(), strata_errc::bad_request);
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos) << c.body << " -> " << r.error().message();
  }
}

TEST(PrometheusText, LimitsAreEnforcedAndNamed) {
  write_limits l;
  l.max_series = 2;
  auto r = prom("a 1\nb 1\nc 1\n", l);
  ASSERT_FALSE(r);
  EXPECT_NE(err(r).find("line 3: more than 2 series"), std::string::npos) << err(r);
  EXPECT_NE(err(r).find("--max-series-per-request"), std::string::npos);
  l = {};
  l.max_labels = 2;
  r = prom("a{x=\"1\",y=\"2\"} 1\n", l);
  EXPECT_NE(err(r).find("3 labels, over the limit of 2"), std::string::npos) << err(r);
  l = {};
  l.max_value_length = 3;
  r = prom("a{x=\"1234\"} 1\n", l);
  EXPECT_NE(err(r).find("value of label \"x\" has 4 bytes, over the limit of 3"), std::string::npos) << err(r);
  l = {};
  l.max_name_length = 8;
  r = prom("a{longlabel=\"1\"} 1\n", l);
  EXPECT_NE(err(r).find("line 1: {__name__=\"a\", longlabel=\"1\"}: label name \"longlabel\" has 9 bytes, over the limit of 8"),
            std::string::npos) << err(r);
}

TEST(OpenMetricsText, CounterTotalAndCreatedFollowTheRules) {
  auto r = om(
      "# TYPE req counter\n"
      "# HELP req Requests.\n"
      "# UNIT req_seconds seconds\n"
      "req_total{a=\"1\"} 5 1700000000.5\n"
      "req_created{a=\"1\"} 1699999000\n"
      "# EOF\n");
  ASSERT_TRUE(r) << err(r);
  ASSERT_EQ(r->series.size(), 1u);  // _created is dropped
  auto* s = find(*r, R"({__name__="req_total", a="1"})");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->samples[0].t, 1700000000500);
  EXPECT_EQ(r->metadata[r->family_of[0]].family, "req");
  auto* m = meta(*r, "req");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->type, metric_type::counter);
  EXPECT_EQ(m->help, "Requests.");
  auto* u = meta(*r, "req_seconds");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->unit, "seconds");
}

TEST(OpenMetricsText, TimestampsAreSecondsRoundedToTheMillisecond) {
  auto r = om("a 1 1520879607.789\nb 1 1520879607.7896\nc 1 1.5e3\nd 1 -1.25\n# EOF");
  ASSERT_TRUE(r) << err(r);
  EXPECT_EQ(find(*r, R"({__name__="a"})")->samples[0].t, 1520879607789);
  EXPECT_EQ(find(*r, R"({__name__="b"})")->samples[0].t, 1520879607790);
  EXPECT_EQ(find(*r, R"({__name__="c"})")->samples[0].t, 1500000);
  EXPECT_EQ(find(*r, R"({__name__="d"})")->samples[0].t, -1250);
}

TEST(OpenMetricsText, ExemplarsAreSkipped) {
  auto r = om(
      "# TYPE h histogram\n"
      "h_bucket{le=\"1\"} 2 # {trace_id=\"abc\"} 0.5 1700000000\n"
      "h_bucket{le=\"+Inf\"} 3 # {trace_id=\"def\"} 7\n"
      "h_count 3\n"
      "h_sum 8.5\n"
      "# EOF\n");
  ASSERT_TRUE(r) << err(r);
  EXPECT_EQ(r->series.size(), 4u);
  for (auto f : r->family_of) EXPECT_EQ(r->metadata[f].family, "h");
}

TEST(OpenMetricsText, InfoAndGaugeHistogramFamilies) {
  auto r = om(
      "# TYPE build info\n"
      "build_info{version=\"1.2\"} 1\n"
      "# TYPE q gaugehistogram\n"
      "q_bucket{le=\"+Inf\"} 4\n"
      "q_gcount 4\n"
      "q_gsum 2\n"
      "# EOF\n");
  ASSERT_TRUE(r) << err(r);
  EXPECT_EQ(r->series.size(), 4u);
  EXPECT_EQ(r->metadata[r->family_of[0]].type, metric_type::info);
  EXPECT_EQ(r->metadata[r->family_of[3]].type, metric_type::gaugehistogram);
}

TEST(OpenMetricsText, EveryErrorNamesTheLineAndTheProblem) {
  const bad_case cases[] = {
      {"a 1\n", "line 2: the exposition does not end with # EOF"},
      {"a 1\n# EOF\nb 1\n", "line 3: data after # EOF"},
      {"a 1\n\n# EOF\n", "line 2: empty line"},
      {"# just a comment\n# EOF\n", "line 1: unknown metadata keyword \"just\""},
      {"#x\n# EOF\n", "line 1: a line starting with # must be"},
      {"# TYPE c counter\nc 1\n# EOF\n", "line 2: counter family c has a sample without the suffix"},
      {"# TYPE h histogram\nh_bucket 1\n# EOF\n", "line 2: histogram bucket h_bucket has no le label"},
      {"# UNIT a_bytes seconds\n# EOF\n", "line 1: # UNIT for a_bytes: the family name must end in _seconds"},
      {"a 1\n# HELP a late\n# EOF\n", "line 2: # HELP for a comes after samples"},
      {"# TYPE a untyped\n# EOF\n", "line 1: # TYPE for a: unknown type \"untyped\""},
      {"a{b=\"1\",} 1\n# EOF\n", "line 1: a comma before }"},
      {"a  1\n# EOF\n", "line 1: a: more than one space before the value"},
      {"a 1 abc\n# EOF\n", "line 1: a: invalid timestamp \"abc\" (seconds"},
      {"a 1 # x\n# EOF\n", "line 1: a: an exemplar must start with {"},
      {"a 1 # {x=\"1\" 1\n# EOF\n", "line 1: expected , or } after the value of label x"},
  };
  for (const auto& c : cases) {
    auto r = om(c.body);
    ASSERT_FALSE(r) << c.body;
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos) << c.body << " -> " << r.error().message();
  }
}

TEST(TextFormat, ContentTypePicksTheParser) {
  EXPECT_EQ(text_format_for("application/openmetrics-text; version=1.0.0; charset=utf-8"), text_format::openmetrics);
  EXPECT_EQ(text_format_for("text/plain; version=0.0.4"), text_format::prometheus);
  EXPECT_EQ(text_format_for(""), text_format::prometheus);
}

TEST(MetricType, SpellingsRoundTrip) {
  metric_type t;
  for (const char* s : {"unknown", "counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset"}) {
    ASSERT_TRUE(parse_metric_type(s, t)) << s;
    EXPECT_STREQ(to_string(t), s);
  }
  ASSERT_TRUE(parse_metric_type("untyped", t));
  EXPECT_EQ(t, metric_type::unknown);
  EXPECT_FALSE(parse_metric_type("Counter", t));
}

}  // namespace
}  // namespace strata::wire
