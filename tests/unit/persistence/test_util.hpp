#pragma once
// Helpers of the persistence tests: a fresh directory per test, matchers, batches.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "common/matcher.hpp"
#include "common/series.hpp"

namespace strata::persistence::test_support {

// A new directory under /tmp, removed with everything in it at scope exit.
class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = "/tmp/strata-persistence-XXXXXX";
    if (!mkdtemp(tmpl.data())) ADD_FAILURE() << "mkdtemp failed";
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline matcher make_matcher(matcher::op o, std::string name, std::string value) {
  auto m = matcher::make(o, std::move(name), std::move(value));
  EXPECT_TRUE(m.is_ok());
  return *m;
}

inline matcher eq(std::string n, std::string v) { return make_matcher(matcher::op::eq, std::move(n), std::move(v)); }
inline matcher neq(std::string n, std::string v) { return make_matcher(matcher::op::neq, std::move(n), std::move(v)); }
inline matcher re(std::string n, std::string v) { return make_matcher(matcher::op::re, std::move(n), std::move(v)); }
inline matcher nre(std::string n, std::string v) { return make_matcher(matcher::op::nre, std::move(n), std::move(v)); }

inline constexpr int64_t min_t = INT64_MIN;
inline constexpr int64_t max_t = INT64_MAX;

}  // namespace strata::persistence::test_support
