// Three real strata processes on 127.0.0.1 with --replication-factor 2: a
// node killed without warning loses nothing acknowledged, reads stay whole
// and exactly once, writes go on, and with too few nodes left writes are
// refused whole.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>

#include "tests/integration/node_fixture.hpp"

namespace strata::testing {
namespace {

constexpr int series_count = 60;
constexpr int step_ms = 15000;

write_batch make_batch(int64_t base, int from, int to) {
  write_batch b;
  for (int i = 0; i < series_count; ++i) {
    series s;
    s.lbls = {{"__name__", "rf_requests_total"}, {"instance", "host-" + std::to_string(i)}, {"job", "rf"}};
    for (int k = from; k < to; ++k) s.samples.push_back({base + k * step_ms, i * 1000.0 + k + 0.5});
    b.push_back(std::move(s));
  }
  return b;
}

// Every series, each sample once, with its value.
void expect_exactly(const nlohmann::json& reply, int64_t base, int samples_per_series) {
  auto got = read_matrix(reply);
  ASSERT_EQ(got.size(), static_cast<size_t>(series_count)) << reply.dump().substr(0, 2000);
  for (const auto& [ls, samples] : got) {
    int i = std::stoi(std::string(label_value(ls, "instance")).substr(5));
    ASSERT_EQ(samples.size(), static_cast<size_t>(samples_per_series)) << to_string(ls);
    for (int k = 0; k < samples_per_series; ++k) {
      EXPECT_EQ(samples[k].t, base + k * step_ms) << to_string(ls);
      EXPECT_EQ(samples[k].v, i * 1000.0 + k + 0.5) << to_string(ls);
    }
  }
}

class ReplicationFactorTwo : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = make_temp_dir();
    a_ = make_node(root_ + "/a");
    b_ = make_node(root_ + "/b", {a_.cluster_address()});
    c_ = make_node(root_ + "/c", {a_.cluster_address()});
    for (node* n : {&a_, &b_, &c_}) n->extra_args.insert(n->extra_args.end(), {"--replication-factor", "2"});
  }
  void TearDown() override {
    for (node* n : {&a_, &b_, &c_}) n->stop(SIGKILL, 5000);
    if (!HasFailure()) remove_dir(root_);
  }
  bool all_see(size_t n, std::initializer_list<node*> nodes) {
    return wait_until(20000, [&] {
      for (node* x : nodes)
        if (x->live_members() != n) return false;
      return true;
    });
  }
  std::string root_;
  node a_, b_, c_;
};

TEST_F(ReplicationFactorTwo, AKilledNodeLosesNothingAndReadsStayWholeAndExactlyOnce) {
  a_.start();
  b_.start();
  c_.start();
  ASSERT_TRUE(all_see(3, {&a_, &b_, &c_})) << read_file(a_.log);

  const int64_t base = (now_ms() - 60 * 60 * 1000) / 1000 * 1000;
  const std::string all = "rf_requests_total[2h]";
  for (int part = 0; part < 4; ++part) ASSERT_EQ(remote_write(a_.http_port, make_batch(base, part * 20, (part + 1) * 20)).status, 204);
  auto t = now_ms();
  for (node* n : {&a_, &b_, &c_}) expect_exactly(query(n->http_port, all, t), base, 80);

  // Every sample is on two nodes: each node's own shards hold more than a
  // third of the series, and after C dies A and B still answer everything,
  // without a warning, each sample once.
  EXPECT_EQ(c_.stop(SIGKILL, 5000), 128 + SIGKILL);
  ASSERT_TRUE(all_see(2, {&a_, &b_}));
  for (node* n : {&a_, &b_}) {
    auto r = query(n->http_port, all, t);
    expect_exactly(r, base, 80);
    EXPECT_FALSE(r.contains("warnings")) << r.dump().substr(0, 500);
  }

  // Writes go on with C down (each partition re-placed on A and B).
  ASSERT_EQ(remote_write(b_.http_port, make_batch(base, 80, 100)).status, 204);
  t = now_ms();
  expect_exactly(query(a_.http_port, all, t), base, 100);

  // With B down too, one node is left of RF 2: a write cannot reach its
  // quorum and is refused whole with 503 and Retry-After.
  EXPECT_EQ(b_.stop(SIGKILL, 5000), 128 + SIGKILL);
  ASSERT_TRUE(all_see(1, {&a_}));
  auto refused = remote_write(a_.http_port, make_batch(base, 100, 101));
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("replication-factor"), std::string::npos) << refused.body;
  auto partial = query(a_.http_port, all, t);
  EXPECT_TRUE(partial.contains("warnings")) << partial.dump().substr(0, 500);

  // B and C come back: everything acknowledged is there, exactly once, through each node.
  b_.start();
  c_.start();
  ASSERT_TRUE(all_see(3, {&a_, &b_, &c_}));
  t = now_ms();
  for (node* n : {&a_, &b_, &c_}) expect_exactly(query(n->http_port, all, t), base, 100);
}

}  // namespace
}  // namespace strata::testing
