// A fixed set of helper threads that a caller borrows to run independent
// pieces of one job in parallel (the query engine's per-series work).
//
// parallel_for(n, fn) runs fn(0) .. fn(n - 1), each once, on the calling
// thread and on whichever helpers are free, and returns when all have run.
// The caller always works too, so a job finishes even when every helper is
// busy with other callers' jobs: nothing queues without bound and nothing
// waits on a helper to start. Pieces must not depend on each other's order.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace strata {

class work_pool {
 public:
  // `helpers` threads besides the callers; 0 runs every job on its caller.
  explicit work_pool(size_t helpers);
  ~work_pool();
  work_pool(const work_pool&) = delete;
  work_pool& operator=(const work_pool&) = delete;

  // Threads a job can use at most: the helpers and the caller.
  size_t width() const { return threads_.size() + 1; }

  // Runs fn(i) for every i in [0, n); an exception thrown by fn reaches the
  // caller (the first one, after every piece has run or thrown).
  void parallel_for(size_t n, const std::function<void(size_t)>& fn);
  // [0, n) cut into `pieces` consecutive ranges (at most n), each run as
  // fn(begin, end) through parallel_for.
  void parallel_ranges(size_t n, size_t pieces, const std::function<void(size_t, size_t)>& fn);

 private:
  struct job;
  void helper_loop();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<job>> offers_;  // one entry per helper a job asked for
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace strata
