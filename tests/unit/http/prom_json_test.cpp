#include "http/prom_json.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace strata::http {
namespace {

std::string time_str(int64_t ms) {
  std::string out;
  append_json_time(out, ms);
  return out;
}

std::string json_str(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(PromJson, InstantVector) {
  std::vector<std::pair<labels, sample>> v{
      {{{"__name__", "up"}, {"job", "a"}}, {1435781451781, 1}},
      {{{"__name__", "up"}, {"job", "b"}}, {1435781451000, 0.5}},
  };
  EXPECT_EQ(vector_json(v), R"({"status":"success","data":{"resultType":"vector","result":[)"
                            R"({"metric":{"__name__":"up","job":"a"},"value":[1435781451.781,"1"]},)"
                            R"({"metric":{"__name__":"up","job":"b"},"value":[1435781451,"0.5"]}]}})");
  EXPECT_EQ(vector_json({}), R"({"status":"success","data":{"resultType":"vector","result":[]}})");
}

TEST(PromJson, Matrix) {
  std::vector<series> m{{{{"a", "b"}}, {{1000, 1}, {1500, NAN}, {2050, INFINITY}}}};
  EXPECT_EQ(matrix_json(m), R"({"status":"success","data":{"resultType":"matrix","result":[)"
                            R"({"metric":{"a":"b"},"values":[[1,"1"],[1.500,"NaN"],[2.050,"+Inf"]]}]}})");
  EXPECT_EQ(matrix_json({}), R"({"status":"success","data":{"resultType":"matrix","result":[]}})");
}

TEST(PromJson, Scalar) {
  EXPECT_EQ(scalar_json({1000, 2}), R"({"status":"success","data":{"resultType":"scalar","result":[1,"2"]}})");
}

TEST(PromJson, SeriesAndStrings) {
  EXPECT_EQ(series_json({{{"__name__", "up"}, {"job", "a"}}, {{"__name__", "x"}}}),
            R"({"status":"success","data":[{"__name__":"up","job":"a"},{"__name__":"x"}]})");
  EXPECT_EQ(series_json({}), R"({"status":"success","data":[]})");
  EXPECT_EQ(strings_json({"__name__", "job"}), R"({"status":"success","data":["__name__","job"]})");
}

TEST(PromJson, WarningsFollowData) {
  EXPECT_EQ(strings_json({"a"}, {"partition 7 had no live replica"}),
            R"({"status":"success","data":["a"],"warnings":["partition 7 had no live replica"]})");
  EXPECT_EQ(vector_json({}, {"w1", "w2"}),
            R"({"status":"success","data":{"resultType":"vector","result":[]},"warnings":["w1","w2"]})");
}

TEST(PromJson, Errors) {
  EXPECT_EQ(error_json("bad_data", "1:3: parse error: unexpected \"}\""),
            R"({"status":"error","errorType":"bad_data","error":"1:3: parse error: unexpected \"}\""})");
  EXPECT_EQ(error_json("unavailable", "x", {"w"}),
            R"({"status":"error","errorType":"unavailable","error":"x","warnings":["w"]})");
}

TEST(PromJson, TimesLikePrometheus) {
  EXPECT_EQ(time_str(1435781451781), "1435781451.781");
  EXPECT_EQ(time_str(1435781451000), "1435781451");
  EXPECT_EQ(time_str(1435781451500), "1435781451.500");
  EXPECT_EQ(time_str(1435781451005), "1435781451.005");
  EXPECT_EQ(time_str(0), "0");
  EXPECT_EQ(time_str(-1500), "-1.500");
  EXPECT_EQ(time_str(-9223372036854775807LL - 1), "-9223372036854775.808");
}

TEST(PromJson, ValuesLikePrometheus) {
  EXPECT_EQ(json_value(1), "1");
  EXPECT_EQ(json_value(0), "0");
  EXPECT_EQ(json_value(-0.0), "-0");
  EXPECT_EQ(json_value(0.1), "0.1");
  EXPECT_EQ(json_value(1e6), "1000000");
  EXPECT_EQ(json_value(123456789.125), "123456789.125");
  EXPECT_EQ(json_value(1e20), "100000000000000000000");
  EXPECT_EQ(json_value(1e21), "1e+21");
  EXPECT_EQ(json_value(1e-6), "0.000001");
  EXPECT_EQ(json_value(1e-7), "1e-07");
  EXPECT_EQ(json_value(-2.5e-9), "-2.5e-09");
  EXPECT_EQ(json_value(INFINITY), "+Inf");
  EXPECT_EQ(json_value(-INFINITY), "-Inf");
  EXPECT_EQ(json_value(NAN), "NaN");
}

// A point is written in one piece: the longest values (17 digits in fixed
// notation at both ends of its range) and times come out whole, the large
// values as Go's shortest digits padded with zeros, as Prometheus prints.
TEST(PromJson, PointsHoldTheLongestValuesAndTimes) {
  EXPECT_EQ(json_value(-1.2345678901234567e-6), "-0.0000012345678901234567");
  EXPECT_EQ(json_value(-1.2345678901234567e20), "-123456789012345670000");
  EXPECT_EQ(json_value(9007199254740993.0), "9007199254740992");  // below 1e16: exact, and shortest too
  EXPECT_EQ(json_value(9007199254740991.0), "9007199254740991");  // the largest below 2^53, as an integer
  EXPECT_EQ(json_value(-9007199254740991.0), "-9007199254740991");
  EXPECT_EQ(json_value(-42), "-42");
  EXPECT_EQ(json_value(1e16), "10000000000000000");
  EXPECT_EQ(json_value(12345678901234567.0), "12345678901234568");
  EXPECT_EQ(json_value(9.999999999999999e20), "999999999999999900000");
  std::vector<series> m{{{{"a", "b"}},
                         {{-9223372036854775807LL - 1, -1.2345678901234567e-6},
                          {9223372036854775807LL, -1.2345678901234567e20}}}};
  EXPECT_EQ(matrix_json(m), R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},)"
                            R"("values":[[-9223372036854775.808,"-0.0000012345678901234567"],)"
                            R"([9223372036854775.807,"-123456789012345670000"]]}]}})");
}

