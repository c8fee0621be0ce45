// The evaluator over the whole language: operators, matching, aggregations,
// functions, subqueries, @ and limits. Data is loaded as series sampled
// every minute; results are compared as text, one `labels value` per line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <sstream>

#include "query/engine.hpp"
#include "query/functions.hpp"
#include "query/parser.hpp"

namespace strata::query {
namespace {

constexpr int64_t minute = 60000;

labels parse_labels(const std::string& text) {
  // name{a="b",c="d"} with plain values (no escapes) is all the tests need.
  labels out;
  size_t brace = text.find('{');
  std::string name = text.substr(0, brace);
  if (!name.empty()) out.push_back({"__name__", name});
  if (brace != std::string::npos) {
    std::string body = text.substr(brace + 1, text.size() - brace - 2);
    size_t p = 0;
    while (p < body.size()) {
      size_t eq = body.find('=', p);
      size_t q1 = body.find('"', eq);
      size_t q2 = body.find('"', q1 + 1);
      out.push_back({body.substr(p, eq - p), body.substr(q1 + 1, q2 - q1 - 1)});
      p = q2 + 1;
      if (p < body.size() && body[p] == ',') ++p;
    }
  }
  sort_labels(out);
  return out;
}

class memory_source final : public series_source {
 public:
  // Samples at 0, 1m, 2m, ...; NaN in `values` means "no sample there".
  void load(const std::string& metric, std::vector<double> values) {
    series s{parse_labels(metric), {}};
    for (size_t i = 0; i < values.size(); ++i)
      if (!std::isnan(values[i])) s.samples.push_back({static_cast<int64_t>(i) * minute, values[i]});
    data_.push_back(std::move(s));
  }
  void add(series s) { data_.push_back(std::move(s)); }

  result<std::vector<series>> select(const matchers& ms, int64_t mint, int64_t maxt) override {
    ++calls;
    std::vector<series> out;
    for (const auto& s : data_) {
      if (!matches_all(ms, s.lbls)) continue;
      series cut{s.lbls, {}};
      for (const auto& x : s.samples)
        if (x.t >= mint && x.t <= maxt) cut.samples.push_back(x);
      if (!cut.samples.empty()) out.push_back(std::move(cut));
    }
    return out;
  }
  int calls = 0;

