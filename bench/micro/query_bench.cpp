// A day of 15 s samples of 100 series, queried over raw samples and over
// rollup buckets (docs/design/query.md, "Rollup tiers"). The sources answer
// from memory, so this is the engine's share of a query; fetching fewer
// items from the shards saves more.
#include <benchmark/benchmark.h>

#include <map>

#include "persistence/codec/rollup.hpp"
#include "query/engine.hpp"
#include "query/parser.hpp"

namespace strata::query {
namespace {

constexpr int64_t hour_ms = 3'600'000;
constexpr int64_t now = 400LL * 24 * hour_ms;

class sketch final : public value_sketch {
 public:
  explicit sketch(persistence::codec::quantile_sketch s) : s_(std::move(s)) {}
  std::unique_ptr<value_sketch> clone() const override { return std::make_unique<sketch>(s_); }
  void merge(const value_sketch& o) override { s_.merge(static_cast<const sketch&>(o).s_); }
  void add(double v) override { s_.add(v); }
  double quantile(double q) const override { return s_.quantile(q); }

 private:
  persistence::codec::quantile_sketch s_;
};

// Raw samples, and buckets of every tier folded once up front.
class day_source final : public series_source {
 public:
  day_source() {
    for (int i = 0; i < 100; ++i) {
      series s{{{"__name__", "req"}, {"i", std::to_string(i)}}, {}};
      double c = 0;
      for (int64_t t = now - 24 * hour_ms + 1234; t < now; t += 15'000) s.samples.push_back({t, c += (t / 15'000) % 7});
      for (int64_t w : {int64_t{60000}, int64_t{300000}, hour_ms}) {
        std::vector<std::pair<int64_t, persistence::codec::rollup_bucket>> folded;
        persistence::codec::fold(s.samples, w, folded);
        bucket_series bs{s.lbls, {}, {}};
        for (auto& [start, b] : folded)
          bs.buckets.push_back({start, b.count, b.sum, b.min, b.max, b.first, b.last, b.first_t, b.last_t, b.increase,
                                std::make_shared<sketch>(b.sketch)});
        tiers_[w].push_back(std::move(bs));
      }
      raw_.push_back(std::move(s));
    }
  }
  result<std::vector<series>> select(const matchers&, int64_t mint, int64_t maxt) override {
    std::vector<series> out;
    for (const auto& s : raw_) {
      series c{s.lbls, {}};
      for (const auto& x : s.samples)
        if (x.t >= mint && x.t <= maxt) c.samples.push_back(x);
      out.push_back(std::move(c));
    }
    return out;
  }
  result<std::vector<bucket_series>> select_buckets(const matchers&, int64_t mint, int64_t maxt, int64_t w,
                                                    int64_t) override {
    std::vector<bucket_series> out;
    for (const auto& s : tiers_[w]) {
      bucket_series c{s.lbls, {}, {}};
      for (const auto& b : s.buckets)
        if (b.start >= mint && b.start <= maxt) c.buckets.push_back(b);
      out.push_back(std::move(c));
    }
    return out;
  }

 private:
  std::vector<series> raw_;
  std::map<int64_t, std::vector<bucket_series>> tiers_;
};

void run(benchmark::State& st, const char* text, int64_t step, bool tiers) {
  static day_source src;
  auto e = parse(text);
  eval_options o;
  if (tiers) o.tiers = {{60'000, 7 * 24 * hour_ms}, {300'000, 30 * 24 * hour_ms}, {hour_ms, 365 * 24 * hour_ms}};
  o.now_ms = now;
  o.min_tier_within_raw_ms = 0;  // the tier path itself, whatever its width
  for (auto _ : st) {
    auto r = eval_range(*e, src, now - 23 * hour_ms, now, step, o);
    benchmark::DoNotOptimize(r);
  }
}

// The bench queries' shape (../shared/bench/queries.txt, q01 and q11): an
// aggregation over rate(), as a 3 h range query with a 15 s step.
void run_3h(benchmark::State& st, const char* text) {
  static day_source src;
  auto e = parse(text);
  eval_options o;
  o.now_ms = now;
  for (auto _ : st) {
    auto r = eval_range(*e, src, now - 3 * hour_ms, now, 15'000, o);
    benchmark::DoNotOptimize(r);
  }
}

BENCHMARK_CAPTURE(run_3h, sum_rate_5m_3h_step15s, "sum(rate(req[5m]))")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run_3h, avg_by_rate_5m_3h_step15s, "avg by (i) (rate(req[5m]))")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run, sum_rate_1h_step1h_raw, "sum(rate(req[1h]))", hour_ms, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run, sum_rate_1h_step1h_tier, "sum(rate(req[1h]))", hour_ms, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run, rate_5m_step5m_raw, "rate(req[5m])", 300'000, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run, rate_5m_step5m_tier, "rate(req[5m])", 300'000, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run, p99_1h_step1h_raw, "quantile_over_time(0.99, req[1h])", hour_ms, false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run, p99_1h_step1h_tier, "quantile_over_time(0.99, req[1h])", hour_ms, true)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace strata::query

BENCHMARK_MAIN();
