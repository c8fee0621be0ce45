// The pieces of /api/v1/metadata, /api/v1/status/tsdb and the `limit`
// parameters that need no running node.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/params.hpp"
#include "http/prom_json.hpp"

namespace strata::http {
namespace {

TEST(ParseInt, ReadsWhatGoAtoiReads) {
  EXPECT_EQ(*parse_int("0"), 0);
  EXPECT_EQ(*parse_int("17"), 17);
  EXPECT_EQ(*parse_int("+5"), 5);
  EXPECT_EQ(*parse_int("-3"), -3);
  EXPECT_EQ(*parse_int("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(*parse_int("-9223372036854775808"), INT64_MIN);
  for (const char* bad : {"", "-", "1.5", "1e3", " 1", "1 ", "abc", "9223372036854775808", "0x10"}) {
    auto r = parse_int(bad);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_EQ(r.error().code(), strata_errc::bad_request);
    EXPECT_EQ(r.error().message(), std::string("cannot parse \"") + bad + "\" to an integer");
  }
}

std::vector<metric_metadata> sample_metadata() {
  return {{"a_total", "counter", "A <help>.", ""},
          {"b", "gauge", "B one.", "bytes"},
          {"b", "gauge", "B two.", "bytes"},
          {"c", "summary", "", ""}};
}

TEST(MetadataJson, GroupsEntriesByFamilyInPrometheusShape) {
  auto j = nlohmann::json::parse(metadata_json(sample_metadata(), -1, -1));
  EXPECT_EQ(j["status"], "success");
  ASSERT_EQ(j["data"].size(), 3u);
  EXPECT_EQ(j["data"]["a_total"], nlohmann::json::parse(R"([{"type":"counter","help":"A <help>.","unit":""}])"));
  ASSERT_EQ(j["data"]["b"].size(), 2u);
  EXPECT_EQ(j["data"]["b"][1]["help"], "B two.");
  EXPECT_EQ(j["data"]["b"][1]["unit"], "bytes");
  EXPECT_FALSE(j.contains("warnings"));
}

TEST(MetadataJson, LimitCountsFamiliesAndLimitPerMetricEntries) {
  auto j = nlohmann::json::parse(metadata_json(sample_metadata(), 2, 1));
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_TRUE(j["data"].contains("a_total"));
  ASSERT_EQ(j["data"]["b"].size(), 1u);
  EXPECT_EQ(j["data"]["b"][0]["help"], "B one.");
  EXPECT_EQ(metadata_json(sample_metadata(), 0, -1), R"({"status":"success","data":{}})") << "limit=0: no family";
  auto all = nlohmann::json::parse(metadata_json(sample_metadata(), -1, 0));
  EXPECT_EQ(all["data"]["b"].size(), 2u) << "limit_per_metric=0: no limit";
}

TEST(SuccessJson, WrapsDataAndWarnings) {
  EXPECT_EQ(success_json(R"({"x":1})"), R"({"status":"success","data":{"x":1}})");
  EXPECT_EQ(success_json("[]", {"w"}), R"({"status":"success","data":[],"warnings":["w"]})");
}

}  // namespace
}  // namespace strata::http
