#pragma once
// The node's malloc (docs/operations.md, "Memory"). The default build links
// jemalloc, with its settings compiled in (allocator.cpp); a build with
// -DSTRATA_JEMALLOC=OFF or a sanitizer uses glibc malloc, tuned here.

#include <memory>
#include <string>

namespace strata::app {

// What keeps the allocator set up while the node runs.
class memory_setup {
 public:
  virtual ~memory_setup() = default;
};

// Sets up the allocator for a long-running node; call before any thread
// starts. With glibc: arenas, thresholds and a thread that gives freed
// memory back every 5 s; with jemalloc nothing is left to do at run time.
std::unique_ptr<memory_setup> set_up_memory();

// "jemalloc 5.3.0" or "glibc", for strata_build_info and the log.
std::string allocator_name();

}  // namespace strata::app