 private:
  std::vector<series> data_;
};

std::string fmt(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

// name{a="b", c="d"}, or {a="b"} without a name.
std::string show(const labels& ls) {
  std::string name, inner;
  for (const auto& l : ls) {
    if (l.name == "__name__") {
      name = l.value;
      continue;
    }
    if (!inner.empty()) inner += ", ";
    inner += l.name + "=\"" + l.value + "\"";
  }
  return name + "{" + inner + "}";
}

std::string render(const query_result& r) {
  std::string out;
  if (const auto* v = std::get_if<vector>(&r.value)) {
    for (const auto& s : *v) out += show(s.metric) + " " + fmt(s.s.v) + "\n";
  } else if (const auto* m = std::get_if<matrix>(&r.value)) {
    for (const auto& s : *m) {
      out += show(s.lbls);
      for (const auto& x : s.samples) out += " " + fmt(x.v) + "@" + std::to_string(x.t / 1000);
      out += "\n";
    }
  } else if (const auto* sc = std::get_if<scalar_result>(&r.value)) {
    out = "scalar " + fmt(sc->v) + "\n";
  } else {
    out = "string " + std::get<string_result>(r.value).v + "\n";
  }
  return out;
}

std::string instant(memory_source& src, const std::string& q, int64_t t, const eval_options& o = {}) {
  auto e = parse(q);
  if (!e) return "parse: " + e.error().message();
  auto r = eval_instant(*e, src, t, o);
  if (!r) return "error: " + r.error().message();
  return render(*r);
}

std::string range(memory_source& src, const std::string& q, int64_t start, int64_t end, int64_t step) {
  auto e = parse(q);
  if (!e) return "parse: " + e.error().message();
  auto r = eval_range(*e, src, start, end, step, {});
  if (!r) return "error: " + r.error().message();
  return render(*r);
}

class Eval : public ::testing::Test {
 protected:
  void SetUp() override {
    src.load("req{job=\"a\",i=\"0\"}", {0, 10, 20, 30, 40, 50});
    src.load("req{job=\"a\",i=\"1\"}", {0, 20, 40, 60, 80, 100});
    src.load("req{job=\"b\",i=\"0\"}", {5, 5, 5, 5, 5, 5});
    src.load("lim{job=\"a\"}", {25, 25, 25, 25, 25, 25});
    src.load("lim{job=\"b\"}", {1, 1, 1, 1, 1, 1});
  }
  memory_source src;
};

TEST_F(Eval, ScalarArithmeticAndPrecedence) {
  EXPECT_EQ(instant(src, "1 + 2 * 3", 0), "scalar 7\n");
  EXPECT_EQ(instant(src, "-2 ^ 2", 0), "scalar -4\n");
  EXPECT_EQ(instant(src, "2 ^ 3 ^ 2", 0), "scalar 512\n");
  EXPECT_EQ(instant(src, "5 % 3", 0), "scalar 2\n");
  EXPECT_EQ(instant(src, "1 < bool 2", 0), "scalar 1\n");
  EXPECT_EQ(instant(src, "time()", 90000), "scalar 90\n");
  EXPECT_EQ(instant(src, "\"hello\"", 0), "string hello\n");
}

TEST_F(Eval, VectorScalarDropsNameExceptForFilters) {
  EXPECT_EQ(instant(src, "req{job=\"b\"} * 2", 2 * minute), "{i=\"0\", job=\"b\"} 10\n");
  EXPECT_EQ(instant(src, "req > 25", 2 * minute), "req{i=\"1\", job=\"a\"} 40\n");
  EXPECT_EQ(instant(src, "30 < req", 2 * minute), "req{i=\"1\", job=\"a\"} 40\n");
  EXPECT_EQ(instant(src, "req{job=\"b\"} > bool 25", 2 * minute), "{i=\"0\", job=\"b\"} 0\n");
}

TEST_F(Eval, OneToOneMatching) {
  EXPECT_EQ(instant(src, "req{i=\"0\"} - on(job) lim", 2 * minute),
            "{job=\"a\"} -5\n{job=\"b\"} 4\n");
  EXPECT_EQ(instant(src, "req{i=\"0\"} / ignoring(i) lim", 2 * minute),
            "{job=\"a\"} 0.8\n{job=\"b\"} 5\n");
}

TEST_F(Eval, ManyToOneNeedsGroupLeft) {
  EXPECT_EQ(instant(src, "req - on(job) lim", 2 * minute),
            "error: multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)");
  EXPECT_EQ(instant(src, "req - on(job) group_left lim", 2 * minute),
            "{i=\"0\", job=\"a\"} -5\n{i=\"0\", job=\"b\"} 4\n{i=\"1\", job=\"a\"} 15\n");
  EXPECT_EQ(instant(src, "lim + on(job) group_right req", 2 * minute),
            "{i=\"0\", job=\"a\"} 45\n{i=\"0\", job=\"b\"} 6\n{i=\"1\", job=\"a\"} 65\n");
}

TEST_F(Eval, DuplicateOnTheOneSideIsAnError) {
  auto r = instant(src, "lim + on(job) req", 2 * minute);
  EXPECT_NE(r.find("many-to-many matching not allowed"), std::string::npos) << r;
}

TEST_F(Eval, SetOperators) {
  EXPECT_EQ(instant(src, "req and on(job) lim{job=\"b\"}", 0), "req{i=\"0\", job=\"b\"} 5\n");
  EXPECT_EQ(instant(src, "req unless on(job) lim{job=\"b\"}", 0),
            "req{i=\"0\", job=\"a\"} 0\nreq{i=\"1\", job=\"a\"} 0\n");
  EXPECT_EQ(instant(src, "lim{job=\"a\"} or on(job) lim", 0), "lim{job=\"a\"} 25\nlim{job=\"b\"} 1\n");
}

TEST_F(Eval, Aggregations) {
  int64_t t = 2 * minute;
  EXPECT_EQ(instant(src, "sum(req)", t), "{} 65\n");
  EXPECT_EQ(instant(src, "sum by (job) (req)", t), "{job=\"a\"} 60\n{job=\"b\"} 5\n");
  EXPECT_EQ(instant(src, "avg without (i) (req)", t), "{job=\"a\"} 30\n{job=\"b\"} 5\n");
  EXPECT_EQ(instant(src, "count(req)", t), "{} 3\n");
  EXPECT_EQ(instant(src, "max(req)", t), "{} 40\n");
  EXPECT_EQ(instant(src, "min(req)", t), "{} 5\n");
  EXPECT_EQ(instant(src, "group(req)", t), "{} 1\n");
  EXPECT_EQ(instant(src, "stdvar by (job) (req)", t), "{job=\"a\"} 100\n{job=\"b\"} 0\n");
  EXPECT_EQ(instant(src, "quantile(0.5, req)", t), "{} 20\n");
  EXPECT_EQ(instant(src, "topk(2, req)", t), "req{i=\"1\", job=\"a\"} 40\nreq{i=\"0\", job=\"a\"} 20\n");
  EXPECT_EQ(instant(src, "bottomk by (job) (1, req)", t), "req{i=\"0\", job=\"a\"} 20\nreq{i=\"0\", job=\"b\"} 5\n");
  EXPECT_EQ(instant(src, "count_values(\"v\", lim)", t), "{v=\"1\"} 1\n{v=\"25\"} 1\n");
  EXPECT_EQ(instant(src, "count(limitk(1, req))", t), "{} 1\n");
  EXPECT_EQ(instant(src, "count(limit_ratio(1, req))", t), "{} 3\n");
  EXPECT_EQ(instant(src, "count(limit_ratio(0.5, req)) + count(limit_ratio(-0.5, req))", t), "{} 3\n");
}

TEST_F(Eval, RangeFunctionsAndNameDropping) {
  EXPECT_EQ(instant(src, "rate(req{job=\"a\",i=\"0\"}[5m])", 5 * minute), "{i=\"0\", job=\"a\"} 0.166667\n");
  EXPECT_EQ(instant(src, "last_over_time(lim{job=\"b\"}[5m])", 5 * minute), "lim{job=\"b\"} 1\n");
  EXPECT_EQ(instant(src, "absent_over_time(nope{x=\"y\"}[5m])", 5 * minute), "{x=\"y\"} 1\n");
  EXPECT_EQ(instant(src, "absent(nope{x=\"y\",z=~\"a\"})", 0), "{x=\"y\"} 1\n");
  EXPECT_EQ(instant(src, "absent(req)", 0), "");
}

TEST_F(Eval, ElementwiseAndLabelFunctions) {
  EXPECT_EQ(instant(src, "clamp(req{job=\"a\"}, 15, 30)", 2 * minute),
            "{i=\"0\", job=\"a\"} 20\n{i=\"1\", job=\"a\"} 30\n");
  EXPECT_EQ(instant(src, "sqrt(lim{job=\"a\"})", 0), "{job=\"a\"} 5\n");
  EXPECT_EQ(instant(src, "label_replace(lim{job=\"a\"}, \"x\", \"<$1>\", \"job\", \"(.*)\")", 0),
            "lim{job=\"a\", x=\"<a>\"} 25\n");
  EXPECT_EQ(instant(src, "label_join(lim{job=\"a\"}, \"x\", \"-\", \"job\", \"job\")", 0),
            "lim{job=\"a\", x=\"a-a\"} 25\n");
  EXPECT_EQ(instant(src, "label_replace(req, \"i\", \"\", \"\", \"\")", 0),
            "error: vector cannot contain metrics with the same labelset");
  EXPECT_EQ(instant(src, "sort_desc(req)", 2 * minute),
            "req{i=\"1\", job=\"a\"} 40\nreq{i=\"0\", job=\"a\"} 20\nreq{i=\"0\", job=\"b\"} 5\n");
  EXPECT_EQ(instant(src, "scalar(lim{job=\"b\"})", 0), "scalar 1\n");
  EXPECT_EQ(instant(src, "vector(3)", 0), "{} 3\n");
  EXPECT_EQ(instant(src, "timestamp(lim{job=\"b\"})", 90000), "{job=\"b\"} 60\n");
}

TEST_F(Eval, HistogramQuantileOverClassicBuckets) {
  memory_source h;
  h.load("h_bucket{le=\"1\"}", {0, 10});
  h.load("h_bucket{le=\"2\"}", {0, 20});
  h.load("h_bucket{le=\"+Inf\"}", {0, 20});
  EXPECT_EQ(instant(h, "histogram_quantile(0.5, h_bucket)", minute), "{} 1\n");
  EXPECT_EQ(instant(h, "histogram_quantile(0.75, h_bucket)", minute), "{} 1.5\n");
}

TEST_F(Eval, RangeQueryEvaluatesEveryStep) {
  EXPECT_EQ(range(src, "sum by (job) (req)", 0, 2 * minute, minute),
            "{job=\"a\"} 0@0 30@60 60@120\n{job=\"b\"} 5@0 5@60 5@120\n");
  EXPECT_EQ(range(src, "req{job=\"b\"} - 1", 0, minute, minute), "{i=\"0\", job=\"b\"} 4@0 4@60\n");
  EXPECT_EQ(range(src, "time()", 0, minute, minute), "{} 0@0 60@60\n");
  EXPECT_EQ(range(src, "req[5m]", 0, minute, minute).rfind("error: invalid expression type \"range vector\"", 0), 0u);
}

TEST_F(Eval, SubqueriesAndAt) {
  EXPECT_EQ(instant(src, "max_over_time(req{job=\"a\",i=\"1\"}[3m:1m])", 5 * minute), "{i=\"1\", job=\"a\"} 100\n");
  EXPECT_EQ(instant(src, "count_over_time(req{job=\"b\"}[3m:1m])", 5 * minute), "{i=\"0\", job=\"b\"} 3\n");
  EXPECT_EQ(instant(src, "req{job=\"a\",i=\"1\"} @ 60", 5 * minute), "req{i=\"1\", job=\"a\"} 20\n");
  EXPECT_EQ(range(src, "req{job=\"a\",i=\"1\"} @ start()", minute, 2 * minute, minute),
            "req{i=\"1\", job=\"a\"} 20@60 20@120\n");
  EXPECT_EQ(instant(src, "req{job=\"a\",i=\"1\"} offset 2m", 5 * minute), "req{i=\"1\", job=\"a\"} 60\n");
}

TEST_F(Eval, FillModifiersStandInForMissingSeries) {
  memory_source f;
  f.load("l{k=\"a\"}", {1});
  f.load("l{k=\"b\"}", {2});
  f.load("r{k=\"a\"}", {10});
  f.load("r{k=\"c\"}", {30});
  EXPECT_EQ(instant(f, "l + fill(0) r", 0), "{k=\"a\"} 11\n{k=\"b\"} 2\n{k=\"c\"} 30\n");
  EXPECT_EQ(instant(f, "l + fill_right(5) r", 0), "{k=\"a\"} 11\n{k=\"b\"} 7\n");
  EXPECT_EQ(instant(f, "l + fill_left(5) r", 0), "{k=\"a\"} 11\n{k=\"c\"} 35\n");
}

TEST_F(Eval, DurationExpressionsUseTheQueryStepAndRange) {
  EXPECT_EQ(range(src, "lim{job=\"b\"} offset step()", minute, 3 * minute, minute), "lim{job=\"b\"} 1@60 1@120 1@180\n");
  EXPECT_EQ(instant(src, "count_over_time(req{job=\"b\"}[2m+1m])", 5 * minute), "{i=\"0\", job=\"b\"} 3\n");
  EXPECT_EQ(range(src, "count_over_time(req{job=\"b\"}[range()])", 2 * minute, 5 * minute, minute),
            "{i=\"0\", job=\"b\"} 3@120 3@180 3@240 3@300\n");
}

TEST_F(Eval, InfoAddsDataLabelsOfMatchingInfoSeries) {
  memory_source i;
  i.load("m{instance=\"a\",job=\"j\"}", {1});
  i.load("m{instance=\"b\",job=\"j\"}", {2});
  i.load("target_info{instance=\"a\",job=\"j\",region=\"eu\"}", {1});
  EXPECT_EQ(instant(i, "info(m)", 0), "m{instance=\"a\", job=\"j\", region=\"eu\"} 1\nm{instance=\"b\", job=\"j\"} 2\n");
  EXPECT_EQ(instant(i, "info(m, {region=~\".+\"})", 0), "m{instance=\"a\", job=\"j\", region=\"eu\"} 1\n");
  auto e = parse("info(m)");
  auto sel = selections(*e, 0, 0, 0, {});
  ASSERT_EQ(sel.size(), 2u);
  EXPECT_EQ(sel[1].label_matchers.back().value(), "target_info");
}

// The info series are read at the time the base series are read: @ and
// offset on a subquery, and inside it, move that time too.
TEST_F(Eval, InfoReadsInfoSeriesAtTheTimeOfSubqueryModifiers) {
  const double _ = std::nan("");
  memory_source i;
  i.load("m{instance=\"a\",job=\"j\"}", {0, 1, 2, 3, 4, 5, 6, 7, 8});
  i.load("target_info{instance=\"a\",job=\"j\",version=\"old\"}", {1, 1, 1});
  i.load("target_info{instance=\"a\",job=\"j\",version=\"new\"}", {_, _, _, 1, 1, 1, 1, 1, 1});
  EXPECT_EQ(instant(i, "info(last_over_time(m[10m:1m] @ 420))", 8 * minute),
            "m{instance=\"a\", job=\"j\", version=\"new\"} 7\n");
  EXPECT_EQ(instant(i, "info(last_over_time((m offset 1m)[10m:1m] @ 180))", 8 * minute),
            "m{instance=\"a\", job=\"j\", version=\"old\"} 2\n");
  EXPECT_EQ(range(i, "info(last_over_time(m[5m:1m] offset 6m))", 8 * minute, 9 * minute, minute),
            "m{instance=\"a\", job=\"j\", version=\"new\"} 3@540\nm{instance=\"a\", job=\"j\", version=\"old\"} 2@480\n");
}

TEST_F(Eval, HistogramQuantilesLabelsEachQuantile) {
  memory_source h;
  h.load("h_bucket{le=\"1\"}", {10});
  h.load("h_bucket{le=\"2\"}", {20});
  h.load("h_bucket{le=\"+Inf\"}", {20});
  EXPECT_EQ(instant(h, "histogram_quantiles(h_bucket, \"q\", 0.5, 1)", 0), "{q=\"0.5\"} 1\n{q=\"1.0\"} 2\n");
}

TEST_F(Eval, QueryShapeFunctions) {
  EXPECT_EQ(range(src, "step()", 0, 2 * minute, minute), "{} 60@0 60@60 60@120\n");
  EXPECT_EQ(range(src, "range()", 0, 2 * minute, minute), "{} 120@0 120@60 120@120\n");
  EXPECT_EQ(instant(src, "end() - start()", 5 * minute), "scalar 0\n");
  EXPECT_EQ(instant(src, "min_of(3, 5)", 0), "scalar 3\n");
  EXPECT_EQ(instant(src, "max_of(NaN, 5)", 0), "scalar nan\n");
}

TEST_F(Eval, DelayedNameRemovalLetsLabelReplaceSeeTheName) {
  EXPECT_EQ(instant(src, "label_replace(-lim, \"n\", \"$1\", \"__name__\", \"(.*)\")", 0),
            "{job=\"a\", n=\"lim\"} -25\n{job=\"b\", n=\"lim\"} -1\n");
  EXPECT_EQ(instant(src, "sum by (__name__) (lim)", 0), "lim{} 26\n");
  EXPECT_EQ(instant(src, "sum by (__name__) (-lim)", 0), "{} -26\n");
}

TEST_F(Eval, AnchoredAndSmoothedWindows) {
  memory_source c;
  // One sample every 15 s: 1 2 3 4 5 at 0..60 s, then 9 at 75 s.
  series s{{{"__name__", "c"}}, {{0, 1}, {15000, 2}, {30000, 3}, {45000, 4}, {60000, 5}, {75000, 9}}};
  c.add(s);
  // (20 s, 80 s] holds 3 4 5 9; anchored adds 2 at 15 s, without extrapolation.
  EXPECT_EQ(instant(c, "increase(c[1m] anchored)", 80000), "{} 7\n");
  // smoothed: (5 s, 65 s] runs from 1.33 (interpolated at 5 s) to 6.33 (at 65 s).
  EXPECT_EQ(instant(c, "increase(c[1m] smoothed)", 65000), "{} 5\n");
  EXPECT_EQ(instant(c, "c smoothed", 20000), "c{} 2.33333\n");
  auto e = parse("increase(c[1m] smoothed)");
  auto sel = selections(*e, 65000, 65000, 0, {});
  ASSERT_EQ(sel.size(), 1u);
  EXPECT_EQ(sel[0].mint, 65000 - 60000 - 300000 + 1);
  EXPECT_EQ(sel[0].maxt, 65000 + 300000);
  EXPECT_NE(instant(c, "max_over_time(c[1m] anchored)", 65000).find("error: "), std::string::npos);
}

TEST_F(Eval, SelectionsCoverSubqueriesAndAt) {
  auto e = parse("rate(req[5m] @ 600)[10m:1m] offset 1m");
  ASSERT_TRUE(e.is_ok());
  auto sel = selections(*e, 3600000, 3600000, 1, {});
  ASSERT_EQ(sel.size(), 1u);
  EXPECT_EQ(sel[0].mint, 600000 - 300000 + 1);
  EXPECT_EQ(sel[0].maxt, 600000);
  auto f = parse("max_over_time(req[10m:1m] offset 1m)");
  auto sf = selections(*f, 3600000, 3600000, 1, {});
  ASSERT_EQ(sf.size(), 1u);
  EXPECT_EQ(sf[0].maxt, 3600000 - 60000);
  EXPECT_EQ(sf[0].mint, 3600000 - 60000 - 600000 - 300000 + 1);
}

TEST_F(Eval, DeadlineInThePastTimesOut) {
  eval_options o;
  o.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  auto e = parse("sum(req)");
  auto r = eval_instant(*e, src, 0, o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().code(), strata_errc::timeout);
  EXPECT_EQ(r.error().message(), "query timed out in expression evaluation");
}

TEST_F(Eval, MaxSamplesCountsLoadedSamples) {
  eval_options o;
  o.max_samples = 2;
  EXPECT_EQ(instant(src, "sum(req)", 0, o),
            "error: query processing would load too many samples into memory in query execution");
  o.max_samples = 3;
  EXPECT_EQ(instant(src, "sum(req)", 0, o), "{} 5\n");
}

// A range query answers at every step what an instant query answers there.
TEST_F(Eval, RangeAgreesWithInstantAtEveryStep) {
  uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  memory_source r;
  std::uniform_real_distribution<double> val(0, 100);
  for (int s = 0; s < 4; ++s) {
    std::vector<double> v;
    for (int i = 0; i < 30; ++i) v.push_back(rng() % 5 == 0 ? std::nan("") : val(rng));
    r.load("m{s=\"" + std::to_string(s) + "\",g=\"" + std::to_string(s % 2) + "\"}", v);
  }
  for (const char* q : {"m", "rate(m[5m])", "sum by (g) (m)", "m > on(s) group_left avg by (s) (m offset 3m)",
                        "max_over_time(m[7m:2m])", "topk(1, m)", "m and on(g) (m > 50)"}) {
    auto e = parse(q);
    ASSERT_TRUE(e.is_ok()) << q;
    auto rr = eval_range(*e, r, 0, 29 * minute, 3 * minute, {});
    ASSERT_TRUE(rr.is_ok()) << q << rr.error().message();
    for (int64_t t = 0; t <= 29 * minute; t += 3 * minute) {
      auto ir = eval_instant(*e, r, t, {});
      ASSERT_TRUE(ir.is_ok());
      for (const auto& s : std::get<vector>(ir->value)) {
        bool found = false;
        for (const auto& ser : std::get<matrix>(rr->value))
          if (ser.lbls == s.metric)
            for (const auto& x : ser.samples)
              if (x.t == t) found = (x.v == s.s.v) || (std::isnan(x.v) && std::isnan(s.s.v));
        EXPECT_TRUE(found) << q << " at " << t << " " << to_string(s.metric);
      }
    }
  }
}

// sum/avg/max over rate() add each series into its group as it is computed;
// the result must be what adding the rate series up step by step, in label
// order, gives, bit for bit (Kahan and mean compensation included).
TEST(EvalFusedAggregation, SameBitsAsAddingTheRateSeriesStepByStep) {
  memory_source src;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> inc(0, 1e6);
  for (int i = 0; i < 40; ++i) {
    std::vector<double> v(60);
    double c = inc(rng) * 1e9;
    for (size_t k = 0; k < v.size(); ++k) {
      c += k % 17 == 16 ? -c + inc(rng) : inc(rng) * (i % 3 == 0 ? 1e-7 : 1);  // resets and tiny increments
      v[k] = (i + k) % 11 == 0 ? std::nan("") : c;  // gaps
    }
    src.load("c{g=\"" + std::to_string(i % 4) + "\",i=\"" + std::to_string(i) + "\"}", v);
  }
  src.load("c{g=\"empty\",i=\"x\"}", {1});  // no rate anywhere in the range
  int64_t start = 10 * minute, end = 59 * minute, step = 30000;
  auto e = parse("rate(c[5m])");
  ASSERT_TRUE(e);
  auto per_series = eval_range(*e, src, start, end, step, {});
  ASSERT_TRUE(per_series);
  const auto& rates = std::get<matrix>(per_series->value);
  for (const char* op : {"sum", "avg", "max"}) {
    std::map<std::string, std::map<int64_t, fn::kahan>> sums;
    std::map<std::string, std::map<int64_t, fn::mean_accumulator>> means;
    std::map<std::string, std::map<int64_t, double>> maxes;
    for (const auto& s : rates) {
      std::string g(label_value(s.lbls, "g"));
      for (const auto& x : s.samples) {
        sums[g][x.t].add(x.v);
        means[g][x.t].add(x.v);
        auto [it, fresh] = maxes[g].emplace(x.t, x.v);
        if (!fresh && (it->second < x.v || std::isnan(it->second))) it->second = x.v;
      }
    }
    auto agg = parse(std::string(op) + " by (g) (rate(c[5m]))");
    ASSERT_TRUE(agg);
    auto r = eval_range(*agg, src, start, end, step, {});
    ASSERT_TRUE(r) << r.error().message();
    const auto& got = std::get<matrix>(r->value);
    ASSERT_EQ(got.size(), 4u) << op;
    for (const auto& s : got) {
      std::string g(label_value(s.lbls, "g"));
      ASSERT_EQ(s.samples.size(), sums[g].size()) << op << " " << g;
      for (const auto& x : s.samples) {
        double want = std::string(op) == "sum"   ? sums[g][x.t].value()
                      : std::string(op) == "avg" ? means[g][x.t].value()
                                                 : maxes[g][x.t];
        uint64_t a, b;
        std::memcpy(&a, &x.v, 8);
        std::memcpy(&b, &want, 8);
        EXPECT_EQ(a, b) << op << " " << g << " at " << x.t << ": " << x.v << " vs " << want;
      }
    }
  }
}

// Every point of `e` (f over one range selector of `loaded`'s series) over
// the grid must be what the per-window function gives, bit for bit.
void expect_each_window(memory_source& src, const std::vector<series>& loaded, const expr& e, fn::range_fn rf,
                        const char* f, int64_t range, int64_t start, int64_t end, int64_t step) {
  auto r = eval_range(e, src, start, end, step, {});
  ASSERT_TRUE(r) << r.error().message();
  const auto& got = std::get<matrix>(r->value);
  std::map<labels, const series*> by_labels;
  for (const auto& s : got) by_labels[s.lbls] = &s;
  size_t points = 0;
  for (const auto& s : loaded) {
    labels want_lbls;
    for (const auto& l : s.lbls)
      if (l.name != "__name__") want_lbls.push_back(l);
    std::vector<sample> want;
    for (int64_t t = start; t <= end; t += step) {
      auto lo = std::upper_bound(s.samples.begin(), s.samples.end(), t - range,
                                 [](int64_t x, const sample& y) { return x < y.t; });
      auto hi = std::upper_bound(s.samples.begin(), s.samples.end(), t,
                                 [](int64_t x, const sample& y) { return x < y.t; });
      double x;
      if (lo != hi && rf(fn::window{&*lo, &*lo + (hi - lo), t, range}, nullptr, x)) want.push_back({t, x});
    }
    auto it = by_labels.find(want_lbls);
    ASSERT_NE(it, by_labels.end()) << f;
    ASSERT_EQ(it->second->samples.size(), want.size()) << f << " range " << range;
    for (size_t k = 0; k < want.size(); ++k) {
      uint64_t a, b;
      std::memcpy(&a, &it->second->samples[k].v, 8);
      std::memcpy(&b, &want[k].v, 8);
      ASSERT_EQ(it->second->samples[k].t, want[k].t);
      EXPECT_EQ(a, b) << f << " range " << range << " at " << want[k].t;
      ++points;
    }
  }
  EXPECT_GT(points, 500u);
}

// max_over_time and min_over_time slide a queue over each series instead of
// scanning every window; each point must be what fn::compare_over_time gives
// on that window, bit for bit: NaNs (with payloads), windows of NaNs only,
// ties, +0 and -0, gaps, windows longer and shorter than the step.
TEST(EvalSlidingExtremes, SameBitsAsComparingEachWindow) {
  memory_source src;
  std::mt19937_64 rng(11);
  auto nan_with = [](uint64_t payload) {
    uint64_t b = 0x7ff8000000000000ull | payload;
    double v;
    std::memcpy(&v, &b, 8);
    return v;
  };
  std::vector<series> loaded;
  for (int i = 0; i < 12; ++i) {
    series s{parse_labels("g{i=\"" + std::to_string(i) + "\"}"), {}};
    int64_t t = 0;
    for (int k = 0; k < 400; ++k) {
      t += 5000 + static_cast<int64_t>(rng() % 4) * 5000 + (k % 97 == 0 ? 20 * minute : 0);  // gaps
      double v;
      switch (rng() % 8) {
        case 0: v = nan_with(rng() % 1000 + 1); break;
        case 1: v = (rng() % 2) ? 0.0 : -0.0; break;
        case 2: v = static_cast<double>(rng() % 3); break;  // ties
        default: v = static_cast<double>(static_cast<int64_t>(rng() % 2000) - 1000) / 7;
      }
      if (i == 0 && k >= 100 && k < 200) v = nan_with(k);  // long runs of NaNs
      s.samples.push_back({t, v});
    }
    loaded.push_back(s);
    src.add(std::move(s));
  }
  for (const char* f : {"max_over_time", "min_over_time"}) {
    fn::range_fn rf = fn::find_range_function(f);
    for (auto [range, step] : {std::pair<int64_t, int64_t>{5 * minute, 15000}, {minute / 2, 90000}, {30 * minute, 60000}}) {
      int64_t start = 0, end = loaded[0].samples.back().t + range;
      auto e = parse(std::string(f) + "(g[" + std::to_string(range / 1000) + "s])");
      ASSERT_TRUE(e);
      expect_each_window(src, loaded, *e, rf, f, range, start, end, step);
    }
  }
}

// rate and increase slide over each series and compute a window's
// extrapolation edges only when they differ from the previous window's;
// each point must be what the per-window function gives, bit for bit:
// regular scrapes (edges repeating), jitter and gaps (edges changing),
// counters starting near zero (the zero point cuts the start short),
// resets.
TEST(EvalSlidingRate, SameBitsAsExtrapolatingEachWindow) {
  memory_source src;
  std::mt19937_64 rng(5);
  std::vector<series> loaded;
  for (int i = 0; i < 12; ++i) {
    series s{parse_labels("c{i=\"" + std::to_string(i) + "\"}"), {}};
    int64_t t = 1000 * i;
    double c = i % 3 == 0 ? 0.5 : 1e4 * i;
    for (int k = 0; k < 500; ++k) {
      t += 15000 + (i % 2 ? static_cast<int64_t>(rng() % 3) * 1000 : 0) + (k % 131 == 130 ? 10 * minute : 0);
      c = k % 89 == 88 ? static_cast<double>(rng() % 5) : c + static_cast<double>(rng() % 1000) / 8;
      s.samples.push_back({t, c});
    }
    loaded.push_back(s);
    src.add(std::move(s));
  }
  // Scrapes every 60 s with a burst of three more between two of them now
  // and then: consecutive windows (5m, step 60 s) whose edges are the same
  // but whose sample counts (so average spacing, and whether the start is
  // extrapolated by half of it) differ.
  series burst{parse_labels("c{i=\"burst\"}"), {}};
  for (int k = 0; k < 200; ++k) {
    burst.samples.push_back({50000 + k * minute, k * 10.0});
    if (k % 10 == 5)
      for (int j = 1; j <= 3; ++j) burst.samples.push_back({50000 + k * minute + j * 15000, k * 10.0 + j});
  }
  loaded.push_back(burst);
  src.add(std::move(burst));
  for (const char* f : {"rate", "increase"}) {
    fn::range_fn rf = fn::find_range_function(f);
    for (auto [range, step] : {std::pair<int64_t, int64_t>{5 * minute, 15000}, {5 * minute, 60000}, {minute, 60000},
                               {20 * minute, 45000}}) {
      int64_t start = 0, end = loaded[loaded.size() - 2].samples.back().t + range;
      auto e = parse(std::string(f) + "(c[" + std::to_string(range / 1000) + "s])");
      ASSERT_TRUE(e);
      expect_each_window(src, loaded, *e, rf, f, range, start, end, step);
    }
  }
}

}  // namespace
}  // namespace strata::query
