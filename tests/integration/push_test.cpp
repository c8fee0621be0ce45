// The push paths against a real node: Prometheus's Python client
// (push_to_gateway, pushadd_to_gateway, delete_from_gateway) as a child
// process, JSON events and remote_write 2.0 over HTTP; everything read back
// through /api/v1/query.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>

#include "tests/integration/node_fixture.hpp"
#include "wire/batch.hpp"
#include "wire/remote_write_v2.hpp"

namespace strata::testing {
namespace {

// Debian's python3-prometheus-client installs into the system interpreter.
constexpr const char* system_python = "/usr/bin/python3";

// One (labels -> value) per series of an instant vector query at `t`.
std::map<std::string, double> instant(uint16_t port, const std::string& q, int64_t t) {
  auto j = query(port, q, t);
  std::map<std::string, double> out;
  EXPECT_EQ(j["status"], "success") << j.dump();
  for (const auto& s : j["data"]["result"]) {
    labels ls;
    for (const auto& [k, v] : s["metric"].items()) ls.push_back({k, v.get<std::string>()});
    sort_labels(ls);
    out[to_string(ls)] = std::strtod(s["value"][1].get<std::string>().c_str(), nullptr);
  }
  return out;
}

constexpr const char* client_script = R"(
import sys
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client import push_to_gateway, pushadd_to_gateway, delete_from_gateway

gw, step = sys.argv[1], sys.argv[2]
key = {'instance': 'host/1'}  # a '/' makes the client use the @base64 form
reg = CollectorRegistry()
if step == 'put':
    Gauge('job_last_success_unixtime', 'Last success.', registry=reg).set(1234)
    c = Counter('job_records', 'Records processed.', ['kind'], registry=reg)
    c.labels('a').inc(5)
    c.labels('b').inc(2)
    push_to_gateway(gw, job='nightly', registry=reg, grouping_key=key)
elif step == 'put-gauge-only':
    Gauge('job_last_success_unixtime', 'Last success.', registry=reg).set(5678)
    push_to_gateway(gw, job='nightly', registry=reg, grouping_key=key)
elif step == 'add':
    Gauge('job_duration_seconds', 'Duration.', registry=reg).set(42)
    pushadd_to_gateway(gw, job='nightly', registry=reg, grouping_key=key)
elif step == 'delete':
    delete_from_gateway(gw, job='nightly', grouping_key=key)
)";

class Push : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = make_temp_dir();
    n_ = std::make_unique<node>(make_node(root_ + "/n"));
    n_->start();
  }
  void TearDown() override {
    if (n_) n_->stop(SIGKILL, 5000);
    if (HasFailure()) std::cerr << "node log:\n" << read_file(n_->log);
    remove_dir(root_);
  }

  // Runs the client script step; returns its exit code (output in the log).
  int client(const std::string& step) {
    std::string script = root_ + "/client.py";
    std::ofstream(script) << client_script;
    std::string log = root_ + "/client-" + step + ".log";
    child_process p({system_python, script, "127.0.0.1:" + std::to_string(n_->http_port), step}, log);
    int code = p.wait(30000);
    EXPECT_EQ(code, 0) << step << ":\n" << read_file(log);
    return code;
  }

  std::string root_;
  std::unique_ptr<node> n_;
};

bool have_python_client() {
  if (::access(system_python, X_OK) != 0) return false;
  std::string log = make_temp_dir();
  child_process p({system_python, "-c", "import prometheus_client"}, log + "/out");
  bool ok = p.wait(30000) == 0;
  remove_dir(log);
  return ok;
}

TEST_F(Push, PythonClientPutPushAddDeleteAcrossARestart) {
  if (!have_python_client())
    GTEST_SKIP() << "python3-prometheus-client is not installed for " << system_python;
  const uint16_t port = n_->http_port;
  const std::string group = R"(instance="host/1", job="nightly")";

  ASSERT_EQ(client("put"), 0);
  auto v = instant(port, R"({job="nightly"})", now_ms());
  EXPECT_EQ(v[R"({__name__="job_last_success_unixtime", )" + group + "}"], 1234);
  v = instant(port, R"(job_records_total{job="nightly"})", now_ms());
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[R"({__name__="job_records_total", instance="host/1", job="nightly", kind="a"})"], 5);
  EXPECT_EQ(instant(port, R"(push_time_seconds{job="nightly"})", now_ms()).size(), 1u);

  // Membership is durable: after a restart, a PUT without the counter ends it.
  ASSERT_EQ(n_->stop(SIGTERM, 15000), 0);
  n_->start();
  ASSERT_EQ(client("put-gauge-only"), 0);
  const int64_t after_put = now_ms();
  EXPECT_TRUE(instant(port, R"(job_records_total{job="nightly"})", after_put).empty())
      << "series left out of a PUT must end";
  v = instant(port, R"(job_last_success_unixtime{job="nightly"})", after_put);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v.begin()->second, 5678);

  // POST adds a family and keeps the others.
  ASSERT_EQ(client("add"), 0);
  v = instant(port, R"({job="nightly", __name__=~"job_.*"})", now_ms());
  EXPECT_EQ(v.size(), 2u);
  EXPECT_EQ(v[R"({__name__="job_duration_seconds", )" + group + "}"], 42);

  // DELETE ends every series of the group, push_time_seconds included.
  ASSERT_EQ(client("delete"), 0);
  EXPECT_TRUE(instant(port, R"({job="nightly"})", now_ms()).empty());
}

