#include "app/allocator.hpp"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#ifdef STRATA_JEMALLOC
#include <jemalloc/jemalloc.h>

// jemalloc reads this at its first allocation; MALLOC_CONF still overrides.
// A background thread purges freed pages, which go back to the system about
// 250 ms after their last use (no "muzzy" stage, so the RSS shows it): back
// to back queries reuse each other's buffers, and neither a burst of ingest
// nor of queries keeps its memory (docs/bench/ingest.md, "Allocator"). 0 (at
// once) nearly doubles the CPU of ingest and queries; 1 s raised the query
// phase's peak by a quarter.
extern "C" {
const char* malloc_conf = "background_thread:true,dirty_decay_ms:250,muzzy_decay_ms:0";
}
#endif

namespace strata::app {
namespace {

#ifndef STRATA_JEMALLOC
// Returns the memory malloc keeps after frees to the system every
// `interval`: glibc gives back only the top of a heap by itself, so after
// a burst of ingest or a large query most of the freed memory stayed
// resident (docs/bench/storage.md, "Memory").
class glibc_trimmer : public memory_setup {
 public:
  explicit glibc_trimmer(std::chrono::milliseconds interval)
      : thread_([this, interval] {
          std::unique_lock<std::mutex> lock(mu_);
          while (!cv_.wait_for(lock, interval, [this] { return stop_; })) malloc_trim(0);
        }) {}
  ~glibc_trimmer() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};
#endif

}  // namespace

std::unique_ptr<memory_setup> set_up_memory() {
#ifdef STRATA_JEMALLOC
  return std::make_unique<memory_setup>();
#else
  // glibc gives threads their own malloc arenas (up to 8 per core), and what
  // a thread frees stays in its arena: with the shard and scheduler threads
  // that kept ~2x the live heap resident. One arena per core, at least
  // four: two cost a third more CPU per ingested sample from contention
  // (docs/bench/storage.md, "Memory"); MALLOC_ARENA_MAX still overrides.
  if (!std::getenv("MALLOC_ARENA_MAX"))
    mallopt(M_ARENA_MAX, static_cast<int>(std::max(4u, std::thread::hardware_concurrency())));
  // Freed blocks stay with malloc until the trimmer's next pass instead of
  // going back to the system at once: a query's buffers of tens of MB (a
  // shard's reply, its decoded series) are otherwise mapped fresh and
  // page-faulted in again by the next query, which cost about half the CPU
  // of the largest bench queries (docs/bench/query.md). 32 MB is the
  // largest mmap threshold glibc accepts; MALLOC_MMAP_THRESHOLD_ and
  // MALLOC_TRIM_THRESHOLD_ still override.
  if (!std::getenv("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 32 << 20);
  if (!std::getenv("MALLOC_TRIM_THRESHOLD_")) mallopt(M_TRIM_THRESHOLD, 1 << 30);
  return std::make_unique<glibc_trimmer>(std::chrono::seconds(5));
#endif
}

std::string allocator_name() {
#ifdef STRATA_JEMALLOC
  const char* version = nullptr;
  size_t len = sizeof(version);
  if (mallctl("version", &version, &len, nullptr, 0) == 0 && version) {
    std::string v = version;  // "5.3.0-0-g<commit>"
    return "jemalloc " + v.substr(0, v.find('-'));
  }
  return "jemalloc";
#else
  return "glibc";
#endif
}

}  // namespace strata::app
