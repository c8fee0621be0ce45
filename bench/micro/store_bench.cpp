// Group commit of the storage engine: samples/s through append_encoded_group
// into LMDB, with and without fsync, for groups of 1..64 batches of 1000
// samples (100 series x 10 samples). Run: build/bench/store_bench
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
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

}  // namespace

BENCHMARK_MAIN();
