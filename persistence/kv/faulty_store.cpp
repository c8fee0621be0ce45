#include "persistence/kv/faulty_store.hpp"

#include <thread>
#include <utility>

namespace strata::persistence::kv {

faulty_store::faulty_store(std::unique_ptr<store> inner) : inner_(std::move(inner)) {}

void faulty_store::fail_next_commits(size_t n, strata_errc code, std::string message, size_t after) {
  std::lock_guard<std::mutex> lock(mu_);
  commit_fault_ = {after, n, code, std::move(message)};
}

void faulty_store::set_disk_full(bool full) {
  std::lock_guard<std::mutex> lock(mu_);
  disk_full_ = full;
}

void faulty_store::set_commit_delay(std::chrono::microseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  delay_ = d;
}

void faulty_store::fail_next_reads(size_t n, strata_errc code, std::string message) {
  std::lock_guard<std::mutex> lock(mu_);
  read_fault_ = {0, n, code, std::move(message)};
}

void faulty_store::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  commit_fault_ = {};
  read_fault_ = {};
  disk_full_ = false;
  delay_ = std::chrono::microseconds{0};
}

uint64_t faulty_store::commit_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commit_calls_;
}

uint64_t faulty_store::failed_commits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_commits_;
}

uint64_t faulty_store::failed_reads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_reads_;
}

status faulty_store::take(fault& f) {
  if (f.left == 0) return status::ok();
  if (f.skip > 0) {
    --f.skip;
    return status::ok();
  }
  --f.left;
  return error(f.code, f.message);
}

status faulty_store::commit(const std::vector<op>& ops) {
  status injected;
  std::chrono::microseconds delay;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++commit_calls_;
    delay = delay_;
    // A scheduled failure counts down even while the disk is full, so that
    // "the 3rd commit from now fails" does not depend on other faults.
    injected = take(commit_fault_);
    if (injected.is_ok() && disk_full_) injected = error(strata_errc::storage, "no space left on device");
    if (!injected.is_ok()) ++failed_commits_;
  }
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  if (!injected.is_ok()) return injected;
  return inner_->commit(ops);
}

status faulty_store::read_fault() const {
  std::lock_guard<std::mutex> lock(mu_);
  status st = take(read_fault_);
  if (!st.is_ok()) ++failed_reads_;
  return st;
}

status faulty_store::get(table t, std::string_view key, std::string& value) const {
  if (auto st = read_fault(); !st) return st;
  return inner_->get(t, key, value);
}

status faulty_store::scan(table t, std::string_view from, std::string_view to, const scan_fn& fn) const {
  if (auto st = read_fault(); !st) return st;
  return inner_->scan(t, from, to, fn);
}

status faulty_store::sync() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (disk_full_) return error(strata_errc::storage, "no space left on device");
  }
  return inner_->sync();
}

status faulty_store::compact_copy() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (disk_full_) return error(strata_errc::storage, "no space left on device");
  }
  return inner_->compact_copy();
}

}  // namespace strata::persistence::kv
