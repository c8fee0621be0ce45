#include "rules/template.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace strata::rules {
namespace {

std::string expand(const std::string& src, double value = 0, labels ls = {}, labels ext = {}) {
  auto t = text_template::compile(src);
  EXPECT_TRUE(t) << (t ? "" : t.error().message());
  if (!t) return "";
  auto r = t->expand({&ls, &ext, value});
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return r ? *r : "";
}

TEST(Template, LabelsValueAndExternalLabels) {
  labels ls{{"instance", "a:1"}, {"job", "api"}};
  labels ext{{"cluster", "eu"}};
  EXPECT_EQ(expand("{{ $labels.instance }} of {{$labels.job}} in {{ $externalLabels.cluster }} is {{ $value }}", 0.5,
                   ls, ext),
            "a:1 of api in eu is 0.5");
  EXPECT_EQ(expand("{{ .Labels.job }} {{ .Value }}", 3, ls), "api 3");
  EXPECT_EQ(expand("[{{ $labels.missing }}]", 0, ls), "[]");
}

TEST(Template, ValuePrintsLikeGo) {
  EXPECT_EQ(go_float(123456), "123456");
  EXPECT_EQ(go_float(1234567), "1.234567e+06");
  EXPECT_EQ(go_float(1e6), "1e+06");
  EXPECT_EQ(go_float(0.0001), "0.0001");
  EXPECT_EQ(go_float(0.00001), "1e-05");
  EXPECT_EQ(go_float(std::nan("")), "NaN");
  EXPECT_EQ(go_float(-HUGE_VAL), "-Inf");
}

TEST(Template, HumanizeFunctions) {
  EXPECT_EQ(expand("{{ $value | humanize }}", 1234567), "1.235M");
  EXPECT_EQ(expand("{{ humanize $value }}", 0.0012), "1.2m");
  EXPECT_EQ(expand("{{ $value | humanize1024 }}", 2048), "2ki");
  EXPECT_EQ(expand("{{ $value | humanizePercentage }}", 0.256), "25.6%");
  EXPECT_EQ(expand("{{ $value | humanizeDuration }}", 93784), "1d 2h 3m 4s");
  EXPECT_EQ(expand("{{ $value | humanizeDuration }}", 1.5), "1.5s");
  EXPECT_EQ(expand("{{ $value | humanizeDuration }}", 0.25), "250ms");
}

TEST(Template, PrintfAndStringFunctions) {
  EXPECT_EQ(expand("{{ printf \"%.2f\" $value }}", 3.14159), "3.14");
  EXPECT_EQ(expand("{{ printf \"%s=%d\" $labels.job $value }}", 7, {{"job", "api"}}), "api=7");
  EXPECT_EQ(expand("{{ $labels.job | toUpper }}", 0, {{"job", "api"}}), "API");
  EXPECT_EQ(expand("{{ index $labels \"job\" }}", 0, {{"job", "api"}}), "api");
}

TEST(Template, IfElseWithAndTrim) {
  EXPECT_EQ(expand("{{ if $labels.job }}job {{ $labels.job }}{{ else }}none{{ end }}", 0, {{"job", "x"}}), "job x");
  EXPECT_EQ(expand("{{ if $labels.job }}job{{ else }}none{{ end }}"), "none");
  EXPECT_EQ(expand("{{ with $labels.job }}[{{ . }}]{{ end }}", 0, {{"job", "x"}}), "[x]");
  EXPECT_EQ(expand("{{ if gt $value 1.0 }}big{{ end }}", 2), "big");
  EXPECT_EQ(expand("a  {{- \"b\" -}}  c"), "abc");
}

TEST(Template, UnknownFunctionIsRefusedAtCompile) {
  auto t = text_template::compile("{{ $value | frobnicate }}");
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("function \"frobnicate\" not defined"), std::string::npos);
}

TEST(Template, QueryAndUndefinedVariablesAreRefused) {
  EXPECT_FALSE(text_template::compile("{{ query \"up\" }}"));
  EXPECT_FALSE(text_template::compile("{{ $nope }}"));
  EXPECT_FALSE(text_template::compile("{{ if $value }}x"));
  EXPECT_FALSE(text_template::compile("{{ $value "));
}

}  // namespace
}  // namespace strata::rules
