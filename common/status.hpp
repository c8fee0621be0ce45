#pragma once
// Expected failures below the actors are values, never exceptions.
#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace strata {

// The one error enum of strata. http/ maps it to status codes; actors carry it
// as a caf::error (category "strata").
enum class strata_errc : uint8_t {
  ok = 0,
  bad_request,  // the caller sent something invalid; nothing was changed
  not_found,
  unavailable,  // a needed shard or node is not reachable now; retry later
  overloaded,   // refused to protect memory; retry later
  storage,      // the disk or LMDB failed
  corruption,   // stored bytes do not decode; the message says where
  timeout,
  internal,
  limit_exceeded,  // a configured limit (e.g. active series) refused it; retry after the operator acts or load drops
};

const char* to_string(strata_errc c);

class status {
 public:
  status() = default;
  status(strata_errc code, std::string message) : code_(code), message_(std::move(message)) {}
  static status ok() { return {}; }

  bool is_ok() const { return code_ == strata_errc::ok; }
  explicit operator bool() const { return is_ok(); }
  strata_errc code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  strata_errc code_ = strata_errc::ok;
  std::string message_;
};

inline status error(strata_errc code, std::string message) { return {code, std::move(message)}; }

// A value or the status that explains why there is none.
template <class T>
class result {
 public:
  result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  result(status err) : v_(std::move(err)) {}       // NOLINT(google-explicit-constructor)

  bool is_ok() const { return v_.index() == 0; }
  explicit operator bool() const { return is_ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // REQUIRES: !is_ok()
  const status& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, status> v_;
};

}  // namespace strata
