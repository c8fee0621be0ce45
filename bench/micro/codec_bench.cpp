// Micro benchmarks of the storage byte formats (persistence/codec): Gorilla
// and packed chunk encode and decode, quantile sketch add and merge, rollup records.
// Run: build-release/bench/codec_bench (a Release build dir of its own).
//
// Arguments name the series (make_series). Counters: t/sample (t/value,
// t/merge, t/bucket) is the time per item (printed as e.g. "11.3ns");
// bytes/sample and bytes/bucket are encoded sizes.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "persistence/codec/gorilla.hpp"
#include "persistence/codec/rollup.hpp"
#include "persistence/codec/sketch.hpp"
#include "persistence/packed_chunk.hpp"

namespace {

using namespace strata;
using namespace strata::persistence::codec;

constexpr size_t chunk_samples = 120;  // the head's chunk: 30 minutes of 15 s scrapes
constexpr size_t chunks = 100;

enum series_kind { counter, int_gauge, decimal_gauge };

// Scrapes every 15 s with 0-4 ms of jitter. counter: integer increments of
// 0-99 per scrape, a reset every ~2000 scrapes. int_gauge: an integer random
// walk of +-1000 around 1e9 (bytes in use). decimal_gauge: a two-decimal
// random walk (a temperature, a load average), the hard case for XOR.
std::vector<sample> make_series(series_kind kind, size_t n, uint64_t seed = 42) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> step(0, 0.5);
  std::vector<sample> out;
  out.reserve(n);
  int64_t t = 1'700'000'000'000;
  double v = kind == counter ? 12345 : kind == int_gauge ? 1e9 : 50;
  for (size_t i = 0; i < n; ++i) {
    out.push_back({t + static_cast<int64_t>(rng() % 5), v});
    t += 15000;
    switch (kind) {
      case counter:
        v += static_cast<double>(rng() % 100);
        if (rng() % 2000 == 0) v = 0;
        break;
      case int_gauge:
        v += static_cast<double>(static_cast<int64_t>(rng() % 2001) - 1000);
        break;
      case decimal_gauge:
        v = std::round((v + step(rng)) * 100) / 100;
        break;
    }
  }
  return out;
}

