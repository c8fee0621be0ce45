#include "cluster/membership.hpp"

#include <gtest/gtest.h>

namespace strata::cluster {
namespace {

TEST(SplitHostPort, TakesHostAndPort) {
  auto hp = split_host_port("127.0.0.1:9202");
  ASSERT_TRUE(hp.is_ok());
  EXPECT_EQ(hp->first, "127.0.0.1");
  EXPECT_EQ(hp->second, 9202);
}

TEST(SplitHostPort, RejectsWhatIsNotHostPort) {
  for (const char* bad : {"127.0.0.1", ":9202", "host:", "host:99999", "host:12a", "host:123456789012"}) {
    auto hp = split_host_port(bad);
    ASSERT_FALSE(hp.is_ok()) << bad;
    EXPECT_NE(hp.error().message().find(bad), std::string::npos) << hp.error().message();
  }
}

}  // namespace
}  // namespace strata::cluster
