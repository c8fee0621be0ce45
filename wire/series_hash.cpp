#include "wire/series_hash.hpp"

#include <xxhash.h>

#include <algorithm>
#include <string>

namespace strata::wire {

uint64_t series_hash(const labels& canonical) {
  size_t len = 0;
  for (const auto& l : canonical) len += l.name.size() + l.value.size() + 2;

  // Most label sets fit on the stack; one heap buffer otherwise.
  char stack_buf[1024];
  std::string heap_buf;
  char* buf = stack_buf;
  if (len > sizeof stack_buf) {
    heap_buf.resize(len);
    buf = heap_buf.data();
  }
  char* p = buf;
  for (const auto& l : canonical) {
    p = std::copy(l.name.begin(), l.name.end(), p);
    *p++ = static_cast<char>(0xFF);
    p = std::copy(l.value.begin(), l.value.end(), p);
    *p++ = static_cast<char>(0xFF);
  }
  return XXH3_64bits(buf, len);
}

}  // namespace strata::wire