TEST_F(Push, GroupingKeyOverridesBodyLabelsAndBadInputIsNamed) {
  const uint16_t port = n_->http_port;
  auto r = http_request(port, "PUT", "/metrics/job/j1/zone@base64/ZXUvd2VzdA",
                        "# TYPE temp gauge\ntemp{job=\"other\",room=\"a\"} 21.5\n",
                        {{"Content-Type", "text/plain; version=0.0.4"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto v = instant(port, "temp", now_ms());
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v.begin()->first, R"({__name__="temp", job="j1", room="a", zone="eu/west"})");

  r = http_request(port, "POST", "/metrics/job/j1", "temp{a=\"1\" 2\n", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("line 1: expected , or } after the value of label a"), std::string::npos) << r.body;
  r = http_request(port, "PUT", "/metrics/job/j1/__bad/x", "", {});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("invalid label name \"__bad\""), std::string::npos) << r.body;
  r = http_request(port, "PUT", "/metrics/job/j1", "x 1\n",
                   {{"Content-Type", "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily"}});
  EXPECT_EQ(r.status, 415);
  r = http_request(port, "PUT", "/metrics/job/om", "# TYPE c counter\nc_total 3\n# EOF\n",
                   {{"Content-Type", "application/openmetrics-text; version=1.0.0"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(instant(port, R"(c_total{job="om"})", now_ms()).size(), 1u);
}

TEST_F(Push, JsonEventIsAcknowledgedWithTheCorrelationId) {
  const uint16_t port = n_->http_port;
  std::string body = R"({"type":"metrics.push","data":{"service":"checkout","metrics":[
      {"name":"orders_total","type":"counter","value":7,"labels":{"region":"eu"}},
      {"name":"latency_seconds","type":"histogram","buckets":[{"le":0.5,"count":2}],"sum":0.7,"count":3},
      {"name":"bad","type":"gauge","value":1,"labels":{"__x":"1"}}],
      "correlation_id":"0b7c8a52-9f3e-4c1e-9a51-2f4d1c7e8b90"}})";
  auto r = http_request(port, "POST", "/api/v1/push", body, {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["type"], "metrics.collected");
  EXPECT_EQ(j["data"]["correlation_id"], "0b7c8a52-9f3e-4c1e-9a51-2f4d1c7e8b90");
  EXPECT_EQ(j["data"]["accepted"], 2);
  ASSERT_EQ(j["data"]["rejected"].size(), 1u);
  EXPECT_EQ(j["data"]["rejected"][0]["index"], 2);
  EXPECT_EQ(j["data"]["rejected"][0]["name"], "bad");

  auto v = instant(port, R"(orders_total{service="checkout"})", now_ms());
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v.begin()->second, 7);
  v = instant(port, R"(latency_seconds_bucket{service="checkout"})", now_ms());
  EXPECT_EQ(v.size(), 2u);  // le="0.5" and le="+Inf"
  EXPECT_EQ(v[R"({__name__="latency_seconds_bucket", le="+Inf", service="checkout"})"], 3);

  r = http_request(port, "POST", "/api/v1/push", "{}", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 415);
  r = http_request(port, "POST", "/api/v1/push", R"({"type":"metrics.push","data":{}})",
                   {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("data.service"), std::string::npos) << r.body;
}

TEST_F(Push, RemoteWrite2IsWrittenAndCounted) {
  const uint16_t port = n_->http_port;
  const int64_t t = now_ms();
  write_batch b{{{{"__name__", "rw2_up"}, {"job", "a"}}, {{t - 1000, 1}, {t, 1}}}};
  const std::vector<std::pair<std::string, std::string>> headers{
      {"Content-Encoding", "snappy"},
      {"Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request"},
      {"X-Prometheus-Remote-Write-Version", "2.0.0"}};
  auto r = http_request(port, "POST", "/api/v1/write", wire::encode_remote_write_v2(b), headers);
  ASSERT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(r.header("x-prometheus-remote-write-samples-written"), "2");
  EXPECT_EQ(r.header("x-prometheus-remote-write-histograms-written"), "0");
  EXPECT_EQ(r.header("x-prometheus-remote-write-exemplars-written"), "0");
  auto v = instant(port, "rw2_up", t);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v.begin()->second, 1);

  auto bad = headers;
  bad[1].second = "application/x-protobuf;proto=io.prometheus.write.v9.Request";
  r = http_request(port, "POST", "/api/v1/write", wire::encode_remote_write_v2(b), bad);
  EXPECT_EQ(r.status, 415);
  r = http_request(port, "POST", "/api/v1/write", "garbage", headers);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.header("x-prometheus-remote-write-samples-written"), "0");
}

TEST_F(Push, CapnpBatchIsWritten) {
  const uint16_t port = n_->http_port;
  const int64_t t = now_ms();
  write_batch b{{{{"region", "eu"}, {"__name__", "capnp_up"}}, {{t, 3}}}};  // unsorted: the node sorts
  auto r = http_request(port, "POST", "/api/v1/push", wire::encode_batch(b), {{"Content-Type", "application/x-capnp"}});
  ASSERT_EQ(r.status, 204) << r.body;
  auto v = instant(port, "capnp_up", t);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[R"({__name__="capnp_up", region="eu"})"], 3);
  r = http_request(port, "POST", "/api/v1/push", "garbage!", {{"Content-Type", "application/x-capnp"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("body is not a strata batch"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace strata::testing