TEST(PromJson, StringEscaping) {
  EXPECT_EQ(json_str("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(json_str("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(json_str(std::string("\x01\x1f\0", 3)), R"("\u0001\u001f\u0000")");
  EXPECT_EQ(json_str("<a&b>"), R"("\u003ca\u0026b\u003e")");
  EXPECT_EQ(json_str("\xc3\xa9"), "\"\xc3\xa9\"");  // valid UTF-8 kept
  EXPECT_EQ(json_str("\xe2\x80\xa8"), R"("\u2028")");
  EXPECT_EQ(json_str("a\xff"
                     "b"),
            R"("a\ufffdb")");                                      // invalid byte replaced
  EXPECT_EQ(json_str("\xc3"), R"("\ufffd")");                      // truncated sequence
  EXPECT_EQ(json_str("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // surrogate
}

TEST(PromJson, OutputIsValidJsonForHostileLabels) {
  std::string nasty = "x\"\\\n\x01\xff\xfe<>&\xe2\x80\xa9";
  std::vector<series> m{{{{nasty, nasty}}, {{1, -0.0}}}};
  auto body = matrix_json(m, {nasty});
  auto j = nlohmann::json::parse(body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << body;
  EXPECT_EQ(j["status"], "success");
  EXPECT_EQ(j["data"]["result"][0]["values"][0][1], "-0");
  auto e = nlohmann::json::parse(error_json("bad_data", nasty), nullptr, false);
  ASSERT_FALSE(e.is_discarded());
  EXPECT_EQ(e["errorType"], "bad_data");
}

}  // namespace
}  // namespace strata::http
