// Micro benchmarks of the series index (persistence/index): selection,
// postings intersection, get_or_add of known series, time notes, and the
// memory of an index. Run from a Release build:
//   build-release/bench/index_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/matcher.hpp"
#include "persistence/index/series_index.hpp"

namespace {

using strata::labels;
using strata::matcher;
using strata::persistence::index::series_index;

// Series i: {__name__="metric_<i % 100>", env="<3 values>", instance="host-<i / 100 % 1000>",
// job="job_<i % 10>", pod="pod-<i>"}: 100 names of 1000 series, 1000 instances
// of 100 series, and one unique label per series, as scraped targets have.
labels series_labels(size_t i) {
  static const char* envs[] = {"prod", "staging", "dev"};
  return {{"__name__", "metric_" + std::to_string(i % 100)},
          {"env", envs[i % 3]},
          {"instance", "host-" + std::to_string(i / 100 % 1000)},
          {"job", "job_" + std::to_string(i % 10)},
          {"pod", "pod-" + std::to_string(i)}};
}

// Bytes malloc has handed out and not taken back, mmapped blocks included.
size_t heap_in_use() {
  auto mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

// One index per series count, built once and shared by the benchmarks.
const series_index& index_of(size_t n) {
  static std::vector<std::pair<size_t, std::unique_ptr<series_index>>> built;
  for (auto& [count, idx] : built)
    if (count == n) return *idx;
  auto idx = std::make_unique<series_index>();
  for (size_t i = 0; i < n; ++i) idx->get_or_add(series_labels(i));
  idx->optimize();
  built.emplace_back(n, std::move(idx));
  return *built.back().second;
}

matcher make(matcher::op o, const char* name, const char* value) { return *matcher::make(o, name, value); }

void run_select(benchmark::State& state, const strata::matchers& ms) {
  const auto& idx = index_of(static_cast<size_t>(state.range(0)));
  uint64_t found = 0;
  for (auto _ : state) {
    Roaring r = idx.select(ms);
    found = r.cardinality();
    benchmark::DoNotOptimize(found);
  }
  state.counters["series_found"] = static_cast<double>(found);
}

// {__name__="metric_42", instance=~"host-1.*"}: 1000 series by the name, the
// regex tried on their instances (fewer series than instance values).
void BM_SelectEqualityAndRegex(benchmark::State& state) {
  run_select(state, {make(matcher::op::eq, "__name__", "metric_42"), make(matcher::op::re, "instance", "host-1.*")});
}
BENCHMARK(BM_SelectEqualityAndRegex)->Arg(100000);

// {job="job_3", instance=~"host-1.*"}: 10,000 series by the job, more than the
// 1000 instance values, so the regex runs over the values and their postings.
void BM_SelectEqualityAndRegexOverValues(benchmark::State& state) {
  run_select(state, {make(matcher::op::eq, "job", "job_3"), make(matcher::op::re, "instance", "host-1.*")});
}
BENCHMARK(BM_SelectEqualityAndRegexOverValues)->Arg(100000);

// {instance=~"host-1.*|host-2.*", pod=~".*7"}: two regexes, no equality.
void BM_SelectTwoRegexes(benchmark::State& state) {
  run_select(state, {make(matcher::op::re, "instance", "host-1.*|host-2.*"), make(matcher::op::re, "pod", ".*7")});
}
BENCHMARK(BM_SelectTwoRegexes)->Arg(100000);

// {env="prod", job=~"job_1|job_4|job_7"}: equality and a literal alternation (lookups only).
void BM_SelectEqualityAndAlternation(benchmark::State& state) {
  run_select(state, {make(matcher::op::eq, "env", "prod"), make(matcher::op::re, "job", "job_1|job_4|job_7")});
}
BENCHMARK(BM_SelectEqualityAndAlternation)->Arg(100000);

// Two large postings intersected, as two equality matchers do: a bitmap of
// every 2nd ref and one of a random 30% of refs, over the given range.
void BM_PostingsIntersection(benchmark::State& state) {
  auto n = static_cast<uint32_t>(state.range(0));
  std::mt19937 rng(1);
  Roaring a, b;
  for (uint32_t i = 0; i < n; i += 2) a.add(i);
  for (uint32_t i = 0; i < n; ++i)
    if (rng() % 10 < 3) b.add(i);
  a.runOptimize();
  b.runOptimize();
  uint64_t card = 0;
  for (auto _ : state) {
    Roaring c = a & b;
    card = c.cardinality();
    benchmark::DoNotOptimize(card);
  }
  state.counters["left"] = static_cast<double>(a.cardinality());
  state.counters["right"] = static_cast<double>(b.cardinality());
  state.counters["result"] = static_cast<double>(card);
}
BENCHMARK(BM_PostingsIntersection)->Arg(100000)->Arg(1000000);

// The same through the index: {env="prod", job="job_3"} (33,333 and 10,000 series).
void BM_SelectTwoEqualities(benchmark::State& state) {
  run_select(state, {make(matcher::op::eq, "env", "prod"), make(matcher::op::eq, "job", "job_3")});
}
BENCHMARK(BM_SelectTwoEqualities)->Arg(100000);

// get_or_add of series that exist: hash, probe, compare the labels.
void BM_GetOrAddExisting(benchmark::State& state) {
  auto n = static_cast<size_t>(state.range(0));
  series_index idx;
  std::vector<labels> sets;
  for (size_t i = 0; i < n; ++i) sets.push_back(series_labels(i));
  for (const auto& ls : sets) idx.get_or_add(ls);
  size_t i = 0;
  for (auto _ : state) {
    auto r = idx.get_or_add(sets[i]);
    benchmark::DoNotOptimize(r);
    if (++i == n) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetOrAddExisting)->Arg(100000);

// note_time for each sample of a scrape: every series, one sample each, in
// the block the series already is in.
void BM_NoteTimeSameBlock(benchmark::State& state) {
  auto n = static_cast<uint32_t>(state.range(0));
  series_index idx;
  for (size_t i = 0; i < n; ++i) idx.get_or_add(series_labels(i));
  int64_t t = 1'700'000'000'000;
  for (uint32_t r = 0; r < n; ++r) idx.note_time(r, t);
  uint32_t r = 0;
  for (auto _ : state) {
    idx.note_time(r, t + 15000);
    if (++r == n) r = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NoteTimeSameBlock)->Arg(100000);

// Building an index of n series (new series, every label interned) and the
// memory it holds: heap bytes per series as malloc counts them, and the
// index's own estimate.
void BM_BuildIndex(benchmark::State& state) {
  auto n = static_cast<size_t>(state.range(0));
  std::vector<labels> sets;
  for (size_t i = 0; i < n; ++i) sets.push_back(series_labels(i));
  double heap_per_series = 0, estimate_per_series = 0;
  for (auto _ : state) {
    malloc_trim(0);
    size_t before = heap_in_use();
    auto idx = std::make_unique<series_index>();
    for (const auto& ls : sets) idx->get_or_add(ls);
    for (uint32_t r = 0; r < n; ++r) idx->note_time(r, 1'700'000'000'000);
    idx->optimize();
    state.PauseTiming();
    heap_per_series = static_cast<double>(heap_in_use() - before) / static_cast<double>(n);
    estimate_per_series = static_cast<double>(idx->memory_bytes()) / static_cast<double>(n);
    idx.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
  state.counters["heap_B_per_series"] = heap_per_series;
  state.counters["estimate_B_per_series"] = estimate_per_series;
}
BENCHMARK(BM_BuildIndex)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