void set_per_item(benchmark::State& state, const char* name, size_t items_per_iteration) {
  // seconds per item, printed with an SI prefix ("11.3n" is 11.3 ns)
  state.counters[name] =
      benchmark::Counter(static_cast<double>(items_per_iteration),
                         benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

std::vector<std::string> sealed_chunks(series_kind kind) {
  auto s = make_series(kind, chunk_samples * chunks);
  std::vector<std::string> out;
  chunk_appender a;
  for (const auto& x : s) {
    a.append(x.t, x.v);
    if (a.count() == chunk_samples) {
      out.push_back(a.seal());
      a.reset();
    }
  }
  return out;
}

void BM_GorillaEncode(benchmark::State& state, series_kind kind) {
  auto s = make_series(kind, chunk_samples * chunks);
  size_t bytes = 0;
  for (auto _ : state) {
    bytes = 0;
    chunk_appender a;
    for (size_t c = 0; c < chunks; ++c) {
      for (size_t i = c * chunk_samples; i < (c + 1) * chunk_samples; ++i) a.append(s[i].t, s[i].v);
      bytes += a.size_bytes();
      benchmark::DoNotOptimize(a.count());
      a.reset();
    }
  }
  set_per_item(state, "t/sample", s.size());
  state.counters["bytes/sample"] = static_cast<double>(bytes) / static_cast<double>(s.size());
}

void BM_GorillaSeal(benchmark::State& state, series_kind kind) {
  auto s = make_series(kind, chunk_samples);
  chunk_appender a;
  for (const auto& x : s) a.append(x.t, x.v);
  for (auto _ : state) benchmark::DoNotOptimize(a.seal());
  set_per_item(state, "t/sample", s.size());
}

void BM_GorillaDecode(benchmark::State& state, series_kind kind) {
  auto sealed = sealed_chunks(kind);
  std::vector<chunk_view> views;
  for (const auto& c : sealed) views.push_back(*open_chunk(c));
  std::vector<sample> out;
  out.reserve(chunk_samples);
  for (auto _ : state) {
    for (const auto& v : views) {
      out.clear();
      v.decode(INT64_MIN, INT64_MAX, out);
      benchmark::DoNotOptimize(out.data());
    }
  }
  set_per_item(state, "t/sample", chunk_samples * chunks);
}

// Compacted samples as a selection decodes them: sections of a packed group
// (varint timestamps, values as scaled integers or XOR words; the group is
// decompressed once and cached, so no zstd here), into one vector.
void BM_PackedDecode(benchmark::State& state, series_kind kind) {
  auto s = make_series(kind, chunk_samples * chunks);
  std::vector<std::string> sections;
  for (size_t c = 0; c < chunks; ++c)
    sections.push_back(persistence::encode_packed_section(
        std::vector<sample>(s.begin() + c * chunk_samples, s.begin() + (c + 1) * chunk_samples)));
  std::vector<sample> out;
  out.reserve(s.size());
  for (auto _ : state) {
    out.clear();
    for (size_t c = 0; c < chunks; ++c) {
      const auto& first = s[c * chunk_samples];
      const auto& last = s[(c + 1) * chunk_samples - 1];
      if (!persistence::decode_packed_section(sections[c], chunk_samples, first.t, last.t, INT64_MIN, INT64_MAX, out))
        state.SkipWithError("decode failed");
    }
    benchmark::DoNotOptimize(out.data());
  }
  set_per_item(state, "t/sample", s.size());
}

void BM_GorillaIterate(benchmark::State& state, series_kind kind) {
  auto sealed = sealed_chunks(kind);
  std::vector<chunk_view> views;
  for (const auto& c : sealed) views.push_back(*open_chunk(c));
  for (auto _ : state) {
    double sum = 0;
    for (const auto& v : views) {
      auto it = v.iterator();
      while (it.next()) sum += it.v();
    }
    benchmark::DoNotOptimize(sum);
  }
  set_per_item(state, "t/sample", chunk_samples * chunks);
}

// open_chunk checks the checksum and walks the whole stream once.
void BM_GorillaOpenAndDecode(benchmark::State& state, series_kind kind) {
  auto sealed = sealed_chunks(kind);
  std::vector<sample> out;
  out.reserve(chunk_samples);
  for (auto _ : state) {
    for (const auto& c : sealed) {
      out.clear();
      auto v = open_chunk(c);
      v->decode(INT64_MIN, INT64_MAX, out);
      benchmark::DoNotOptimize(out.data());
    }
  }
  set_per_item(state, "t/sample", chunk_samples * chunks);
}

std::vector<double> lognormal_values(size_t n) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> d(0, 2);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

void BM_SketchAdd(benchmark::State& state) {
  auto values = lognormal_values(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    quantile_sketch s;
    for (double v : values) s.add(v);
    benchmark::DoNotOptimize(s.count());
  }
  set_per_item(state, "t/value", values.size());
}

// Two sketches of 10,000 lognormal values each (a few hundred bins).
void BM_SketchMergeLarge(benchmark::State& state) {
  auto values = lognormal_values(20000);
  quantile_sketch a, b;
  for (size_t i = 0; i < values.size(); ++i) (i % 2 ? a : b).add(values[i]);
  for (auto _ : state) {
    quantile_sketch m = a;
    m.merge(b);
    benchmark::DoNotOptimize(m.count());
  }
  state.counters["bins"] = static_cast<double>(a.bins());
}

// An hour of 1m bucket sketches (4 gauge values each) merged into one: the
// 1m -> 1h rollup and a query over 1m buckets.
void BM_SketchMergeSmall(benchmark::State& state) {
  auto s = make_series(decimal_gauge, 240);
  std::vector<quantile_sketch> minute(60);
  for (size_t i = 0; i < s.size(); ++i) minute[i / 4].add(s[i].v);
  for (auto _ : state) {
    quantile_sketch hour;
    for (const auto& m : minute) hour.merge(m);
    benchmark::DoNotOptimize(hour.count());
  }
  set_per_item(state, "t/merge", minute.size());
}

void BM_SketchQuantile(benchmark::State& state) {
  quantile_sketch s;
  for (double v : lognormal_values(10000)) s.add(v);
  for (auto _ : state) benchmark::DoNotOptimize(s.quantile(0.99));
}

void BM_Fold(benchmark::State& state, series_kind kind) {
  auto s = make_series(kind, 4 * 1440);
  for (auto _ : state) {
    std::vector<std::pair<int64_t, rollup_bucket>> out;
    fold(s, 60'000, out);
    benchmark::DoNotOptimize(out.data());
  }
  set_per_item(state, "t/sample", s.size());
}

// A day of 1m buckets of 4 samples: the record of one (tier, block, series),
// in the version written today and in version 1 (XOR, no compression).
using bucket_encoder = std::string (*)(int64_t, const std::vector<std::pair<int64_t, rollup_bucket>>&);

void BM_EncodeBucketsWith(benchmark::State& state, series_kind kind, bucket_encoder encode) {
  std::vector<std::pair<int64_t, rollup_bucket>> b;
  fold(make_series(kind, 4 * 1440), 60'000, b);
  size_t bytes = 0;
  for (auto _ : state) {
    auto rec = encode(60'000, b);
    bytes = rec.size();
    benchmark::DoNotOptimize(rec.data());
  }
  set_per_item(state, "t/bucket", b.size());
  state.counters["bytes/bucket"] = static_cast<double>(bytes) / static_cast<double>(b.size());
}

void BM_EncodeBuckets(benchmark::State& state, series_kind kind) { BM_EncodeBucketsWith(state, kind, encode_buckets); }
void BM_EncodeBucketsV1(benchmark::State& state, series_kind kind) {
  BM_EncodeBucketsWith(state, kind, encode_buckets_v1);
}

void BM_DecodeBucketsWith(benchmark::State& state, series_kind kind, bucket_encoder encode) {
  std::vector<std::pair<int64_t, rollup_bucket>> b;
  fold(make_series(kind, 4 * 1440), 60'000, b);
  auto rec = encode(60'000, b);
  for (auto _ : state) {
    auto back = decode_buckets(rec);
    benchmark::DoNotOptimize(back->data());
  }
  set_per_item(state, "t/bucket", b.size());
}

void BM_DecodeBuckets(benchmark::State& state, series_kind kind) { BM_DecodeBucketsWith(state, kind, encode_buckets); }
void BM_DecodeBucketsV1(benchmark::State& state, series_kind kind) {
  BM_DecodeBucketsWith(state, kind, encode_buckets_v1);
}

BENCHMARK_CAPTURE(BM_GorillaEncode, counter, counter);
BENCHMARK_CAPTURE(BM_GorillaEncode, int_gauge, int_gauge);
BENCHMARK_CAPTURE(BM_GorillaEncode, decimal_gauge, decimal_gauge);
BENCHMARK_CAPTURE(BM_GorillaSeal, counter, counter);
BENCHMARK_CAPTURE(BM_GorillaSeal, int_gauge, int_gauge);
BENCHMARK_CAPTURE(BM_GorillaSeal, decimal_gauge, decimal_gauge);
BENCHMARK_CAPTURE(BM_GorillaDecode, counter, counter);
BENCHMARK_CAPTURE(BM_GorillaDecode, int_gauge, int_gauge);
BENCHMARK_CAPTURE(BM_GorillaDecode, decimal_gauge, decimal_gauge);
BENCHMARK_CAPTURE(BM_PackedDecode, counter, counter);
BENCHMARK_CAPTURE(BM_PackedDecode, int_gauge, int_gauge);
BENCHMARK_CAPTURE(BM_PackedDecode, decimal_gauge, decimal_gauge);
BENCHMARK_CAPTURE(BM_GorillaIterate, counter, counter);
BENCHMARK_CAPTURE(BM_GorillaIterate, int_gauge, int_gauge);
BENCHMARK_CAPTURE(BM_GorillaIterate, decimal_gauge, decimal_gauge);
BENCHMARK_CAPTURE(BM_GorillaOpenAndDecode, counter, counter);
BENCHMARK_CAPTURE(BM_GorillaOpenAndDecode, int_gauge, int_gauge);
BENCHMARK_CAPTURE(BM_GorillaOpenAndDecode, decimal_gauge, decimal_gauge);
BENCHMARK(BM_SketchAdd)->Arg(4)->Arg(240)->Arg(10000);
BENCHMARK(BM_SketchMergeLarge);
BENCHMARK(BM_SketchMergeSmall);
BENCHMARK(BM_SketchQuantile);
BENCHMARK_CAPTURE(BM_Fold, counter, counter);
BENCHMARK_CAPTURE(BM_Fold, int_gauge, int_gauge);
BENCHMARK_CAPTURE(BM_Fold, decimal_gauge, decimal_gauge);
BENCHMARK_CAPTURE(BM_EncodeBuckets, counter, counter);
BENCHMARK_CAPTURE(BM_EncodeBuckets, int_gauge, int_gauge);
BENCHMARK_CAPTURE(BM_EncodeBuckets, decimal_gauge, decimal_gauge);
BENCHMARK_CAPTURE(BM_DecodeBuckets, counter, counter);
BENCHMARK_CAPTURE(BM_DecodeBuckets, int_gauge, int_gauge);
BENCHMARK_CAPTURE(BM_DecodeBuckets, decimal_gauge, decimal_gauge);
BENCHMARK_CAPTURE(BM_EncodeBucketsV1, counter, counter);
BENCHMARK_CAPTURE(BM_EncodeBucketsV1, int_gauge, int_gauge);
BENCHMARK_CAPTURE(BM_EncodeBucketsV1, decimal_gauge, decimal_gauge);
BENCHMARK_CAPTURE(BM_DecodeBucketsV1, counter, counter);
BENCHMARK_CAPTURE(BM_DecodeBucketsV1, int_gauge, int_gauge);
BENCHMARK_CAPTURE(BM_DecodeBucketsV1, decimal_gauge, decimal_gauge);

}  // namespace
