#pragma once
// One zstd decompression context per thread, reused by every decompression
// of chunks and rollup records. Why not ZSTD_decompress: it creates and
// frees a context (about 100 KB, its tables initialised) on every call,
// which cost more than the decompression of a small chunk itself.
#include <zstd.h>

#include <memory>

namespace strata::persistence::codec::detail {

inline ZSTD_DCtx* zstd_decompression_context() {
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  return ctx.get();
}

// ZSTD_decompress with this thread's context.
inline size_t zstd_decompress(void* dst, size_t capacity, const void* src, size_t size) {
  return ZSTD_decompressDCtx(zstd_decompression_context(), dst, capacity, src, size);
}

}  // namespace strata::persistence::codec::detail
