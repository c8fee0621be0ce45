// Group commit of the storage engine: samples/s through append_encoded_group
// into LMDB, with and without fsync, for groups of 1..64 batches of 1000
// samples (100 series x 10 samples). Rollup reads: select_buckets of every
// series of a store, flushed (a loose record per series and block) or
// compacted (rollup groups); with STRATA_BENCH_DIR naming a (copy of a) data
// dir, select_buckets over its shards, all series at once or one metric name
// at a time. Run: build/bench/store_bench
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>

#include <chrono>
#include <filesystem>
#include <limits>
#include <string>

#include "persistence/shard_store.hpp"
#include "wire/batch.hpp"

namespace {

using namespace strata;

std::string make_batch(int64_t t0) {
  write_batch b;
  for (int s = 0; s < 100; ++s) {
    series x{{{"__name__", "bench_metric"}, {"instance", "host-" + std::to_string(s % 20)}, {"k", std::to_string(s)}}, {}};
    for (int i = 0; i < 10; ++i) x.samples.push_back({t0 + i * 15'000, 100.0 + s + i * 0.5});
    b.push_back(std::move(x));
  }
  return wire::encode_batch(b);
}

void BM_GroupCommit(benchmark::State& state) {
  const int group = static_cast<int>(state.range(0));
  const bool sync = state.range(1) != 0;
  std::string tmpl = "/tmp/strata-bench-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  {
    persistence::store_options o;
    o.dir = tmpl;
    o.sync = sync;
    auto s = persistence::shard_store::open(o);
    if (!s) {
      state.SkipWithError(s.error().message().c_str());
      return;
    }
    int64_t t = 1'700'000'000'000;
    size_t samples = 0;
    for (auto _ : state) {
      state.PauseTiming();  // encoding is the sender's work, not the store's
      std::vector<std::string> bytes;
      for (int g = 0; g < group; ++g) {
        bytes.push_back(make_batch(t));
        t += 10 * 15'000;
      }
      std::vector<std::string_view> views(bytes.begin(), bytes.end());
      state.ResumeTiming();
      auto r = (*s)->append_encoded_group(views);
      for (auto& x : r)
        if (!x) state.SkipWithError(x.error().message().c_str());
      samples += 1000 * group;
    }
    state.counters["samples/s"] = benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsRate);
  }
  std::filesystem::remove_all(tmpl);
}
BENCHMARK(BM_GroupCommit)->ArgsProduct({{1, 8, 64}, {0, 1}})->ArgNames({"batches", "fsync"})->UseRealTime();

// 40 metric names x 25 hosts, 24 h (twelve 1m blocks, more than the cache of
// decompressed parts) of samples every 2 min: counters for even names,
// two-decimal gauges for odd ones. Flushed, then compacted when asked.
struct rollup_store {
  std::string dir;
  std::unique_ptr<persistence::shard_store> store;
  explicit rollup_store(bool compacted) {
    dir = "/tmp/strata-bench-XXXXXX";
    if (!mkdtemp(dir.data())) return;
    persistence::store_options o;
    o.dir = dir;
    o.sync = false;
    auto s = persistence::shard_store::open(o);
    if (!s) return;
    using namespace std::chrono;
    const int64_t now = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    const int64_t t0 = (now - 26 * 3'600'000) / 7'200'000 * 7'200'000;
    for (int name = 0; name < 40; ++name) {
      write_batch b;
      for (int h = 0; h < 25; ++h) {
        series x{{{"__name__", "bench_metric_" + std::to_string(name)}, {"instance", "host-" + std::to_string(h)}}, {}};
        double v = 1000.0 * h;
        for (int i = 0; i < 720; ++i) {
          v += name % 2 == 0 ? static_cast<double>((i * 7 + h) % 50) : ((i * 13 + h) % 21 - 10) / 100.0;
          x.samples.push_back({t0 + i * 120'000 + (i * 31 + h) % 200, v});
        }
        b.push_back(std::move(x));
      }
      if (!(*s)->append(b)) return;
    }
    if (!(*s)->flush()) return;
    if (compacted && !(*s)->compact()) return;
    store = std::move(*s);
  }
  ~rollup_store() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

void BM_SelectBuckets(benchmark::State& state) {
  rollup_store rs(state.range(0) != 0);
  if (!rs.store) {
    state.SkipWithError("could not write the store");
    return;
  }
  const auto t = static_cast<persistence::tier>(state.range(1));
  size_t buckets = 0;
  for (auto _ : state) {
    auto r = rs.store->select_buckets({}, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), t);
    for (const auto& x : r) buckets += x.buckets.size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["buckets/s"] = benchmark::Counter(static_cast<double>(buckets), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SelectBuckets)->ArgsProduct({{0, 1}, {1, 2, 3}})->ArgNames({"compacted", "tier"})->Unit(benchmark::kMillisecond);

// The shards of STRATA_BENCH_DIR (empty, with the state skipped, without it).
std::vector<std::unique_ptr<persistence::shard_store>> open_bench_dir(benchmark::State& state) {
  std::vector<std::unique_ptr<persistence::shard_store>> shards;
  const char* dir = getenv("STRATA_BENCH_DIR");
  if (!dir) {
    state.SkipWithError("STRATA_BENCH_DIR not set");
    return shards;
  }
  std::vector<std::string> paths;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().rfind("shard-", 0) == 0) paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    persistence::store_options o;
    o.dir = p;
    auto s = persistence::shard_store::open(o);
    if (!s) {
      state.SkipWithError(s.error().message().c_str());
      return {};
    }
    shards.push_back(std::move(*s));
  }
  return shards;
}

// select_buckets over the shards of STRATA_BENCH_DIR (skipped without it).
void BM_SelectBucketsDir(benchmark::State& state) {
  auto shards = open_bench_dir(state);
  if (shards.empty()) return;
  const auto t = static_cast<persistence::tier>(state.range(0));
  const bool by_name = state.range(1) != 0;
  constexpr int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  std::vector<std::vector<matchers>> selections(shards.size());  // per shard
  for (size_t i = 0; i < shards.size(); ++i) {
    if (!by_name) selections[i].emplace_back();
    else
      for (const auto& name : shards[i]->label_values("__name__", {}, lo, hi))
        selections[i].push_back({*matcher::make(matcher::op::eq, "__name__", name)});
  }
  size_t buckets = 0;
  for (auto _ : state)
    for (size_t i = 0; i < shards.size(); ++i)
      for (const auto& ms : selections[i])
        for (const auto& x : shards[i]->select_buckets(ms, lo, hi, t)) buckets += x.buckets.size();
  state.counters["buckets/s"] = benchmark::Counter(static_cast<double>(buckets), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SelectBucketsDir)->ArgsProduct({{1, 2, 3}, {0, 1}})->ArgNames({"tier", "by_name"})->Unit(benchmark::kMillisecond);

// Raw samples of every metric name of STRATA_BENCH_DIR, one selection per
// name and shard, through select (all at once) or select_each (one series
// at a time, as a shard's pushdown fold reads them).
void BM_SelectRawDir(benchmark::State& state) {
  auto shards = open_bench_dir(state);
  if (shards.empty()) return;
  const bool each = state.range(0) != 0;
  constexpr int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  size_t samples = 0;
  for (auto _ : state)
    for (const auto& s : shards)
      for (const auto& name : s->label_values("__name__", {}, lo, hi)) {
        matchers ms{*matcher::make(matcher::op::eq, "__name__", name)};
        if (!each) {
          for (const auto& x : s->select(ms, lo, hi)) samples += x.samples.size();
          continue;
        }
        auto st = s->select_each(ms, lo, hi, [&](series& x) {
          samples += x.samples.size();
          return status::ok();
        });
        benchmark::DoNotOptimize(st);
      }
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SelectRawDir)->Arg(0)->Arg(1)->ArgName("each")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
