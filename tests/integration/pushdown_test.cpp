// Three real strata processes on 127.0.0.1: a query reads every partition
// from one replica, aggregations run where the data lies and only their
// partial aggregates cross the network, and a partition without a live
// replica gives a warning or, with partial_response=false, a 503.
#include <gtest/gtest.h>
#include <signal.h>

#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

#include "tests/integration/node_fixture.hpp"

namespace strata::testing {
namespace {

constexpr int series_count = 500;
constexpr int samples_per_series = 100;
constexpr int step_ms = 15000;
constexpr int jobs = 5;

// Counters: series i (job i % 5) grows by i + 1 per sample.
write_batch make_batch(int64_t base) {
  write_batch b;
  for (int i = 0; i < series_count; ++i) {
    series s;
    s.lbls = {{"__name__", "pd_requests_total"}, {"instance", "host-" + std::to_string(i)},
              {"job", "job-" + std::to_string(i % jobs)}};
    for (int k = 0; k < samples_per_series; ++k) s.samples.push_back({base + k * step_ms, double(k) * (i + 1)});
    b.push_back(std::move(s));
  }
  return b;
}

std::string time_param(int64_t t_ms) {
  char t[64];
  std::snprintf(t, sizeof t, "%.3f", static_cast<double>(t_ms) / 1000.0);
  return t;
}

// GET /api/v1/query with extra parameters, parsed; "http" holds the status.
nlohmann::json query_with(uint16_t port, const std::string& q, int64_t t_ms, const std::string& extra) {
  auto r = http_request(port, "GET", "/api/v1/query?query=" + url_encode(q) + "&time=" + time_param(t_ms) + extra);
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return {{"status", "unparsable"}, {"http", r.status}, {"body", r.body}};
  j["http"] = r.status;
  return j;
}

// The same series in the same order, values equal to 1e-12 relative: partial
// sums and variances merged from several shards (Chan et al. for variances)
// may round differently from one pass over all values in the last bits.
void expect_same_answer(const nlohmann::json& pushed, const nlohmann::json& raw) {
  const auto &p = pushed["data"]["result"], &r = raw["data"]["result"];
  ASSERT_EQ(p.size(), r.size()) << pushed.dump().substr(0, 500);
  auto values = [](const nlohmann::json& s) {
    std::vector<double> out;
    if (s.contains("value")) out.push_back(std::stod(s["value"][1].get<std::string>()));
    for (const auto& v : s.value("values", nlohmann::json::array())) out.push_back(std::stod(v[1].get<std::string>()));
    return out;
  };
  for (size_t i = 0; i < p.size(); ++i) {
    EXPECT_EQ(p[i]["metric"], r[i]["metric"]);
    auto pv = values(p[i]), rv = values(r[i]);
    ASSERT_EQ(pv.size(), rv.size()) << p[i]["metric"];
    for (size_t k = 0; k < pv.size(); ++k)
      if (pv[k] != rv[k]) {
        EXPECT_NEAR(pv[k], rv[k], 1e-12 * std::fabs(rv[k])) << p[i]["metric"];
      }
  }
}

uint64_t remote_bytes(const nlohmann::json& reply) {
  return reply["data"]["stats"]["cluster"]["remoteBytes"].get<uint64_t>();
}

class Pushdown : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    root_ = make_temp_dir();
    a_ = make_node(root_ + "/a");
    b_ = make_node(root_ + "/b", {a_.cluster_address()});
    c_ = make_node(root_ + "/c", {a_.cluster_address()});
    for (node* n : {&a_, &b_, &c_})
      n->extra_args.insert(n->extra_args.end(), {"--replication-factor", std::to_string(GetParam())});
    a_.start();
    b_.start();
    c_.start();
    ASSERT_TRUE(all_see(3, {&a_, &b_, &c_})) << read_file(a_.log);
    base_ = (now_ms() - 40 * 60 * 1000) / 1000 * 1000;
    ASSERT_EQ(remote_write(a_.http_port, make_batch(base_)).status, 204);
    t_ = base_ + (samples_per_series - 1) * step_ms;
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
  // sum by (job) at t_: the last values, summed exactly (integers).
  void expect_sum_by_job(const nlohmann::json& r) {
    ASSERT_EQ(r["status"], "success") << r.dump().substr(0, 1000);
    ASSERT_EQ(r["data"]["result"].size(), static_cast<size_t>(jobs)) << r.dump().substr(0, 1000);
    for (const auto& s : r["data"]["result"]) {
      int job = std::stoi(s["metric"]["job"].get<std::string>().substr(4));
      double want = 0;
      for (int i = job; i < series_count; i += jobs) want += double(samples_per_series - 1) * (i + 1);
      EXPECT_EQ(std::stod(s["value"][1].get<std::string>()), want) << s.dump();
    }
  }
  // `q` at t_ through node a, pushed down and not (stats=all); both must succeed.
  std::pair<nlohmann::json, nlohmann::json> both_ways(const std::string& q) {
    auto pushed = query_with(a_.http_port, q, t_, "&stats=all");
    auto raw = query_with(a_.http_port, q, t_, "&stats=all&pushdown=false");
    EXPECT_EQ(pushed["status"], "success") << pushed.dump().substr(0, 1000);
    EXPECT_EQ(raw["status"], "success") << raw.dump().substr(0, 1000);
    return {std::move(pushed), std::move(raw)};
  }
  std::string root_;
  node a_, b_, c_;
  int64_t base_ = 0, t_ = 0;
};

TEST_P(Pushdown, SumOverManySeriesMovesPartialsNotSamples) {
  for (const char* q : {"sum(rate(pd_requests_total[5m]))", "sum by (job) (pd_requests_total)"}) {
    SCOPED_TRACE(q);
    auto [pushed, raw] = both_ways(q);
    if (HasFailure()) return;
    expect_same_answer(pushed, raw);
    EXPECT_FALSE(pushed.contains("warnings")) << pushed.dump().substr(0, 1000);
    // Most series live on other nodes: raw, that is thousands of samples
    // (a 5m window holds about 20 per series); pushed down, a few partials
    // per shard.
    EXPECT_GT(raw["data"]["stats"]["cluster"]["remoteSamples"].get<uint64_t>(), 2000u);
    EXPECT_EQ(pushed["data"]["stats"]["cluster"]["remoteSamples"].get<uint64_t>(), 0u);
    EXPECT_GT(pushed["data"]["stats"]["cluster"]["remotePartials"].get<uint64_t>(), 0u);
    EXPECT_LT(remote_bytes(pushed) * 10, remote_bytes(raw)) << remote_bytes(pushed) << " vs " << remote_bytes(raw);
    // Each other node's aggregator combines its two shards' partials: one
    // table per node, at most one entry per group (one group for `sum`).
    if (std::string(q) == "sum(rate(pd_requests_total[5m]))") {
      EXPECT_LE(pushed["data"]["stats"]["cluster"]["remotePartials"].get<uint64_t>(), 2u) << pushed["data"]["stats"];
    }
    std::printf("%s: bytes from other nodes pushed down %llu, raw %llu\n", q,
                static_cast<unsigned long long>(remote_bytes(pushed)), static_cast<unsigned long long>(remote_bytes(raw)));
  }
  expect_sum_by_job(query_with(a_.http_port, "sum by (job) (pd_requests_total)", t_, ""));
  // Each sample once through every node, raw too.
  for (node* n : {&a_, &b_, &c_})
    for (const char* extra : {"", "&pushdown=false"}) {
      auto counts = query_with(n->http_port, "sum(count_over_time(pd_requests_total[1h]))", t_, extra);
      ASSERT_EQ(counts["status"], "success") << counts.dump().substr(0, 500);
      EXPECT_EQ(counts["data"]["result"][0]["value"][1], std::to_string(series_count * samples_per_series));
    }
}

// A function of each series runs where the series lies: one value per
// series and step crosses the network instead of the window's samples.
TEST_P(Pushdown, SeriesLocalQueriesMoveValuesNotWindows) {
  for (const char* q : {"max_over_time(pd_requests_total[30m])", "rate(pd_requests_total[10m]) * 60"}) {
    SCOPED_TRACE(q);
    auto [pushed, raw] = both_ways(q);
    if (HasFailure()) return;
    ASSERT_EQ(pushed["data"]["result"].size(), static_cast<size_t>(series_count));
    expect_same_answer(pushed, raw);
    const auto &ps = pushed["data"]["stats"]["cluster"], &rs = raw["data"]["stats"]["cluster"];
    // Series on other nodes: raw, 40 (10m) to 120 (30m) samples each; pushed, one value.
    EXPECT_GE(rs["remoteSamples"].get<uint64_t>(), 40 * rs["remoteSeries"].get<uint64_t>()) << rs;
    EXPECT_EQ(ps["remoteSamples"].get<uint64_t>(), 0u) << ps;
    EXPECT_GT(ps["remotePartials"].get<uint64_t>(), 0u) << ps;
    EXPECT_LE(ps["remotePartials"].get<uint64_t>(), static_cast<uint64_t>(series_count)) << ps;
    EXPECT_LT(remote_bytes(pushed) * 5, remote_bytes(raw)) << remote_bytes(pushed) << " vs " << remote_bytes(raw);
    std::printf("%s: bytes from other nodes pushed down %llu, raw %llu\n", q,
                static_cast<unsigned long long>(remote_bytes(pushed)), static_cast<unsigned long long>(remote_bytes(raw)));
  }
}

// What the shards' evaluation warns of reaches the answer as it does
// without pushdown.
TEST_P(Pushdown, ShardWarningsReachTheAnswer) {
  for (const char* q : {"max by (job) (quantile_over_time(1.5, pd_requests_total[5m]))",
                        "quantile_over_time(1.5, pd_requests_total[5m])"}) {
    SCOPED_TRACE(q);
    auto [pushed, raw] = both_ways(q);
    if (HasFailure()) return;
    EXPECT_EQ(pushed["data"]["stats"]["cluster"]["remoteSamples"].get<uint64_t>(), 0u);
    expect_same_answer(pushed, raw);
    ASSERT_TRUE(raw.contains("warnings")) << raw.dump().substr(0, 500);
    EXPECT_EQ(pushed["warnings"], raw["warnings"]) << pushed.dump().substr(0, 500);
  }
}

TEST_P(Pushdown, ANodeDownGivesACompleteAnswerOrAWarningOrA503) {
  auto before = query_with(a_.http_port, "sum(rate(pd_requests_total[5m]))", t_, "");
  ASSERT_EQ(before["status"], "success") << before.dump().substr(0, 500);
  EXPECT_EQ(c_.stop(SIGKILL, 5000), 128 + SIGKILL);
  ASSERT_TRUE(all_see(2, {&a_, &b_}));
  auto after = query_with(a_.http_port, "sum(rate(pd_requests_total[5m]))", t_, "");
  auto by_job = query_with(b_.http_port, "sum by (job) (pd_requests_total)", t_, "");
  auto strict = query_with(a_.http_port, "sum by (job) (pd_requests_total)", t_, "&partial_response=false");
  if (GetParam() >= 2) {
    // Every partition has a live replica: complete and exact, nothing twice.
    EXPECT_EQ(after["data"]["result"], before["data"]["result"]) << after.dump().substr(0, 500);
    EXPECT_FALSE(after.contains("warnings"));
    expect_sum_by_job(by_job);
    expect_sum_by_job(strict);
  } else {
    EXPECT_EQ(after["status"], "success");
    ASSERT_TRUE(after.contains("warnings")) << after.dump().substr(0, 500);
    EXPECT_NE(after["warnings"][0].get<std::string>().find(c_.cluster_address()), std::string::npos)
        << after["warnings"][0];
    EXPECT_EQ(strict["http"], 503) << strict.dump().substr(0, 500);
    EXPECT_EQ(strict["errorType"], "unavailable");
    EXPECT_NE(strict["error"].get<std::string>().find("partitions"), std::string::npos) << strict["error"];
  }
  auto bad = query_with(a_.http_port, "sum(pd_requests_total)", t_, "&partial_response=maybe");
  EXPECT_EQ(bad["http"], 400);
  EXPECT_NE(bad["error"].get<std::string>().find("partial_response"), std::string::npos) << bad.dump();
}

// Dashboard-like data for the bench queries (shared/bench/queries.txt):
// node_exporter and an HTTP service's histogram on `hosts` hosts, two hours
// at 15 s, counters with a reset.
write_batch dashboard_data(int64_t base, int hosts, int samples) {
  write_batch b;
  auto add = [&](labels ls, auto value) {
    sort_labels(ls);
    series s{std::move(ls), {}};
    for (int k = 0; k < samples; ++k) s.samples.push_back({base + int64_t(k) * step_ms, value(k)});
    b.push_back(std::move(s));
  };
  for (int h = 0; h < hosts; ++h) {
    std::string inst = "host-" + std::to_string(h);
    double f = 1 + h * 0.37;
    for (int cpu = 0; cpu < 2; ++cpu)
      for (const char* mode : {"idle", "user", "system"})
        add({{"__name__", "node_cpu_seconds_total"}, {"instance", inst}, {"cpu", std::to_string(cpu)}, {"mode", mode}},
            [=](int k) { return (k % 300) * f * (mode[0] == 'i' ? 11.5 : 1.25) + cpu; });
    add({{"__name__", "node_memory_MemTotal_bytes"}, {"instance", inst}}, [=](int) { return 8e9 * f; });
    add({{"__name__", "node_memory_MemAvailable_bytes"}, {"instance", inst}},
        [=](int k) { return 4e9 * f + 1e7 * ((k * 7 + h) % 13); });
    add({{"__name__", "node_memory_Active_bytes"}, {"instance", inst}},
        [=](int k) { return 2e9 * f + 3e6 * ((k * 5 + h) % 17); });
    add({{"__name__", "node_load1"}, {"instance", inst}}, [=](int k) { return 0.01 * ((k * 31 + h * 7) % 400); });
    for (const char* dev : {"eth0", "lo", "docker0"}) {
      add({{"__name__", "node_network_receive_bytes_total"}, {"instance", inst}, {"device", dev}},
          [=](int k) { return k * 1500.0 * f + (k % 7) * 3.5; });
      add({{"__name__", "node_network_transmit_bytes_total"}, {"instance", inst}, {"device", dev}},
          [=](int k) { return k * 700.0 * f; });
    }
    for (const char* fs : {"ext4", "vfat"}) {
      add({{"__name__", "node_filesystem_size_bytes"}, {"instance", inst}, {"fstype", fs}}, [=](int) { return 1e11 * f; });
      add({{"__name__", "node_filesystem_avail_bytes"}, {"instance", inst}, {"fstype", fs}},
          [=](int k) { return 5e10 * f - 1e6 * k; });
    }
    for (const char* handler : {"/api/v1/query", "/metrics", "/api/v1/write"}) {
      double load = handler[1] == 'm' ? 1 : 3.3 * f;
      const char* les[] = {"0.05", "0.1", "0.5", "1", "+Inf"};
      for (int i = 0; i < 5; ++i)
        add({{"__name__", "http_request_duration_seconds_bucket"}, {"instance", inst}, {"handler", handler}, {"le", les[i]}},
            [=](int k) { return std::floor(k * load * (i + 1) / 5.0); });
      add({{"__name__", "http_request_duration_seconds_count"}, {"instance", inst}, {"handler", handler}},
          [=](int k) { return std::floor(k * load); });
      add({{"__name__", "http_request_duration_seconds_sum"}, {"instance", inst}, {"handler", handler}},
          [=](int k) { return k * load * 0.137; });
      for (const char* code : {"200", "500"})
        add({{"__name__", "http_requests_total"}, {"instance", inst}, {"handler", handler}, {"code", code}},
            [=](int k) { return (k % 400) * load * (code[0] == '2' ? 10 : 0.3); });
    }
  }
  return b;
}

const char* bench_queries[] = {
    R"(sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m])))",
    R"(100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))))",
    R"(avg by (mode) (irate(node_cpu_seconds_total[1m])))",
    R"(node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
    R"(topk(5, rate(node_network_receive_bytes_total{device!~"lo|docker.*"}[5m])))",
    R"(sum by (instance) (increase(node_network_transmit_bytes_total{device=~"eth.*"}[1h])))",
    R"(max_over_time(node_load1[30m]))",
    R"(avg_over_time(node_memory_Active_bytes[15m]))",
    R"(min by (instance) (node_filesystem_avail_bytes{fstype!="vfat"} / node_filesystem_size_bytes{fstype!="vfat"}))",
    R"(count by (mode) (node_cpu_seconds_total))",
    R"(histogram_quantile(0.99, sum by (le, handler) (rate(http_request_duration_seconds_bucket[5m]))))",
    R"(histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{handler=~"/api/.*"}[5m]))))",
    R"(sum by (handler) (rate(http_request_duration_seconds_sum[5m])) / sum by (handler) (rate(http_request_duration_seconds_count[5m])))",
    R"(sum by (code) (rate(http_requests_total[5m])))",
    R"(sum by (handler) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (handler) (rate(http_requests_total[5m])))",
    R"(sum by (instance) (rate(http_requests_total[5m])) - sum by (instance) (rate(http_requests_total[5m] offset 1h)))",
    R"(stddev by (instance) (node_load1))",
    R"(stdvar(rate(node_cpu_seconds_total[5m])))",
    R"(bottomk(3, node_memory_Active_bytes))",
    R"(group by (instance) (node_load1))",
    R"(rate(http_requests_total[5m]) > 1)",
    R"(histogram_quantile(0.9, rate(http_request_duration_seconds_bucket[5m])))",
    R"(-node_load1 offset 10m)",
    R"q(label_replace(rate(node_cpu_seconds_total[5m]), "m", "$1", "__name__", "(.*)"))q",
};

nlohmann::json get_json(uint16_t port, const std::string& target) {
  auto r = http_request(port, "GET", target);
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return {{"status", "unparsable"}, {"http", r.status}, {"body", r.body}};
  return j;
}

TEST(PushdownAnswers, EqualWithAndWithoutPushdownOverTheBenchQueries) {
  std::string root = make_temp_dir();
  node a = make_node(root + "/a"), b = make_node(root + "/b", {a.cluster_address()}),
       c = make_node(root + "/c", {a.cluster_address()});
  a.start();
  b.start();
  c.start();
  ASSERT_TRUE(wait_until(20000, [&] { return a.live_members() == 3 && b.live_members() == 3 && c.live_members() == 3; }));
  const int samples = 480;  // two hours
  int64_t base = (now_ms() - 3 * 3600 * 1000) / 60000 * 60000;
  auto data = dashboard_data(base, 8, samples);
  for (size_t i = 0; i < data.size(); i += 50) {
    write_batch part(data.begin() + i, data.begin() + std::min(data.size(), i + 50));
    ASSERT_EQ(remote_write(a.http_port, part).status, 204);
  }
  int64_t end = base + int64_t(samples - 1) * step_ms;
  std::string instant = "&time=" + time_param(end);
  std::string range = "&start=" + time_param(end - 3600 * 1000) + "&end=" + time_param(end) + "&step=60";
  for (const char* q : bench_queries)
    for (const auto& [path, params] : {std::pair<std::string, std::string>{"/api/v1/query", instant},
                                       {"/api/v1/query_range", range}}) {
      SCOPED_TRACE(path + " " + q);
      std::string target = path + "?query=" + url_encode(q) + params;
      auto pushed = get_json(b.http_port, target);
      auto raw = get_json(b.http_port, target + "&pushdown=false");
      ASSERT_EQ(pushed["status"], "success") << pushed.dump().substr(0, 500);
      ASSERT_EQ(raw["status"], "success") << raw.dump().substr(0, 500);
      EXPECT_FALSE(raw["data"]["result"].empty());
      expect_same_answer(pushed, raw);
    }
  for (node* n : {&a, &b, &c}) n->stop(SIGKILL, 5000);
  if (!::testing::Test::HasFailure()) remove_dir(root);
}

// A replica that stops answering without being detected down (frozen, its
// connection open) times out; its partitions are asked of the other
// replica, and the answer is still complete and exact, pushed down or not.
TEST(PushdownRetry, AFrozenReplicaIsReplacedByTheOtherOne) {
  std::string root = make_temp_dir();
  node a = make_node(root + "/a"), b = make_node(root + "/b", {a.cluster_address()}),
       c = make_node(root + "/c", {a.cluster_address()});
  for (node* n : {&a, &b, &c})
    n->extra_args.insert(n->extra_args.end(), {"--replication-factor", "2", "--request-timeout-ms", "1500",
                                               "--connection-timeout-ms", "600000"});
  a.start();
  b.start();
  c.start();
  ASSERT_TRUE(wait_until(20000, [&] { return a.live_members() == 3 && b.live_members() == 3 && c.live_members() == 3; }));
  int64_t base = (now_ms() - 40 * 60 * 1000) / 1000 * 1000;
  ASSERT_EQ(remote_write(a.http_port, make_batch(base)).status, 204);
  int64_t t = base + (samples_per_series - 1) * step_ms;
  const std::string q = "sum by (job) (pd_requests_total)";
  auto before = query_with(a.http_port, q, t, "");
  ASSERT_EQ(before["status"], "success") << before.dump().substr(0, 500);
  // Whichever of b and c the plan prefers, freezing each in turn makes one
  // of them the replica that does not answer.
  for (node* frozen : {&b, &c}) {
    ASSERT_EQ(kill(frozen->proc->pid(), SIGSTOP), 0);
    for (const char* extra : {"", "&pushdown=false"}) {
      SCOPED_TRACE(frozen->cluster_address() + extra);
      auto r = query_with(a.http_port, q, t, extra);
      ASSERT_EQ(r["status"], "success") << r.dump().substr(0, 500);
      EXPECT_EQ(r["data"]["result"], before["data"]["result"]);
      EXPECT_FALSE(r.contains("warnings")) << r.dump().substr(0, 500);
      auto counts = query_with(a.http_port, "sum(count_over_time(pd_requests_total[1h]))", t, extra);
      EXPECT_EQ(counts["data"]["result"][0]["value"][1], std::to_string(series_count * samples_per_series));
    }
    ASSERT_EQ(kill(frozen->proc->pid(), SIGCONT), 0);
  }
  for (node* n : {&a, &b, &c}) n->stop(SIGKILL, 5000);
  if (!::testing::Test::HasFailure()) remove_dir(root);
}

INSTANTIATE_TEST_SUITE_P(ReplicationFactor, Pushdown, ::testing::Values(1, 2),
                         [](const auto& info) { return "Rf" + std::to_string(info.param); });

}  // namespace
}  // namespace strata::testing
