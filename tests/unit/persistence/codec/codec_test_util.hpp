#pragma once
// Series generators and bitwise comparisons shared by the codec tests. Every
// generator is driven by a seeded std::mt19937_64; tests print the seed.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/series.hpp"

namespace strata::persistence::codec::test_support {

inline uint64_t bits_of(double d) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}
inline double from_bits(uint64_t b) {
  double d;
  std::memcpy(&d, &b, 8);
  return d;
}

inline constexpr uint64_t stale_nan_bits = 0x7ff0000000000002ull;
inline const double inf = std::numeric_limits<double>::infinity();

// "seed N" for SCOPED_TRACE, so a failure names the run to repeat.
inline std::string seed_trace(uint64_t seed) { return "seed " + std::to_string(seed); }

// A monotonic counter scraped every 15 s with a few ms of jitter; resets now and then.
inline std::vector<sample> counter_series(std::mt19937_64& rng, size_t n) {
  std::vector<sample> out;
  int64_t t = 1'700'000'000'000 + static_cast<int64_t>(rng() % 15000);
  double v = static_cast<double>(rng() % 100000);
  for (size_t i = 0; i < n; ++i) {
    out.push_back({t, v});
    t += 15000 + static_cast<int64_t>(rng() % 7) - 3;
    v += static_cast<double>(rng() % 50);
    if (rng() % 200 == 0) v = static_cast<double>(rng() % 10);
  }
  return out;
}

// A gauge: a random walk of decimal-looking floats, regular 15 s scrapes.
inline std::vector<sample> gauge_series(std::mt19937_64& rng, size_t n) {
  std::vector<sample> out;
  int64_t t = 1'700'000'000'000;
  double v = 50.0;
  std::normal_distribution<double> step(0, 0.5);
  for (size_t i = 0; i < n; ++i) {
    out.push_back({t, v});
    t += 15000;
    v = std::round((v + step(rng)) * 100) / 100;
  }
  return out;
}

// Random bit patterns (every NaN payload, denormals, both zeros, infinities)
// at random strictly rising timestamps, with gaps from 1 ms to 2^40 ms.
inline std::vector<sample> random_series(std::mt19937_64& rng, size_t n) {
  std::vector<sample> out;
  int64_t t = static_cast<int64_t>(rng() % (uint64_t{1} << 50)) - (int64_t{1} << 49);
  for (size_t i = 0; i < n; ++i) {
    uint64_t b;
    switch (rng() % 8) {
      case 0:
        b = rng();
        break;
      case 1:
        b = stale_nan_bits;
        break;
      case 2:
        b = 0x8000000000000000ull;
        break;  // -0.0
      case 3:
        b = bits_of(rng() % 2 ? inf : -inf);
        break;
      case 4:
        b = 0x7ff0000000000000ull | (rng() & 0x000fffffffffffffull) | 1;
        break;  // a NaN
      case 5:
        b = rng() & 0x000fffffffffffffull;
        break;  // denormal
      default:
        b = out.empty() ? rng() : bits_of(out.back().v) ^ (rng() & 0xFFFF);
        break;
    }
    out.push_back({t, from_bits(b)});
    t += 1 + static_cast<int64_t>(rng() % (uint64_t{1} << (rng() % 41)));
  }
  return out;
}

inline ::testing::AssertionResult same_samples(const std::vector<sample>& want, const std::vector<sample>& got) {
  if (want.size() != got.size())
    return ::testing::AssertionFailure() << "want " << want.size() << " samples, got " << got.size();
  for (size_t i = 0; i < want.size(); ++i)
    if (want[i].t != got[i].t || bits_of(want[i].v) != bits_of(got[i].v))
      return ::testing::AssertionFailure()
             << "sample " << i << ": want (" << want[i].t << ", 0x" << std::hex << bits_of(want[i].v) << std::dec
             << "), got (" << got[i].t << ", 0x" << std::hex << bits_of(got[i].v) << ")";
  return ::testing::AssertionSuccess();
}

}  // namespace strata::persistence::codec::test_support
