// The `webhooks:` section of the node's YAML config.
#include <gtest/gtest.h>

#include "app/config.hpp"

namespace strata::app {
namespace {

result<node_config> parse(const std::string& text) { return parse_config(text, "strata.yml"); }

void expect_refused(const std::string& text, const std::string& message_part) {
  auto c = parse(text);
  ASSERT_FALSE(c) << text;
  EXPECT_EQ(c.error().code(), strata_errc::bad_request);
  EXPECT_NE(c.error().message().find(message_part), std::string::npos) << c.error().message();
}

TEST(WebhooksConfig, EveryFieldIsParsed) {
  auto c = parse(R"(webhooks:
  - url: http://127.0.0.1:8080/hook
    types: [alert.triggered, metrics.*]
    headers:
      Authorization: Bearer t
    timeout: 2s
    max_attempts: 5
    backoff: 250ms
    queue_capacity: 10
  - url: http://127.0.0.1:8081/
)");
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_EQ(c->webhooks.size(), 2u);
  const auto& w = c->webhooks[0];
  EXPECT_EQ(w.url, "http://127.0.0.1:8080/hook");
  EXPECT_TRUE(w.types.matches("alert.triggered"));
  EXPECT_TRUE(w.types.matches("metrics.aggregated"));
  EXPECT_FALSE(w.types.matches("alert.resolved"));
  EXPECT_EQ(w.headers, (events::header_list{{"Authorization", "Bearer t"}}));
  EXPECT_EQ(w.timeout_ms, 2000);
  EXPECT_EQ(w.max_attempts, 5);
  EXPECT_EQ(w.backoff_ms, 250);
  EXPECT_EQ(w.queue_capacity, 10u);
  EXPECT_TRUE(c->webhooks[1].types.all());
  EXPECT_EQ(c->webhooks[1].max_attempts, 3);
}

TEST(WebhooksConfig, BadEntriesAreRefusedNamingLineAndField) {
  expect_refused("webhooks:\n  - url: http://h:1/\n    types: [alert.fired]\n",
                 "strata.yml:2: webhooks[0].types: unknown event type \"alert.fired\"");
  expect_refused("webhooks:\n  - url: https://h:1/\n", "webhooks[0].url");
  expect_refused("webhooks:\n  - types: [alert.triggered]\n", "webhooks[0]: url is required");
  expect_refused("webhooks:\n  - url: http://h:1/\n    retries: 3\n", "webhooks[0].retries: unknown key");
  expect_refused("webhooks:\n  - url: http://h:1/\n    max_attempts: 0\n", "webhooks[0].max_attempts");
  expect_refused("webhooks:\n  - url: http://h:1/\n    timeout: soon\n", "webhooks[0].timeout");
  expect_refused("webhooks:\n  - url: http://h:1/\n    headers:\n      \"Bad Name\": x\n", "invalid header name");
  expect_refused("webhooks: http://h:1/\n", "webhooks must be a list");
}

}  // namespace
}  // namespace strata::app
