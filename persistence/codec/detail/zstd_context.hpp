#pragma once
// One zstd decompression context per thread, reused by every decompression
// of chunks and rollup records. Why not ZSTD_decompress: it creates and
// frees a context (about 100 KB, its tables initialised) on every call,
// which cost more than the decompression of a small chunk itself.
//
// The same for compression of the small records that seals write while
// ingesting (a rollup record per series, tier and block): ZSTD_compress
// set up a context per call, 70 % of the zstd time, and zstd was a fifth of
// the node's ingest CPU (docs/bench/ingest.md, "Round 4"). Compaction's large
// frames at high levels keep ZSTD_compress: a context sized for them would
// stay resident on every shard thread.
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

// ZSTD_compress with this thread's context: the same bytes, no set-up per call.
inline size_t zstd_compress_small(void* dst, size_t capacity, const void* src, size_t size, int level) {
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  return ZSTD_compressCCtx(ctx.get(), dst, capacity, src, size, level);
}

}  // namespace strata::persistence::codec::detail
