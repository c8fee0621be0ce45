#pragma once
// Time is passed in, never read inside logic, so tests can freeze it.
#include <chrono>
#include <cstdint>

namespace strata {

class clock {
 public:
  virtual ~clock() = default;
  virtual int64_t now_ms() const = 0;
};

class system_clock final : public clock {
 public:
  int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class manual_clock final : public clock {
 public:
  explicit manual_clock(int64_t t) : t_(t) {}
  int64_t now_ms() const override { return t_; }
  void advance(int64_t ms) { t_ += ms; }

 private:
  int64_t t_;
};

}  // namespace strata
