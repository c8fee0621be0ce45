#include "persistence/index/detail/postings.hpp"

#include <utility>

namespace strata::persistence::index::detail {

postings::~postings() { release(); }

void postings::release() {
  if (n_ == big) delete big_;
  n_ = 0;
}

postings::postings(postings&& o) noexcept : n_(o.n_), s0_(o.s0_) {
  if (n_ == big) {
    big_ = o.big_;
  } else {
    s12_[0] = o.s12_[0];
    s12_[1] = o.s12_[1];
  }
  o.n_ = 0;
}

postings& postings::operator=(postings&& o) noexcept {
  if (this == &o) return *this;
  release();
  n_ = o.n_;
  s0_ = o.s0_;
  if (n_ == big) {
    big_ = o.big_;
  } else {
    s12_[0] = o.s12_[0];
    s12_[1] = o.s12_[1];
  }
  o.n_ = 0;
  return *this;
}

void postings::add(uint32_t r) {
  if (n_ == big) {
    big_->add(r);
    return;
  }
  uint32_t pos = 0;
  while (pos < n_ && at(pos) < r) ++pos;
  if (pos < n_ && at(pos) == r) return;
  if (n_ < max_inline) {
    for (uint32_t i = n_; i > pos; --i) set(i, at(i - 1));
    set(pos, r);
    ++n_;
    return;
  }
  auto* b = new Roaring();
  for (uint32_t i = 0; i < n_; ++i) b->add(at(i));
  b->add(r);
  big_ = b;
  n_ = big;
}

void postings::remove(uint32_t r) {
  if (n_ == big) {
    big_->remove(r);
    // Back inline below the limit, with room to spare so that a ref moving
    // in and out does not allocate each time.
    if (big_->cardinality() < max_inline) {
      Roaring* b = big_;
      uint32_t n = 0;
      for (auto it = b->begin(); it != b->end(); ++it) {
        uint32_t v = *it;
        if (n == 0) {
          s0_ = v;
        } else {
          s12_[n - 1] = v;
        }
        ++n;
      }
      delete b;
      n_ = n;
    }
    return;
  }
  uint32_t pos = 0;
  while (pos < n_ && at(pos) != r) ++pos;
  if (pos == n_) return;
  for (uint32_t i = pos; i + 1 < n_; ++i) set(i, at(i + 1));
  --n_;
}

bool postings::intersects(const Roaring& refs) const {
  if (n_ == big) return big_->intersect(refs);
  for (uint32_t i = 0; i < n_; ++i)
    if (refs.contains(at(i))) return true;
  return false;
}

void postings::append_small(std::vector<uint32_t>& out) const {
  for (uint32_t i = 0; i < n_; ++i) out.push_back(at(i));
}

void postings::optimize() {
  if (n_ != big) return;
  big_->runOptimize();
  big_->shrinkToFit();
}

}  // namespace strata::persistence::index::detail
