#pragma once
// The refs of one (label name, value) pair. Up to three refs are kept inline;
// more move into a CRoaring bitmap on the heap.
//
// Why not always a Roaring: a Roaring with one element costs about 200 bytes
// in several allocations, and high-cardinality labels (instance ids, pod
// names) have one series per value: inline they cost 16 bytes.
#include <cstdint>
#include <roaring/roaring.hh>
#include <vector>

namespace strata::persistence::index::detail {

class postings {
 public:
  postings() : s12_{0, 0} {}
  ~postings();
  postings(postings&& o) noexcept;
  postings& operator=(postings&& o) noexcept;
  postings(const postings&) = delete;
  postings& operator=(const postings&) = delete;

  void add(uint32_t r);
  void remove(uint32_t r);
  bool empty() const { return n_ == 0; }
  uint64_t cardinality() const { return n_ == big ? big_->cardinality() : n_; }
  bool intersects(const Roaring& refs) const;

  // The bitmap when there is one; nullptr when the refs are inline (append_small).
  const Roaring* bitmap() const { return n_ == big ? big_ : nullptr; }
  // Appends the inline refs to `out`. REQUIRES: bitmap() == nullptr.
  void append_small(std::vector<uint32_t>& out) const;

  // Compacts the bitmap (run containers, no spare capacity).
  void optimize();
  // Heap bytes held, approximately.
  size_t bytes() const { return n_ == big ? sizeof(Roaring) + big_->getSizeInBytes(false) : 0; }

 private:
  static constexpr uint32_t big = UINT32_MAX;
  static constexpr uint32_t max_inline = 3;

  uint32_t at(uint32_t i) const { return i == 0 ? s0_ : s12_[i - 1]; }
  void set(uint32_t i, uint32_t v) { (i == 0 ? s0_ : s12_[i - 1]) = v; }
  void release();

  uint32_t n_ = 0;   // inline refs (sorted), or `big`
  uint32_t s0_ = 0;  // inline ref 0
  union {
    uint32_t s12_[2];  // inline refs 1 and 2
    Roaring* big_;     // owned, when n_ == big
  };
};

}  // namespace strata::persistence::index::detail
