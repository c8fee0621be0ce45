#include "common/work_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace strata {
namespace {

TEST(WorkPool, RunsEveryPieceExactlyOnce) {
  work_pool pool(3);
  EXPECT_EQ(pool.width(), 4u);
  for (size_t n : {0, 1, 2, 5, 1000}) {
    std::vector<std::atomic<int>> runs(n);
    pool.parallel_for(n, [&](size_t i) { runs[i].fetch_add(1); });
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(runs[i].load(), 1) << "n=" << n << " piece " << i;
  }
}

TEST(WorkPool, RangesCoverEveryIndexOnceInAtMostThatManyPieces) {
  work_pool pool(2);
  for (size_t n : {0, 1, 3, 10, 1001})
    for (size_t pieces : {1, 4, 12}) {
      std::vector<std::atomic<int>> runs(n);
      std::atomic<size_t> calls{0};
      pool.parallel_ranges(n, pieces, [&](size_t b, size_t e) {
        EXPECT_LT(b, e);
        calls.fetch_add(1);
        for (size_t i = b; i < e; ++i) runs[i].fetch_add(1);
      });
      EXPECT_EQ(calls.load(), std::min(n, pieces)) << n << " in " << pieces;
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(runs[i].load(), 1) << n << " in " << pieces << ": " << i;
    }
}

TEST(WorkPool, WithoutHelpersTheCallerRunsEverything) {
  work_pool pool(0);
  EXPECT_EQ(pool.width(), 1u);
  std::set<std::thread::id> threads;
  pool.parallel_for(50, [&](size_t) { threads.insert(std::this_thread::get_id()); });
  EXPECT_EQ(threads, std::set<std::thread::id>{std::this_thread::get_id()});
}

// Two pieces that each wait for the other to start can only finish when a
// helper runs one of them while the caller runs the other.
TEST(WorkPool, AHelperRunsPiecesBesideTheCaller) {
  work_pool pool(1);
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  bool both = true;
  std::set<std::thread::id> threads;
  pool.parallel_for(2, [&](size_t) {
    std::unique_lock<std::mutex> lock(mu);
    threads.insert(std::this_thread::get_id());
    ++started;
    cv.notify_all();
    if (!cv.wait_for(lock, std::chrono::seconds(30), [&] { return started == 2; })) both = false;
  });
  EXPECT_TRUE(both) << "the second piece never started while the first ran";
  EXPECT_EQ(threads.size(), 2u);
}

TEST(WorkPool, CallersOnManyThreadsEachGetAllTheirPieces) {
  work_pool pool(2);
  std::vector<std::thread> callers;
  std::vector<long> sums(8, 0);
  for (size_t c = 0; c < sums.size(); ++c)
    callers.emplace_back([&, c] {
      for (int round = 0; round < 50; ++round) {
        std::vector<long> part(100, 0);
        pool.parallel_for(part.size(), [&](size_t i) { part[i] = static_cast<long>(i); });
        for (long x : part) sums[c] += x;
      }
    });
  for (auto& t : callers) t.join();
  for (long s : sums) EXPECT_EQ(s, 50L * 4950);
}

TEST(WorkPool, AnExceptionReachesTheCallerAfterEveryOtherPieceRan) {
  work_pool pool(2);
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.parallel_for(100,
                                 [&](size_t i) {
                                   if (i == 37) throw std::runtime_error("piece 37");
                                   ran.fetch_add(1);
                                 }),
               std::runtime_error);
  EXPECT_EQ(ran.load(), 99);
  // The pool goes on working.
  std::atomic<int> again{0};
  pool.parallel_for(10, [&](size_t) { again.fetch_add(1); });
  EXPECT_EQ(again.load(), 10);
}

}  // namespace
}  // namespace strata
