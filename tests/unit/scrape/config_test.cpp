#include "scrape/config.hpp"

#include <gtest/gtest.h>

#include "app/config.hpp"

namespace strata::scrape {
namespace {

result<app::node_config> parse(const std::string& text) { return app::parse_config(text, "strata.yml"); }
std::string err(const result<app::node_config>& r) { return r ? "(parsed)" : r.error().message(); }

TEST(ScrapeConfig, EveryFieldIsParsed) {
  auto c = parse(R"(
scrape_configs:
  - job_name: node
    scrape_interval: 15s
    scrape_timeout: 5s
    metrics_path: /probe
    scheme: http
    params:
      module: [a, b]
    honor_labels: true
    honor_timestamps: false
    sample_limit: 1000
    label_limit: 30
    body_size_limit: 1048576
    static_configs:
      - targets: ['127.0.0.1:9100', 'localhost:9101']
        labels:
          env: prod
)");
  ASSERT_TRUE(c) << err(c);
  ASSERT_EQ(c->scrape_configs.size(), 1u);
  const auto& j = c->scrape_configs[0];
  EXPECT_EQ(j.job_name, "node");
  EXPECT_EQ(j.interval_ms, 15'000);
  EXPECT_EQ(j.timeout_ms, 5'000);
  EXPECT_EQ(j.metrics_path, "/probe");
  EXPECT_EQ(j.params.at("module"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(j.honor_labels);
  EXPECT_FALSE(j.honor_timestamps);
  EXPECT_EQ(j.sample_limit, 1000u);
  EXPECT_EQ(j.label_limit, 30u);
  EXPECT_EQ(j.body_size_limit, 1048576u);
  ASSERT_EQ(j.static_configs.size(), 1u);
  EXPECT_EQ(j.static_configs[0].targets, (std::vector<std::string>{"127.0.0.1:9100", "localhost:9101"}));
  EXPECT_EQ(j.static_configs[0].target_labels, (labels{{"env", "prod"}}));
}

TEST(ScrapeConfig, DefaultsComeFromGlobal) {
  auto c = parse("global:\n  scrape_interval: 30s\n  scrape_timeout: 20s\n"
                 "scrape_configs:\n  - job_name: a\n  - job_name: b\n    scrape_interval: 10s\n");
  ASSERT_TRUE(c) << err(c);
  EXPECT_EQ(c->scrape_configs[0].interval_ms, 30'000);
  EXPECT_EQ(c->scrape_configs[0].timeout_ms, 20'000);
  EXPECT_EQ(c->scrape_configs[0].metrics_path, "/metrics");
  EXPECT_EQ(c->scrape_configs[0].scheme, "http");
  // A job interval below the global timeout caps its timeout at the interval.
  EXPECT_EQ(c->scrape_configs[1].timeout_ms, 10'000);
}

TEST(ScrapeConfig, EmptyFileIsNoScraping) {
  auto c = parse("");
  ASSERT_TRUE(c) << err(c);
  EXPECT_TRUE(c->scrape_configs.empty());
}

TEST(ScrapeConfig, UnknownTopLevelKeyIsRefusedWithLine) {
  EXPECT_EQ(err(parse("scrape_configs: []\nscrape_config: []\n")),
            "strata.yml:2: unknown key \"scrape_config\" (global, scrape_configs, webhooks, replication_factor, rule_files, alerting)");
}

TEST(ScrapeConfig, UnknownJobKeyIsRefusedWithLine) {
  auto e = err(parse("scrape_configs:\n  - job_name: a\n    scrape_intervall: 1s\n"));
  EXPECT_EQ(e.rfind("strata.yml:3: unknown key \"scrape_intervall\" in scrape_configs", 0), 0u) << e;
}

TEST(ScrapeConfig, BadDurationNamesKeyAndLine) {
  auto e = err(parse("scrape_configs:\n  - job_name: a\n    scrape_interval: 10 seconds\n"));
  EXPECT_EQ(e.rfind("strata.yml:3: scrape_interval: bad duration \"10 seconds\"", 0), 0u) << e;
}

TEST(ScrapeConfig, TimeoutAboveIntervalIsRefused) {
  auto e = err(parse("scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s\n"));
  EXPECT_NE(e.find("scrape_timeout (6000ms) is above scrape_interval (5000ms)"), std::string::npos) << e;
}

TEST(ScrapeConfig, RepeatedJobNameIsRefused) {
  auto e = err(parse("scrape_configs:\n  - job_name: a\n  - job_name: a\n"));
  EXPECT_EQ(e, "strata.yml:3: job_name \"a\" is used twice");
}

TEST(ScrapeConfig, MissingJobNameIsRefused) {
  EXPECT_EQ(err(parse("scrape_configs:\n  - scrape_interval: 5s\n")), "strata.yml:2: job_name is missing");
}

TEST(ScrapeConfig, HttpsSchemeIsRefused) {
  auto e = err(parse("scrape_configs:\n  - job_name: a\n    scheme: https\n"));
  EXPECT_EQ(e, "strata.yml:3: scheme \"https\" is not supported (http only)");
}

TEST(ScrapeConfig, TargetWithoutPortIsRefused) {
  auto e = err(parse("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [localhost]\n"));
  EXPECT_EQ(e, "strata.yml:4: target \"localhost\" must be host:port");
  e = err(parse("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['h:70000']\n"));
  EXPECT_EQ(e, "strata.yml:4: target \"h:70000\": port must be 1 to 65535");
}

TEST(ScrapeConfig, ReservedOrBadLabelNameIsRefused) {
  auto e = err(parse("scrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {__x: y}\n"));
  EXPECT_NE(e.find("names starting with __ are reserved"), std::string::npos) << e;
  e = err(parse("scrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {1x: y}\n"));
  EXPECT_NE(e.find("label name \"1x\" is not"), std::string::npos) << e;
}

TEST(ScrapeConfig, NegativeOrTextLimitIsRefused) {
  auto e = err(parse("scrape_configs:\n  - job_name: a\n    sample_limit: -1\n"));
  EXPECT_EQ(e, "strata.yml:3: sample_limit \"-1\" is not a whole number from 0 to 10^18");
  e = err(parse("scrape_configs:\n  - job_name: a\n    honor_labels: yes please\n"));
  EXPECT_EQ(e, "strata.yml:3: honor_labels must be true or false, not \"yes please\"");
}

TEST(ScrapeConfig, InvalidYamlNamesLine) {
  auto e = err(parse("scrape_configs:\n  - job_name: [a\n"));
  EXPECT_EQ(e.rfind("strata.yml:", 0), 0u) << e;
  EXPECT_NE(e.find("not valid YAML"), std::string::npos) << e;
}

TEST(ScrapeConfig, UnreadableFileIsNamed) {
  auto r = app::load_config("/nonexistent/strata.yml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "--config /nonexistent/strata.yml: cannot read the file");
}

TEST(Duration, PrometheusSyntaxIsParsed) {
  EXPECT_EQ(*parse_duration("15s"), 15'000);
  EXPECT_EQ(*parse_duration("1m30s"), 90'000);
  EXPECT_EQ(*parse_duration("250ms"), 250);
  EXPECT_EQ(*parse_duration("1h"), 3'600'000);
  EXPECT_EQ(*parse_duration("2d"), 172'800'000);
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("15"));
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_FALSE(parse_duration("30s1m"));
  EXPECT_FALSE(parse_duration("1.5s"));
}

}  // namespace
}  // namespace strata::scrape
