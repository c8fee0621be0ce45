#include "common/work_pool.hpp"

#include <algorithm>
#include <atomic>
#include <exception>

#include <pthread.h>

namespace strata {

// What the caller and the helpers that take an offer share. Pieces are
// claimed from `next`; the caller returns once `done` reaches n, after
// which a helper taking a stale offer claims nothing and drops it.
struct work_pool::job {
  size_t n = 0;
  const std::function<void(size_t)>* fn = nullptr;
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::condition_variable finished;
  size_t done = 0;
  std::exception_ptr failure;

  void work() {
    size_t ran = 0;
    std::exception_ptr err;
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n; ++ran) {
      try {
        (*fn)(i);
      } catch (...) {
        if (!err) err = std::current_exception();
      }
    }
    if (ran == 0) return;
    std::lock_guard<std::mutex> lock(mu);
    if (err && !failure) failure = err;
    done += ran;
    if (done == n) finished.notify_all();
  }
};

work_pool::work_pool(size_t helpers) {
  threads_.reserve(helpers);
  for (size_t i = 0; i < helpers; ++i)
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "strata.query");
      helper_loop();
    });
}

work_pool::~work_pool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void work_pool::helper_loop() {
  for (;;) {
    std::shared_ptr<job> j;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !offers_.empty(); });
      if (stopping_) return;
      j = std::move(offers_.front());
      offers_.pop_front();
    }
    j->work();
  }
}

void work_pool::parallel_for(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  auto j = std::make_shared<job>();
  j->n = n;
  j->fn = &fn;
  size_t offers = std::min(threads_.size(), n - 1);
  if (offers > 0) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 0; i < offers; ++i) offers_.push_back(j);
    }
    if (offers == 1) wake_.notify_one();
    else wake_.notify_all();
  }
  j->work();
  std::unique_lock<std::mutex> lock(j->mu);
  j->finished.wait(lock, [&] { return j->done == n; });
  if (j->failure) std::rethrow_exception(j->failure);
}

void work_pool::parallel_ranges(size_t n, size_t pieces, const std::function<void(size_t, size_t)>& fn) {
  pieces = std::min(n, pieces);
  parallel_for(pieces, [&](size_t p) { fn(n * p / pieces, n * (p + 1) / pieces); });
}

}  // namespace strata
