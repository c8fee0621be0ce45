// Crash test: a child process appends batches and reports each acknowledged
// one through a pipe; the parent SIGKILLs it at a random moment, reopens the
// store and checks that every reported batch is there, whole. The writer
// keeps a tiny WAL limit and runs maintenance often, so kills also land while
// chunks seal, rollups are written and the WAL is trimmed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>
#include <unordered_map>

#include "persistence/shard_store.hpp"
#include "test_util.hpp"

namespace strata::persistence {
namespace {

using namespace test_support;

constexpr int rounds = 100;
constexpr uint32_t max_batches_per_round = 100000;

// Batch n of round r: its own series with 3 samples, one sample in the
// round's shared series, and one sample in a series every round writes to.
write_batch batch_of(int r, uint32_t n) {
  auto rs = std::to_string(r), ns = std::to_string(n);
  series own{{{"__name__", "crash"}, {"batch", ns}, {"round", rs}}, {}};
  for (int k = 0; k < 3; ++k) own.samples.push_back({int64_t{n} * 10 + k, r * 1e6 + n + k * 0.5});
  series shared{{{"__name__", "crash_round"}, {"round", rs}}, {{int64_t{n}, static_cast<double>(n)}}};
  series global{{{"__name__", "crash_all"}}, {{int64_t{r} * max_batches_per_round + n, 1}}};
  return {std::move(own), std::move(shared), std::move(global)};
}

store_options options(const std::string& dir) {
  store_options o;
  o.dir = dir;
  o.wal_max_bytes = 64 << 10;
  return o;
}

[[noreturn]] void run_writer(const std::string& dir, int r, int fd) {
  auto s = shard_store::open(options(dir));
  if (!s) _exit(2);
  // Every other round starts with a compaction (it takes milliseconds, like
  // the kill's random delay), so kills land in the rewrite and swap of the file.
  if (r % 2 == 1 && !(*s)->compact()) _exit(7);
  for (uint32_t n = 0; n < max_batches_per_round; ++n) {
    if (!(*s)->append(batch_of(r, n))) _exit(3);
    if (write(fd, &n, sizeof n) != sizeof n) _exit(4);
    if (n % 64 == 63 && !(*s)->maintain(0)) _exit(5);  // time 0: nothing is old enough to expire
    if (n % 512 == 511 && !(*s)->flush()) _exit(6);
  }
  _exit(0);
}

uint64_t seed_from_env() {
  if (const char* e = std::getenv("STRATA_TEST_SEED")) return std::strtoull(e, nullptr, 10);
  return std::random_device{}();
}

TEST(CrashRecovery, AcknowledgedBatchesSurviveSigkill) {
  const uint64_t seed = seed_from_env();
  std::cout << "crash test seed " << seed << " (rerun with STRATA_TEST_SEED=" << seed << ")\n";
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);

  temp_dir dir;
  {
    // Created before any child runs, so that a kill never lands in env creation.
    auto s = shard_store::open(options(dir.path()));
    ASSERT_TRUE(s.is_ok()) << s.error().message();
  }

  std::vector<uint32_t> acked_per_round;
  uint64_t total_acked = 0;
  for (int r = 0; r < rounds; ++r) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::cout.flush();
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      run_writer(dir.path(), r, fds[1]);
    }
    close(fds[1]);
    std::string bytes;
    if (r % 2 == 0) {
      // Even rounds wait for the first acknowledgement before the random
      // delay: on a loaded machine a fixed delay can end before the first
      // fsync, and the test would prove nothing.
      char first[4];
      size_t got = 0;
      while (got < sizeof first) {
        ssize_t n = read(fds[0], first + got, sizeof first - got);
        if (n > 0) got += static_cast<size_t>(n);
        else if (n == 0 || errno != EINTR) break;
      }
      bytes.append(first, got);
    }
    auto delay = std::chrono::microseconds(rng() % 60000);
    std::this_thread::sleep_for(delay);
    ASSERT_EQ(kill(pid, SIGKILL), 0);

    // Everything the child acknowledged before it died, in order.
    char buf[4096];
    for (;;) {
      ssize_t got = read(fds[0], buf, sizeof buf);
      if (got > 0)
        bytes.append(buf, static_cast<size_t>(got));
      else if (got == 0 || errno != EINTR)
        break;
    }
    close(fds[0]);
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "round " << r << ": writer exited by itself with status " << wstatus;
    ASSERT_EQ(bytes.size() % 4, 0u);  // 4-byte writes to a pipe are atomic
    uint32_t acked = static_cast<uint32_t>(bytes.size() / 4);
    for (uint32_t i = 0; i < acked; ++i) {
      uint32_t n;
      std::memcpy(&n, bytes.data() + size_t{4} * i, 4);
      ASSERT_EQ(n, i) << "round " << r;
    }
    acked_per_round.push_back(acked);
    total_acked += acked;

    // Every acknowledged batch of every round so far is present, whole.
    auto s = shard_store::open(options(dir.path()));
    ASSERT_TRUE(s.is_ok()) << "round " << r << ": " << s.error().message();
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data.mdb.compact")) << "round " << r;
    std::unordered_map<std::string, std::vector<sample>> stored;
    for (auto& x : (*s)->select({}, min_t, max_t)) stored.emplace(to_string(x.lbls), std::move(x.samples));
    const auto& all = stored[R"({__name__="crash_all"})"];
    for (int pr = 0; pr <= r; ++pr) {
      const auto& round_series = stored[to_string(batch_of(pr, 0)[1].lbls)];
      for (uint32_t n = 0; n < acked_per_round[pr]; ++n) {
        auto want = batch_of(pr, n);
        auto it = stored.find(to_string(want[0].lbls));
        ASSERT_NE(it, stored.end()) << "round " << pr << " batch " << n << " lost (checked after round " << r
                                    << ", seed " << seed << ")";
        ASSERT_EQ(it->second, want[0].samples) << "round " << pr << " batch " << n;
        ASSERT_TRUE(std::binary_search(round_series.begin(), round_series.end(), want[1].samples[0],
                                       [](const sample& a, const sample& b) { return a.t < b.t; }))
            << "round " << pr << " batch " << n;
        ASSERT_TRUE(std::binary_search(all.begin(), all.end(), want[2].samples[0],
                                       [](const sample& a, const sample& b) { return a.t < b.t; }))
            << "round " << pr << " batch " << n;
      }
    }
  }
  std::cout << "acknowledged batches per round:";
  for (auto a : acked_per_round) std::cout << ' ' << a;
  std::cout << '\n';
  // The test proves nothing if the writer never got going.
  EXPECT_GT(total_acked, 0u);
}

}  // namespace
}  // namespace strata::persistence
