#pragma once
// Push endpoints (docs/api.md): Pushgateway-compatible groups
// (PUT/POST/DELETE /metrics/job/<job>{/<label>/<value>}) and JSON events
// (POST /api/v1/push). Decoding runs on the HTTP thread; writes go through
// the gateway like remote_write.
#include "http/api.hpp"

namespace strata::http {

// Registers the push routes. Group membership is kept in an LMDB environment
// in ctx.options.push_state_dir (in memory when empty). When that cannot be
// opened, the group routes answer 503 naming the directory and the cause.
// REQUIRES: everything referenced by ctx outlives the server.
void register_push(server& srv, const api_context& ctx);

// POST /api/v1/write with a remote_write 2.0 body (the caller checked the
// Content-Type): 204 with X-Prometheus-Remote-Write-{Samples,Histograms,
// Exemplars}-Written; 400 when the body is invalid, or when it holds native
// histograms, which are not stored (its float samples are written first).
void handle_remote_write_v2(const api_context& ctx, request&& req, respond_fn respond);

}  // namespace strata::http
