#pragma once
// A store that wraps another and injects faults, for tests of whatever sits on
// the seam (store.hpp): failed commits with a chosen error, a full disk, slow
// commits, failed reads. A failed commit never reaches the wrapped store, so it
// changes nothing there.
//
// Threading: the store interface is used by one thread, like any store; the
// fault controls (fail_*, set_*, clear, counters) may be called from any
// thread, e.g. a test thread while a shard actor commits.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "persistence/kv/store.hpp"

namespace strata::persistence::kv {

class faulty_store final : public store {
 public:
  // REQUIRES: inner != nullptr.
  explicit faulty_store(std::unique_ptr<store> inner);

  // The wrapped store, to inspect or change it behind the faults.
  store& inner() { return *inner_; }
  const store& inner() const { return *inner_; }

  // After `after` more commits pass, the next `n` fail with (code, message).
  // Replaces an earlier fail_next_commits that has not run out.
  void fail_next_commits(size_t n, strata_errc code = strata_errc::storage,
                         std::string message = "injected commit failure", size_t after = 0);
  // While set, every commit and sync fails with storage "no space left on
  // device". Reads still work.
  void set_disk_full(bool full);
  // Each commit sleeps this long before it runs (or fails).
  void set_commit_delay(std::chrono::microseconds d);
  // The next `n` get/scan calls fail with (code, message).
  void fail_next_reads(size_t n, strata_errc code = strata_errc::storage,
                       std::string message = "injected read failure");
  // Turns every fault off; the counters stay.
  void clear();

  uint64_t commit_calls() const;    // every commit() call, failed or not
  uint64_t failed_commits() const;  // commits failed by an injected fault
  uint64_t failed_reads() const;    // get/scan calls failed by an injected fault

  status commit(const std::vector<op>& ops) override;
  status get(table t, std::string_view key, std::string& value) const override;
  status scan(table t, std::string_view from, std::string_view to, const scan_fn& fn) const override;
  status sync() override;
  // Delegated; fails like a commit while the disk is full.
  status compact_copy() override;
  // The wrapped store's figures (its commits are the ones that got through).
  store_stats stats() const override { return inner_->stats(); }
  void release_mapped_pages() override { inner_->release_mapped_pages(); }

 private:
  struct fault {
    size_t skip = 0;  // calls that pass before `left` start failing
    size_t left = 0;  // calls still to fail
    strata_errc code = strata_errc::storage;
    std::string message;
  };
  // The injected failure for this call, or ok; counts the call.
  static status take(fault& f);
  status read_fault() const;

  std::unique_ptr<store> inner_;
  mutable std::mutex mu_;  // guards everything below
  fault commit_fault_;
  mutable fault read_fault_;
  bool disk_full_ = false;
  std::chrono::microseconds delay_{0};
  uint64_t commit_calls_ = 0;
  uint64_t failed_commits_ = 0;
  mutable uint64_t failed_reads_ = 0;
};

}  // namespace strata::persistence::kv
