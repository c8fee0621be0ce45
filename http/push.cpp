#include "http/push.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <utility>

#include "common/clock.hpp"
#include "http/events_api.hpp"
#include "http/grouping_key.hpp"
#include "http/push_groups.hpp"
#include "wire/capnp_push.hpp"
#include "wire/check_series.hpp"
#include "wire/json_push.hpp"
#include "wire/remote_write_v2.hpp"
#include "wire/text_format.hpp"

namespace strata::http {
namespace {

response text_reply(int code, std::string body) {
  response r;
  r.status = code;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  if (code == 503) r.headers.emplace_back("Retry-After", "1");
  return r;
}

response failure(const status& st) { return text_reply(http_status(st.code()), st.message() + "\n"); }

response with_correlation_id(response r, const std::string& cid) {
  r.headers.emplace_back("X-Correlation-Id", cid);
  return r;
}

struct push_state {
  const api_context* ctx;
  std::unique_ptr<push_groups> groups;  // null when the store could not be opened
  std::string open_error;
  system_clock clock;
};

// Puts the grouping key on every series (its labels win over the body's),
// checks the result with wire::check_series, joins series that became equal,
// and adds push_time_seconds.
result<pushed_group> apply_grouping_key(const labels& key, wire::parsed_text parsed, int64_t now_ms,
                                        const wire::write_limits& limits) {
  pushed_group out;
  std::map<labels, size_t> index;
  auto add = [&](const std::string& where, labels ls, std::vector<sample> samples, const std::string& family) -> status {
    for (const auto& k : key) {
      auto it = std::find_if(ls.begin(), ls.end(), [&](const label& l) { return l.name == k.name; });
      if (it != ls.end())
        it->value = k.value;
      else
        ls.push_back(k);
    }
    if (auto st = wire::check_series(ls, limits); !st)
      return error(strata_errc::bad_request, where + st.message());
    auto [it, fresh] = index.emplace(ls, out.series.size());
    if (fresh) {
      out.series.push_back({std::move(ls), std::move(samples)});
      out.family.push_back(family);
    } else {
      auto& dst = out.series[it->second].samples;
      dst.insert(dst.end(), samples.begin(), samples.end());
    }
    return status::ok();
  };
  for (size_t i = 0; i < parsed.series.size(); ++i) {
    auto& s = parsed.series[i];
    if (auto st = add("line " + std::to_string(parsed.line_of[i]) + ": ", std::move(s.lbls), std::move(s.samples),
                      parsed.metadata[parsed.family_of[i]].family);
        !st)
      return st;
  }
  // Pushgateway's per-group gauge: when the group was last pushed.
  if (auto st = add("", {{std::string(metric_name_label), "push_time_seconds"}},
                    {{now_ms, static_cast<double>(now_ms) / 1000.0}}, "push_time_seconds");
      !st)
    return st;
  return out;
}

// Stores the HELP/TYPE/UNIT of `md` (families that say nothing are skipped)
// in the shards that own them, then runs `then` with the outcome, so that a
// success answer means samples and metadata are both stored.
void store_metadata(const api_context& ctx, const wire::metadata_list& md, std::function<void(status)> then) {
  std::vector<metric_metadata> out;
  for (const auto& m : md) {
    if (m.type == wire::metric_type::unknown && m.help.empty() && m.unit.empty()) continue;
    out.push_back({m.family, wire::to_string(m.type), m.help, m.unit});
  }
  if (out.empty()) return then(status::ok());
  ctx.gateway.put_metadata(std::move(out),
                           [then = std::move(then)](result<size_t> r) { then(r ? status::ok() : r.error()); });
}

void handle_group(const std::shared_ptr<push_state>& state, request&& req, respond_fn respond) {
  if (!state->groups) return respond(text_reply(503, state->open_error + "\n"));
  auto key = parse_grouping_key(req.path);
  if (!key) return respond(failure(key.error()));
  auto cid = request_correlation_id(req);
  if (!cid) return respond(failure(cid.error()));
  const api_context& ctx = *state->ctx;
  const int64_t now = state->clock.now_ms();
  push_mode mode = req.method == "PUT" ? push_mode::replace : req.method == "POST" ? push_mode::add : push_mode::remove;

  pushed_group pushed;
  wire::metadata_list metadata;
  if (mode != push_mode::remove) {
    auto type = req.header("content-type");
    if (type.find("application/vnd.google.protobuf") != std::string_view::npos)
      return respond(text_reply(415, "unsupported Content-Type \"" + std::string(type) +
                                         "\": push the text format (text/plain; version=0.0.4 or "
                                         "application/openmetrics-text)\n"));
    wire::text_options o;
    o.default_timestamp_ms = now;
    o.limits = ctx.options.write_limits;
    auto parsed = wire::parse_text(req.body, wire::text_format_for(type), o);
    if (!parsed) return respond(failure(parsed.error()));
    metadata = parsed->metadata;  // a copy: apply_grouping_key reads it too
    auto grouped = apply_grouping_key(*key, std::move(*parsed), now, ctx.options.write_limits);
    if (!grouped) return respond(failure(grouped.error()));
    pushed = std::move(*grouped);
  }

  push_plan plan = state->groups->prepare(*key, mode, pushed, now);
  const int ok_code = mode == push_mode::remove ? 202 : 200;
  size_t samples = 0;
  for (const auto& s : plan.batch) samples += s.samples.size();
  auto finish = [state, key = *key, members = std::move(plan.members), respond, ok_code, cid = *cid, samples, mode,
                 metadata = std::move(metadata)]() mutable {
    if (auto st = state->groups->commit(key, std::move(members)); !st) return respond(failure(st));
    store_metadata(*state->ctx, metadata, [state, respond, ok_code, cid, samples, mode](status st) {
      if (!st) return respond(failure(st));
      if (mode != push_mode::remove) publish_collected(state->ctx->events, cid, "pushgateway", samples, 0);
      respond(with_correlation_id(text_reply(ok_code, ""), cid));
    });
  };
  if (plan.batch.empty()) return finish();
  ctx.gateway.write(std::move(plan.batch), [finish = std::move(finish), respond](result<uint64_t> r) mutable {
    if (!r) return respond(failure(r.error()));
    finish();
  });
}

// A native Cap'n Proto batch (docs/api/capnp_push.md): 204 when committed.
void handle_capnp_push(const api_context& ctx, request&& req, respond_fn respond) {
  auto cid = request_correlation_id(req);
  if (!cid) return respond(failure(cid.error()));
  auto b = wire::decode_capnp_push(req.body, ctx.options.write_limits);
  if (!b) return respond(failure(b.error()));
  if (b->empty()) return respond(with_correlation_id(text_reply(204, ""), *cid));
  ctx.gateway.write(std::move(*b), [respond, bus = ctx.events, cid = *cid](result<uint64_t> r) {
    if (!r) return respond(failure(r.error()));
    publish_collected(bus, cid, "capnp", *r, 0);
    respond(with_correlation_id(text_reply(204, ""), cid));
  });
}

void handle_json_push(const api_context& ctx, const clock& clk, request&& req, respond_fn respond) {
  auto type = req.header("content-type");
  if (type.substr(0, 19) == "application/x-capnp") return handle_capnp_push(ctx, std::move(req), std::move(respond));
  if (type.substr(0, 16) != "application/json")
    return respond(text_reply(415, "unsupported Content-Type \"" + std::string(type) +
                                       "\": /api/v1/push takes application/json events or an "
                                       "application/x-capnp batch\n"));
  auto p = wire::decode_json_push(req.body, clk.now_ms(), ctx.options.write_limits);
  if (!p) return respond(failure(p.error()));
  if (p->correlation_id.empty()) {  // the header, else a fresh one; the reply and the event carry it
    auto cid = request_correlation_id(req);
    if (!cid) return respond(failure(cid.error()));
    p->correlation_id = std::move(*cid);
  }
  auto reply = std::make_shared<wire::json_push>(std::move(*p));
  auto answer = [&ctx, reply, respond] {
    store_metadata(ctx, reply->metadata, [&ctx, reply, respond](status st) {
      if (!st) return respond(failure(st));
      publish_collected(ctx.events, reply->correlation_id, "json", reply->accepted, reply->rejected.size());
      response r;
      r.body = wire::encode_collected(*reply);
      respond(std::move(r));
    });
  };
  if (reply->series.empty()) return answer();
  ctx.gateway.write(std::move(reply->series), [answer, respond](result<uint64_t> r) {
    if (!r) return respond(failure(r.error()));
    answer();
  });
}

response with_written(response r, size_t samples, size_t histograms, size_t exemplars) {
  r.headers.emplace_back("X-Prometheus-Remote-Write-Samples-Written", std::to_string(samples));
  r.headers.emplace_back("X-Prometheus-Remote-Write-Histograms-Written", std::to_string(histograms));
  r.headers.emplace_back("X-Prometheus-Remote-Write-Exemplars-Written", std::to_string(exemplars));
  return r;
}

}  // namespace

void handle_remote_write_v2(const api_context& ctx, request&& req, respond_fn respond) {
  auto enc = req.header("content-encoding");
  if (enc != "snappy")
    return respond(with_written(text_reply(415,
                                           "remote_write 2.0 bodies are snappy-compressed: send "
                                           "Content-Encoding: snappy\n"),
                                0, 0, 0));
  auto cid = request_correlation_id(req);
  if (!cid) return respond(with_written(failure(cid.error()), 0, 0, 0));
  auto d = wire::decode_remote_write_v2(req.body, ctx.options.write_limits);
  if (!d) return respond(with_written(failure(d.error()), 0, 0, 0));
  const size_t samples = d->samples, histograms = d->histograms;
  auto answer = [&ctx, respond, samples, histograms, cid = *cid, metadata = std::move(d->metadata)] {
    store_metadata(ctx, metadata, [&ctx, respond, samples, histograms, cid](status st) {
      if (!st) return respond(with_written(failure(st), samples, 0, 0));
      publish_collected(ctx.events, cid, "remote_write_v2", samples, histograms);
      if (histograms > 0)
        return respond(with_written(
            text_reply(400, std::to_string(histograms) + " native histogram samples were not written: strata stores "
                                                         "float samples only (send classic histograms)\n"),
            samples, 0, 0));
      respond(with_correlation_id(with_written(text_reply(204, ""), samples, 0, 0), cid));
    });
  };
  if (d->series.empty()) return answer();
  ctx.gateway.write(std::move(d->series), [answer, respond](result<uint64_t> r) {
    if (!r) return respond(with_written(failure(r.error()), 0, 0, 0));
    answer();
  });
}

void register_push(server& srv, const api_context& ctx) {
  auto state = std::make_shared<push_state>();
  state->ctx = &ctx;
  std::unique_ptr<persistence::kv::store> st;
  if (ctx.options.push_state_dir.empty()) {
    st = persistence::kv::make_memory_store();
  } else {
    persistence::kv::lmdb_options o;
    o.dir = ctx.options.push_state_dir;
    o.initial_map_size = size_t{8} << 20;
    auto opened = persistence::kv::open_lmdb(o);
    if (opened)
      st = std::move(*opened);
    else
      state->open_error = "push groups unavailable: " + opened.error().message();
  }
  if (st) {
    auto g = push_groups::open(std::move(st));
    if (g)
      state->groups = std::move(*g);
    else
      state->open_error = "push groups unavailable: " + g.error().message();
  }
  if (!state->open_error.empty()) spdlog::error("{}", state->open_error);

  srv.route_prefix({"PUT", "POST", "DELETE"}, std::string(push_path_prefix), "/metrics/job/:job",
                   [state](request&& req, respond_fn r) { handle_group(state, std::move(req), std::move(r)); });
  srv.route({"POST"}, "/api/v1/push", [state](request&& req, respond_fn r) {
    handle_json_push(*state->ctx, state->clock, std::move(req), std::move(r));
  });
}

}  // namespace strata::http
