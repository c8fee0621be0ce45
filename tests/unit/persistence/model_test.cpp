// Randomized test: seeded sequences of appends (in order, out of order,
// retried, conflicting), flushes, compactions, retention passes and restarts
// against an in-memory model of what must be stored: raw samples after every
// step, and every rollup tier after each step that leaves nothing unsealed. The seed is printed on
// failure; rerun one with STRATA_TEST_SEED=<seed>.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <cstring>
#include <limits>
#include <map>
#include <random>

#include "persistence/shard_store.hpp"
#include "test_util.hpp"

namespace strata::persistence {
namespace {

using namespace test_support;

constexpr int64_t base = 1'700'000'000'000;

struct model {
  // What reads must return: per series, time -> value.
  std::map<labels, std::map<int64_t, double>> raw;
  // Newest sample per series ever accepted (survives retention).
  std::map<labels, int64_t> newest;
};

uint64_t bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

void run_seed(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " (rerun with STRATA_TEST_SEED=" + std::to_string(seed) + ")");
  std::mt19937_64 rng(seed);
  auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
  store_options o;
  o.kv = kv;
  o.ooo_window_ms = 10 * minute_ms;
  o.retention.raw_ms = 2 * day_ms;
  o.wal_max_bytes = 4096;
  auto opened = shard_store::open(o);
  ASSERT_TRUE(opened.is_ok()) << opened.error().message();
  std::unique_ptr<shard_store> s = std::move(*opened);
  model m;
  std::vector<labels> names;
  for (int i = 0; i < 6; ++i) names.push_back({{"__name__", "m"}, {"i", std::to_string(i)}});
  std::map<labels, int64_t> cursor;
  int64_t now = base;
  int64_t raw_limit = std::numeric_limits<int64_t>::min();  // raw blocks before it are gone; their buckets stay

