// Two real strata processes on 127.0.0.1: writes through one, reads through
// the other, SIGKILL and restart, every acknowledged sample exactly once.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

#include "tests/integration/node_fixture.hpp"

namespace strata::testing {
namespace {

constexpr int series_count = 40;
constexpr int step_ms = 15000;

// Series i, samples [from, to) at base + k*step; values differ per series and sample.
write_batch make_batch(int64_t base, int from, int to) {
  write_batch b;
  for (int i = 0; i < series_count; ++i) {
    series s;
    s.lbls = {{"__name__", "it_requests_total"}, {"instance", "host-" + std::to_string(i)}, {"job", "it"}};
    for (int k = from; k < to; ++k) s.samples.push_back({base + k * step_ms, i * 1000.0 + k + 0.25});
    b.push_back(std::move(s));
  }
  return b;
}

void expect_exactly(const std::map<labels, std::vector<sample>>& got, int64_t base, int samples_per_series) {
  ASSERT_EQ(got.size(), static_cast<size_t>(series_count));
  for (const auto& [ls, samples] : got) {
    std::string inst(label_value(ls, "instance"));
    int i = std::stoi(inst.substr(5));
    ASSERT_EQ(samples.size(), static_cast<size_t>(samples_per_series)) << to_string(ls);
    for (int k = 0; k < samples_per_series; ++k) {
      EXPECT_EQ(samples[k].t, base + k * step_ms) << to_string(ls);
      EXPECT_EQ(samples[k].v, i * 1000.0 + k + 0.25) << to_string(ls);
    }
  }
}

class TwoNodes : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = make_temp_dir();
    a_ = make_node(root_ + "/a");
    b_ = make_node(root_ + "/b", {a_.cluster_address()});
  }
  void TearDown() override {
    a_.stop(SIGKILL, 5000);
    b_.stop(SIGKILL, 5000);
    if (!HasFailure()) remove_dir(root_);
  }
  void wait_for_mesh() {
    ASSERT_TRUE(wait_until(20000, [&] { return a_.live_members() == 2 && b_.live_members() == 2; }))
        << "nodes did not see each other; a's log:\n" << read_file(a_.log) << "\nb's log:\n" << read_file(b_.log);
  }
  std::string root_;
  node a_, b_;
};

TEST_F(TwoNodes, AcknowledgedSamplesSurviveSigkillExactlyOnce) {
  a_.start();
  b_.start();
  wait_for_mesh();

  const int64_t base = (now_ms() - 60 * 60 * 1000) / 1000 * 1000;  // an hour ago, whole seconds
  const std::string all = "it_requests_total[2h]";
  // Four bodies written to node A.
  for (int part = 0; part < 4; ++part) {
    auto r = remote_write(a_.http_port, make_batch(base, part * 30, (part + 1) * 30));
    ASSERT_EQ(r.status, 204) << r.body;
  }
  auto t = now_ms();
  expect_exactly(read_matrix(query(b_.http_port, all, t)), base, 120);
  expect_exactly(read_matrix(query(a_.http_port, all, t)), base, 120);

  // A dies without warning. B answers with what its own shards hold, and says what is missing.
  EXPECT_EQ(a_.stop(SIGKILL, 5000), 128 + SIGKILL);
  ASSERT_TRUE(wait_until(10000, [&] { return b_.live_members() == 1; }));
  auto partial = query(b_.http_port, all, t);
  ASSERT_EQ(partial["status"], "success") << partial.dump();
  auto held_by_b = read_matrix(partial).size();
  EXPECT_GT(held_by_b, 0u) << "writes to A should have been routed to B's shards too";
  EXPECT_LT(held_by_b, static_cast<size_t>(series_count)) << "A's shards should have held some series";
  ASSERT_TRUE(partial.contains("warnings")) << partial.dump();
  {
    // The operator's view of the same moment.
    child_process status({STRATA_BINARY, "cluster", "status", "--node",
                          "http://127.0.0.1:" + std::to_string(b_.http_port)},
                         root_ + "/status.out");
    EXPECT_EQ(status.wait(10000), 0);
    auto out = read_file(root_ + "/status.out");
    EXPECT_NE(out.find(a_.cluster_address() + " "), std::string::npos) << out;
    EXPECT_NE(out.find("down"), std::string::npos) << out;
  }

  // A comes back on the same ports and data dir (and no seeds): it rejoins B
  // from its peers file before it reports ready, so the first read after
  // /ready already sees everything, exactly once, through either node.
  a_.start();
  expect_exactly(read_matrix(query(b_.http_port, all, t)), base, 120);
  expect_exactly(read_matrix(query(a_.http_port, all, t)), base, 120);

  // Writes keep flowing through B, and a retried body is stored once.
  auto more = make_batch(base, 120, 130);
  ASSERT_EQ(remote_write(b_.http_port, more).status, 204);
  ASSERT_EQ(remote_write(b_.http_port, more).status, 204);
  t = now_ms();
  expect_exactly(read_matrix(query(a_.http_port, all, t)), base, 130);

  // A clean stop exits 0.
  EXPECT_EQ(a_.stop(SIGTERM, 15000), 0) << read_file(a_.log);
  EXPECT_EQ(b_.stop(SIGTERM, 15000), 0) << read_file(b_.log);
}

}  // namespace
}  // namespace strata::testing