  for (int step = 0; step < 400; ++step) {
    int op = static_cast<int>(rng() % 100);
    bool sealed = false;  // nothing unsealed after this step: the tiers hold every sample
    if (op < 80) {  // a batch of 1-3 series
      write_batch b;
      std::map<labels, std::map<int64_t, double>> want_added;
      for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k) {
        const auto& ls = names[rng() % names.size()];
        series x{ls, {}};
        int64_t& c = cursor.try_emplace(ls, base).first->second;
        for (int j = 0, cnt = 1 + static_cast<int>(rng() % 30); j < cnt; ++j) {
          int kind = static_cast<int>(rng() % 10);
          int64_t t;
          double v = static_cast<double>(rng() % 1000);
          if (kind < 7 || m.raw[ls].empty()) {
            c += 1 + static_cast<int64_t>(rng() % 60'000);
            t = c;
          } else if (kind < 9) {  // out of order, sometimes beyond the window
            t = c - static_cast<int64_t>(rng() % (15 * minute_ms));
          } else {  // a retry of a stored sample
            auto& series_model = m.raw[ls];
            auto it = series_model.begin();
            std::advance(it, static_cast<long>(rng() % series_model.size()));
            t = it->first;
            v = it->second;
          }
          x.samples.push_back({t, v});
        }
        b.push_back(std::move(x));
      }
      // The model's verdicts, sample by sample.
      for (const auto& x : b)
        for (const auto& smp : x.samples) {
          auto nit = m.newest.find(x.lbls);
          auto& sm = m.raw[x.lbls];
          if (nit == m.newest.end() || smp.t > nit->second) {
            sm[smp.t] = smp.v;
            m.newest[x.lbls] = smp.t;
          } else if (smp.t >= nit->second - o.ooo_window_ms) {
            sm.emplace(smp.t, smp.v);  // a retry of a stored sample changes nothing
          }
        }
      auto st = s->append(b);
      if (std::getenv("STRATA_TEST_TRACE")) {
        std::cout << "step " << step << ": " << (st ? "ok" : st.message().substr(0, 60)) << "\n";
        for (const auto& x : b) {
          std::cout << "  " << to_string(x.lbls) << ":";
          for (const auto& y : x.samples) std::cout << " " << y.t % 10'000'000;
          std::cout << "\n";
        }
      }
      ASSERT_TRUE(st.is_ok() || st.code() == strata_errc::bad_request) << st.message();
    } else if (op < 88) {
      ASSERT_TRUE(s->flush().is_ok());
      sealed = true;
    } else if (op < 91) {
      ASSERT_TRUE(s->compact().is_ok());
      sealed = true;
    } else if (op < 95) {
      ASSERT_TRUE(s->flush().is_ok());  // retention applies to sealed data
      now += static_cast<int64_t>(rng() % (12 * hour_ms));
      ASSERT_TRUE(s->maintain(now).is_ok());
      int64_t limit = align_down(now - o.retention.raw_ms, block_span(tier::raw));
      for (auto& [ls, sm] : m.raw) sm.erase(sm.begin(), sm.lower_bound(limit));
      raw_limit = std::max(raw_limit, limit);
      sealed = true;
    } else {
      s.reset();
      auto r = shard_store::open(o);
      ASSERT_TRUE(r.is_ok()) << r.error().message();
      s = std::move(*r);
    }
    // Every read agrees with the model.
    for (const auto& ls : names) {
      auto got = s->select({eq("__name__", "m"), eq("i", std::string(label_value(ls, "i")))}, min_t, max_t);
      const auto& want = m.raw[ls];
      std::vector<sample> got_samples = got.empty() ? std::vector<sample>{} : got[0].samples;
      if (got_samples.size() != want.size()) {
        std::string diff;
        std::map<int64_t, double> got_map;
        for (const auto& x : got_samples) got_map[x.t] = x.v;
        for (const auto& [t, v] : want)
          if (!got_map.count(t)) diff += " missing t=" + std::to_string(t);
        for (const auto& [t, v] : got_map)
          if (!want.count(t)) diff += " extra t=" + std::to_string(t);
        FAIL() << "step " << step << " series " << to_string(ls) << ": " << got_samples.size() << " samples, want "
               << want.size() << ";" << diff << " (newest " << m.newest[ls] << ")";
      }
      size_t i = 0;
      for (const auto& [t, v] : want) {
        ASSERT_EQ(got_samples[i].t, t) << "step " << step << " series " << to_string(ls);
        ASSERT_EQ(bits(got_samples[i].v), bits(v)) << "step " << step << " t " << t;
        ++i;
      }
      if (!sealed) continue;
      // Every tier's buckets are one fold of the model's samples (whole
      // numbers: sums and sketches merge exactly), from the raw retention's
      // limit on (windows nest in raw blocks; older samples, written after
      // the clock passed them, go at the next retention pass).
      std::vector<sample> kept;
      for (auto it = want.lower_bound(raw_limit); it != want.end(); ++it) kept.push_back({it->first, it->second});
      for (auto t : rollup_tiers) {
        std::vector<std::pair<int64_t, codec::rollup_bucket>> fold;
        codec::fold(kept, window_span(t), fold);
        auto tb = s->select_buckets({eq("__name__", "m"), eq("i", std::string(label_value(ls, "i")))},
                                    std::max(raw_limit, min_t), max_t, t);
        std::vector<std::pair<int64_t, codec::rollup_bucket>> got_buckets;
        if (!tb.empty()) got_buckets = tb[0].buckets;
        ASSERT_EQ(got_buckets.size(), fold.size()) << "step " << step << " (op " << op << ") " << tier_name(t) << " " << to_string(ls);
        for (size_t k = 0; k < fold.size(); ++k) {
          ASSERT_EQ(got_buckets[k].first, fold[k].first) << "step " << step << " " << tier_name(t);
          ASSERT_TRUE(got_buckets[k].second == fold[k].second)
              << "step " << step << " " << tier_name(t) << " " << to_string(ls) << " window " << fold[k].first
              << ": count " << got_buckets[k].second.count << " want " << fold[k].second.count;
        }
      }
    }
  }
}

TEST(StoreModel, RandomOperationsAgreeWithTheModel) {
  if (const char* e = std::getenv("STRATA_TEST_SEED")) return run_seed(std::strtoull(e, nullptr, 10));
  uint64_t first = std::random_device{}();
  for (uint64_t k = 0; k < 8 && !HasFatalFailure(); ++k) run_seed(first + k);
}

}  // namespace
}  // namespace strata::persistence
