#include "http/api.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <limits>
#include <memory>
#include <mutex>
#include <set>

#include "http/params.hpp"
#include "http/events_api.hpp"
#include "http/push.hpp"
#include "http/prom_json.hpp"
#include <nlohmann/json.hpp>

#include "query/engine.hpp"
#include "query/parser.hpp"
#include "query/plan.hpp"
#include "wire/remote_write.hpp"
#include "wire/remote_write_v2.hpp"

namespace strata::http {

int http_status(strata_errc code) {
  switch (code) {
    case strata_errc::ok: return 200;
    case strata_errc::bad_request: return 400;
    case strata_errc::not_found: return 404;
    case strata_errc::unavailable:
    case strata_errc::overloaded:
    case strata_errc::timeout: return 503;
    case strata_errc::storage:
    case strata_errc::corruption:
    case strata_errc::internal: return 500;
    case strata_errc::limit_exceeded: return 429;
  }
  return 500;
}

const char* prometheus_error_type(strata_errc code) {
  switch (code) {
    case strata_errc::bad_request: return "bad_data";
    case strata_errc::not_found: return "not_found";
    case strata_errc::timeout: return "timeout";
    case strata_errc::unavailable:
    case strata_errc::overloaded:
    case strata_errc::limit_exceeded: return "unavailable";
    default: return "internal";
  }
}

namespace {

constexpr int64_t min_time = std::numeric_limits<int64_t>::min() / 2;
constexpr int64_t max_time = std::numeric_limits<int64_t>::max() / 2;

response with_retry_after(response r) {
  if (r.status == 503 || r.status == 429) r.headers.emplace_back("Retry-After", "1");
  return r;
}

response json_error(const status& st) {
  response r;
  r.status = http_status(st.code());
  r.body = error_json(prometheus_error_type(st.code()), st.message());
  return with_retry_after(std::move(r));
}

response bad_data(const std::string& msg) { return json_error(error(strata_errc::bad_request, msg)); }

// An error met while evaluating a query (the parse already succeeded), as
// Prometheus classes it: bad input found during evaluation and the sample
// limit are `execution` (422); timeouts (503), unreachable shards (503) and
// storage failures (500) keep their own types.
response eval_error(const status& st) {
  if (st.code() != strata_errc::bad_request) return json_error(st);
  response r;
  r.status = 422;
  r.body = error_json("execution", st.message());
  return r;
}

response text(int code, std::string body, std::string content_type = "text/plain; charset=utf-8") {
  response r;
  r.status = code;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

response json_ok(std::string body) {
  response r;
  r.body = std::move(body);
  return r;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The series a query needs, fetched from the shards ahead of evaluation:
// one entry per distinct query::selection. The engine asks for exactly
// those (matchers, span) pairs; anything else is cut from the union.
class prefetched_source final : public query::series_source {
 public:
  struct entry {
    std::string key;  // selection_key()
    std::vector<series> data;
    // How often the query lists this selection: the last ask takes `data`
    // instead of a copy (tens of MB for a large range).
    size_t uses = 1;
    bool taken = false;
  };

  static std::string selection_key(const matchers& ms, int64_t mint, int64_t maxt) {
    std::string k = std::to_string(mint) + "/" + std::to_string(maxt);
    for (const auto& m : ms) k += "\xff" + m.to_string();
    return k;
  }

  struct bucket_entry {
    std::string key;  // selection_key() + window
    std::vector<query::bucket_series> data;
    size_t uses = 1;  // as entry::uses
    bool taken = false;
  };

  static std::string bucket_key(const matchers& ms, int64_t mint, int64_t maxt, int64_t window_ms, int64_t edge_step) {
    return std::to_string(window_ms) + "w" + std::to_string(edge_step) + "e" + selection_key(ms, mint, maxt);
  }

  explicit prefetched_source(std::vector<entry> data, std::vector<bucket_entry> buckets = {})
      : data_(std::move(data)), buckets_(std::move(buckets)) {}

  // Exactly the rollup selections fetched; any other is not_found, and the
  // engine reads raw samples instead.
  result<std::vector<query::bucket_series>> select_buckets(const matchers& ms, int64_t mint, int64_t maxt,
                                                           int64_t window_ms, int64_t edge_step) override {
    std::string key = bucket_key(ms, mint, maxt, window_ms, edge_step);
    for (auto& e : buckets_) {
      if (e.key != key) continue;
      if (e.taken)
        return error(strata_errc::internal, "a rollup selection was asked for more often than the query lists it");
      if (e.uses > 1) {
        --e.uses;
        return e.data;
      }
      e.taken = true;
      return std::move(e.data);
    }
    return query::series_source::select_buckets(ms, mint, maxt, window_ms, edge_step);
  }

  result<std::vector<series>> select(const matchers& ms, int64_t mint, int64_t maxt) override {
    std::string key = selection_key(ms, mint, maxt);
    for (auto& e : data_) {
      if (e.key != key || e.taken) continue;
      if (e.uses > 1) {
        --e.uses;
        return e.data;
      }
      e.taken = true;
      return std::move(e.data);
    }
    std::vector<series> out;
    for (const auto& e : data_) {
      if (e.taken)
        return error(strata_errc::internal, "a selection the query did not list was asked for after its data was "
                                            "handed to the engine");
      for (const auto& s : e.data) {
        if (!matches_all(ms, s.lbls)) continue;
        series cut{s.lbls, {}};
        for (const auto& smp : s.samples)
          if (smp.t >= mint && smp.t <= maxt) cut.samples.push_back(smp);
        if (!cut.samples.empty()) out.push_back(std::move(cut));
      }
    }
    return out;
  }

 private:
  std::vector<entry> data_;
  std::vector<bucket_entry> buckets_;
};

// The rollup tiers a query may read (docs/design/query.md, "Rollup tiers"):
// the node's tiers and raw retention, and max_source_resolution: `auto`
// (default) any tier, `0s`/`raw` raw samples only, or a duration, the widest
// tier width allowed.
status rollup_options(const api_context& ctx, const request& req, query::eval_options& opts) {
  opts.tiers = ctx.options.rollup_tiers;
  opts.raw_retention_ms = ctx.options.raw_retention_ms;
  opts.now_ms = now_ms();
  if (!req.has_param("max_source_resolution")) return {};
  std::string v(req.param("max_source_resolution"));
  if (v == "auto" || v.empty()) return {};
  if (v == "raw") {
    opts.max_rollup_window_ms = 0;
    return {};
  }
  auto d = parse_duration_ms(v);
  if (!d || *d < 0)
    return error(strata_errc::bad_request, "invalid parameter \"max_source_resolution\": \"" + v +
                                               "\" is neither auto, raw nor a non-negative duration");
  opts.max_rollup_window_ms = *d;
  return {};
}

// Evaluation options of /query and /query_range: the node's lookback and
// sample limit, and a deadline from the `timeout` parameter (2m by default,
// like Prometheus's --query.timeout).
result<query::eval_options> query_options(const api_context& ctx, const request& req) {
  query::eval_options opts;
  opts.lookback_ms = ctx.options.lookback_ms;
  opts.max_samples = ctx.options.max_query_samples;
  opts.pool = ctx.options.query_pool;
  int64_t timeout_ms = 120000;
  if (req.has_param("timeout")) {
    auto t = parse_duration_ms(req.param("timeout"));
    if (!t) return error(strata_errc::bad_request, "invalid parameter \"timeout\": " + t.error().message());
    if (*t > 0) timeout_ms = *t;
  }
  opts.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  if (auto st = rollup_options(ctx, req, opts); !st) return st;
  return opts;
}

// Fetches every selection of a query from the shards in parallel and calls
// `done` with a source over them once all arrived (or with the first failure).
using gathered_fn =
    std::function<void(result<std::shared_ptr<prefetched_source>>, std::vector<std::string>, actors::read_stats)>;

void gather(const api_context& ctx, const std::vector<query::selection>& sels, size_t max_samples,
            actors::read_options ro, gathered_fn done) {
  struct acc_t {
    std::mutex mu;
    std::vector<prefetched_source::entry> entries;
    std::vector<prefetched_source::bucket_entry> bucket_entries;
    std::set<std::string> warnings;
    size_t left = 0;
    size_t samples = 0;
    status failure;
    actors::read_stats stats;
  };
  auto acc = std::make_shared<acc_t>();
  std::vector<const query::selection*> unique;
  std::vector<const query::selection*> unique_buckets;
  for (const auto& s : sels) {
    if (s.window_ms > 0) {
      std::string key = prefetched_source::bucket_key(s.label_matchers, s.mint, s.maxt, s.window_ms, s.edge_step);
      auto seen = std::find_if(acc->bucket_entries.begin(), acc->bucket_entries.end(),
                               [&](const auto& e) { return e.key == key; });
      if (seen != acc->bucket_entries.end()) {
        ++seen->uses;
        continue;
      }
      acc->bucket_entries.push_back({std::move(key), {}});
      unique_buckets.push_back(&s);
      continue;
    }
    std::string key = prefetched_source::selection_key(s.label_matchers, s.mint, s.maxt);
    auto seen = std::find_if(acc->entries.begin(), acc->entries.end(), [&](const auto& e) { return e.key == key; });
    if (seen != acc->entries.end()) {
      ++seen->uses;
      continue;
    }
    acc->entries.push_back({std::move(key), {}});
    unique.push_back(&s);
  }
  acc->left = unique.size() + unique_buckets.size();
  if (acc->left == 0)
    return done(std::make_shared<prefetched_source>(std::vector<prefetched_source::entry>{}), {}, {});
  auto finish = [acc, done] {
    if (!acc->failure.is_ok()) return done(acc->failure, {}, acc->stats);
    done(std::make_shared<prefetched_source>(std::move(acc->entries), std::move(acc->bucket_entries)),
         std::vector<std::string>(acc->warnings.begin(), acc->warnings.end()), acc->stats);
  };
  for (size_t i = 0; i < unique_buckets.size(); ++i) {
    const auto& sel = *unique_buckets[i];
    ctx.gateway.select_buckets(
        sel.label_matchers, sel.mint, sel.maxt, sel.window_ms, sel.edge_step, max_samples, ro,
        [acc, i, max_samples, finish](result<std::vector<query::bucket_series>> r, std::vector<std::string> w,
                                      actors::read_stats stats) {
          std::unique_lock<std::mutex> lock(acc->mu);
          acc->stats.add(stats);
          if (!r) {
            if (acc->failure.is_ok()) acc->failure = r.error();
          } else {
            for (const auto& s : *r) acc->samples += s.buckets.size() + s.samples.size();
            if (acc->samples > max_samples && acc->failure.is_ok())
              acc->failure = error(strata_errc::bad_request,
                                   "query processing would load too many samples into memory in query execution");
            acc->bucket_entries[i].data = std::move(*r);
            acc->warnings.insert(w.begin(), w.end());
          }
          if (--acc->left > 0) return;
          lock.unlock();
          finish();
        });
  }
  for (size_t i = 0; i < unique.size(); ++i) {
    const auto& sel = *unique[i];
    ctx.gateway.select(sel.label_matchers, sel.mint, sel.maxt, max_samples, ro,
                       [acc, i, max_samples, finish](result<std::vector<series>> r, std::vector<std::string> w,
                                                     actors::read_stats stats) {
                         std::unique_lock<std::mutex> lock(acc->mu);
                         acc->stats.add(stats);
                         if (!r) {
                           if (acc->failure.is_ok()) acc->failure = r.error();
                         } else {
                           for (const auto& s : *r) acc->samples += s.samples.size();
                           if (acc->samples > max_samples && acc->failure.is_ok())
                             acc->failure = error(strata_errc::bad_request,
                                                  "query processing would load too many samples into memory in "
                                                  "query execution");
                           acc->entries[i].data = std::move(*r);
                           acc->warnings.insert(w.begin(), w.end());
                         }
                         if (--acc->left > 0) return;
                         lock.unlock();
                         finish();
                       });
  }
}

// The read parameters of /query and /query_range: partial_response
// (default true), pushdown (default true: aggregations run at the shards)
// and stats (any value but empty or "none": data.stats is filled).
struct query_params {
  actors::read_options read;
  bool pushdown = true;
  bool stats = false;
};

result<bool> bool_param(const request& req, const char* name, bool fallback) {
  if (!req.has_param(name)) return fallback;
  std::string v(req.param(name));
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return error(strata_errc::bad_request,
               std::string("invalid parameter \"") + name + "\": \"" + v + "\" is not one of true, false, 1, 0");
}

result<query_params> read_query_params(const request& req) {
  query_params qp;
  auto partial = bool_param(req, "partial_response", true);
  if (!partial) return partial.error();
  qp.read.partial_response = *partial;
  auto push = bool_param(req, "pushdown", true);
  if (!push) return push.error();
  qp.pushdown = *push;
  std::string st(req.param("stats"));
  qp.stats = !st.empty() && st != "none";
  return qp;
}

// What data.stats reports: what the query received from other nodes and
// where its time went (seconds, Prometheus's timing names).
struct query_stats {
  actors::read_stats cluster;
  double preparation_s = 0;  // reading the selections and merging the shards' partial aggregates
  double inner_eval_s = 0;   // the engine's evaluation over them
};

using evaluated_fn = std::function<void(result<query::query_result>, std::vector<std::string>, query_stats)>;

// Evaluates `e` over the cluster on the grid start, start + step, ..., end
// (an instant query: start == end, step 0). The pushable subtrees of `e`
// (query::pushable_subtrees: decomposable aggregations and series-local
// expressions, over raw samples or rollup buckets) run at the shards
// through gateway::aggregate and are merged here; every other selection is
// gathered, each sample from one replica; then the engine evaluates the
// rest. The same answer as evaluating everything here.
void run_query(const api_context& ctx, std::shared_ptr<const query::expr> e, int64_t start, int64_t end, int64_t step,
               query::eval_options opts, query_params qp, evaluated_fn done) {
  auto sels = query::selections(*e, start, end, step, opts);
  std::vector<const query::expr*> roots;
  std::vector<std::vector<query::selection>> root_sels;
  // With every shard on this node there is no network to spare: evaluate here.
  auto view = ctx.table.snapshot();
  bool remote = std::any_of(view->shards.begin(), view->shards.end(), [](const auto& s) { return !s.local; });
  if (qp.pushdown && remote)
    for (const query::expr* r : query::pushable_subtrees(*e)) {
      auto rs = query::selections(*r, start, end, step, opts);
      roots.push_back(r);
      root_sels.push_back(std::move(rs));
    }
  // What is left to gather: every selection but one occurrence of each pushed one.
  auto key = [](const query::selection& x) {
    return prefetched_source::bucket_key(x.label_matchers, x.mint, x.maxt, x.window_ms, x.edge_step);
  };
  std::vector<std::string> pushed_keys;
  for (const auto& rs : root_sels)
    for (const auto& x : rs) pushed_keys.push_back(key(x));
  std::vector<query::selection> rest;
  for (auto& x : sels) {
    auto it = std::find(pushed_keys.begin(), pushed_keys.end(), key(x));
    if (it != pushed_keys.end()) pushed_keys.erase(it);
    else rest.push_back(std::move(x));
  }

  struct acc_t {
    std::mutex mu;
    size_t left = 0;
    status failure;
    std::set<std::string> warnings;
    actors::read_stats stats;
    std::shared_ptr<prefetched_source> src;
    std::vector<std::pair<const query::expr*, query::matrix>> pre;
    std::vector<std::string> pushed_warnings, pushed_infos;  // the shards' annotations
    std::chrono::steady_clock::time_point begun = std::chrono::steady_clock::now();
  };
  auto acc = std::make_shared<acc_t>();
  acc->left = roots.size() + 1;
  acc->pre.resize(roots.size());
  auto finish = [acc, e, start, end, step, opts, done]() mutable {
    using clock = std::chrono::steady_clock;
    auto seconds = [](clock::duration d) { return std::chrono::duration<double>(d).count(); };
    const auto gathered = clock::now();
    query_stats qs{acc->stats, seconds(gathered - acc->begun), 0};
    std::vector<std::string> w(acc->warnings.begin(), acc->warnings.end());
    if (!acc->failure.is_ok()) return done(acc->failure, std::move(w), qs);
    if (!acc->pre.empty()) opts.precomputed = &acc->pre;
    auto res = step == 0 ? query::eval_instant(*e, *acc->src, start, opts)
                         : query::eval_range(*e, *acc->src, start, end, step, opts);
    if (res) {
      query::add_annotations(res->warnings, acc->pushed_warnings);
      query::add_annotations(res->infos, acc->pushed_infos);
    }
    qs.inner_eval_s = seconds(clock::now() - gathered);
    done(std::move(res), std::move(w), qs);
  };
  auto one_done = [acc, finish](status st, std::vector<std::string> w, actors::read_stats stats) mutable {
    std::unique_lock<std::mutex> lock(acc->mu);
    if (!st && acc->failure.is_ok()) acc->failure = st;
    acc->warnings.insert(w.begin(), w.end());
    acc->stats.add(stats);
    if (--acc->left > 0) return;
    lock.unlock();
    finish();
  };
  for (size_t i = 0; i < roots.size(); ++i) {
    actors::pushdown_request req;
    req.text = query::to_string(*roots[i]);
    req.start = start;
    req.end = end;
    req.step = step;
    req.opts = opts;
    req.selections = std::move(root_sels[i]);
    const query::expr* root = roots[i];
    ctx.gateway.aggregate(
        std::move(req), qp.read,
        [acc, i, root, start, step, one_done](result<std::vector<query::partial_table>> r,
                                               std::vector<std::string> w, actors::read_stats stats) mutable {
          if (!r) return one_done(r.error(), std::move(w), stats);
          std::vector<std::string> warns, infos;
          for (auto& t : *r) {
            warns.insert(warns.end(), t.warnings.begin(), t.warnings.end());
            infos.insert(infos.end(), t.infos.begin(), t.infos.end());
          }
          auto m = query::merge_partial_tables(*root, std::move(*r), start, step == 0 ? 1 : step);
          if (!m) return one_done(m.error(), std::move(w), stats);
          {
            std::lock_guard<std::mutex> lock(acc->mu);
            acc->pre[i] = {root, std::move(*m)};
            acc->pushed_warnings.insert(acc->pushed_warnings.end(), warns.begin(), warns.end());
            acc->pushed_infos.insert(acc->pushed_infos.end(), infos.begin(), infos.end());
          }
          one_done(status::ok(), std::move(w), stats);
        });
  }
  gather(ctx, rest, opts.max_samples, qp.read,
         [acc, one_done](result<std::shared_ptr<prefetched_source>> src, std::vector<std::string> w,
                         actors::read_stats stats) mutable {
           if (!src) return one_done(src.error(), std::move(w), stats);
           {
             std::lock_guard<std::mutex> lock(acc->mu);
             acc->src = std::move(*src);
           }
           one_done(status::ok(), std::move(w), stats);
         });
}

// The data of /api/v1/status/tsdb, in Prometheus's shape and key order.
std::string tsdb_status_json(const actors::tsdb_status& st) {
  std::string out = R"({"headStats":{"numSeries":)" + std::to_string(st.num_series) +
                    R"(,"numLabelPairs":)" + std::to_string(st.num_label_pairs) +
                    R"(,"chunkCount":)" + std::to_string(st.chunk_count) +
                    R"(,"minTime":)" + std::to_string(st.min_time) + R"(,"maxTime":)" + std::to_string(st.max_time) +
                    "}";
  auto list = [&](const char* key, const actors::tsdb_status::stats& v) {
    out += ",\"";
    out += key;
    out += "\":[";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out += ',';
      out += R"({"name":)";
      append_json_string(out, v[i].first);
      out += R"(,"value":)" + std::to_string(v[i].second) + "}";
    }
    out += ']';
  };
  list("seriesCountByMetricName", st.series_by_metric);
  list("labelValueCountByLabelName", st.values_by_label);
  list("memoryInBytesByLabelName", st.bytes_by_label);
  list("seriesCountByLabelValuePair", st.series_by_pair);
  out += '}';
  return out;
}

// Time parameter `name`, or `fallback` when absent.
result<int64_t> time_param(const request& req, const char* name, int64_t fallback) {
  if (!req.has_param(name)) return fallback;
  auto t = parse_time_ms(req.param(name));
  if (!t) return error(strata_errc::bad_request, std::string("invalid parameter \"") + name + "\": " + t.error().message());
  return t;
}

// `start` and `end`, defaulting to all time (metadata endpoints).
result<std::pair<int64_t, int64_t>> span_params(const request& req) {
  auto start = time_param(req, "start", min_time);
  if (!start) return start.error();
  auto end = time_param(req, "end", max_time);
  if (!end) return end.error();
  return std::make_pair(*start, *end);
}

// Parses every match[] as a plain series selector.
result<std::vector<matchers>> match_params(const request& req) {
  std::vector<matchers> out;
  for (const auto& m : req.params_named("match[]")) {
    auto e = query::parse(m);
    if (!e) return error(strata_errc::bad_request, "invalid parameter \"match[]\": " + e.error().message());
    auto ms = query::vector_selector_matchers(*e);
    if (!ms) return error(strata_errc::bad_request, "invalid parameter \"match[]\": " + ms.error().message());
    out.push_back(std::move(*ms));
  }
  return out;
}

// `limit` of /series, /labels and /label/<name>/values, as Prometheus 3 reads
// it: absent, empty or 0 = no limit; otherwise a non-negative integer.
result<size_t> result_limit(const request& req) {
  if (req.param("limit").empty()) return size_t{0};
  auto n = parse_int(req.param("limit"));
  if (!n) return error(strata_errc::bad_request, "invalid parameter \"limit\": " + n.error().message());
  if (*n < 0) return error(strata_errc::bad_request, "invalid parameter \"limit\": limit must be non-negative");
  return static_cast<size_t>(*n);
}

// Cuts `v` to `limit` entries (0: no limit), with Prometheus's warning when it cuts.
template <class T>
void truncate_to(std::vector<T>& v, size_t limit, std::vector<std::string>& warnings) {
  if (limit == 0 || v.size() <= limit) return;
  v.resize(limit);
  warnings.push_back("results truncated due to limit");
}

// Runs `one(matchers, done)` for every set (one empty set when there are
// none) and calls `fin` with the union once all finished.
template <class T, class One>
void for_each_match(const std::vector<matchers>& sets, One one,
                    std::function<void(result<std::vector<T>>, std::vector<std::string>)> fin) {
  struct acc_t {
    std::mutex mu;
    std::set<T> all;
    std::set<std::string> warnings;
    size_t left;
    status failure;
  };
  auto use = sets.empty() ? std::vector<matchers>{matchers{}} : sets;
  auto acc = std::make_shared<acc_t>();
  acc->left = use.size();
  for (const auto& ms : use) {
    one(ms, [acc, fin](result<std::vector<T>> r, std::vector<std::string> w) {
      std::unique_lock<std::mutex> lock(acc->mu);
      if (!r) {
        if (acc->failure.is_ok()) acc->failure = r.error();
      } else {
        for (auto& x : *r) acc->all.insert(std::move(x));
        acc->warnings.insert(w.begin(), w.end());
      }
      if (--acc->left > 0) return;
      lock.unlock();
      if (!acc->failure.is_ok()) return fin(acc->failure, {});
      fin(std::vector<T>(acc->all.begin(), acc->all.end()),
          std::vector<std::string>(acc->warnings.begin(), acc->warnings.end()));
    });
  }
}

std::string result_json(query::query_result& r, std::vector<std::string> warnings) {
  warnings.insert(warnings.end(), r.warnings.begin(), r.warnings.end());
  std::string out;
  if (auto* m = std::get_if<query::matrix>(&r.value)) {
    out = matrix_json(*m, warnings);
  } else if (auto* sc = std::get_if<query::scalar_result>(&r.value)) {
    out = scalar_json(sample{sc->t, sc->v}, warnings);
  } else if (auto* str = std::get_if<query::string_result>(&r.value)) {
    out = R"({"status":"success","data":{"resultType":"string","result":[)";
    append_json_time(out, str->t);
    out += ',';
    append_json_string(out, str->v);
    out += "]}";
    if (!warnings.empty()) {
      out += R"(,"warnings":[)";
      for (size_t i = 0; i < warnings.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, warnings[i]);
      }
      out += ']';
    }
    out += '}';
  } else {
    std::vector<std::pair<labels, sample>> v;
    for (auto& s : std::get<query::vector>(r.value)) v.emplace_back(std::move(s.metric), s.s);
    out = vector_json(v, warnings);
  }
  if (!r.infos.empty() && !out.empty() && out.back() == '}') {
    out.pop_back();
    out += R"(,"infos":[)";
    for (size_t i = 0; i < r.infos.size(); ++i) {
      if (i) out += ',';
      append_json_string(out, r.infos[i]);
    }
    out += "]}";
  }
  return out;
}

struct api_metrics {
  counter_family& samples;
  counter_family& rejected;
};

void handle_write(const api_context& ctx, std::shared_ptr<api_metrics> m, request&& req, respond_fn respond) {
  auto enc = req.header("content-encoding");
  if (!enc.empty() && enc != "snappy")
    return respond(text(415, "unsupported Content-Encoding \"" + std::string(enc) +
                                 "\": remote_write 1.0 bodies are snappy-compressed\n"));
  auto type = req.header("content-type");
  auto proto = wire::remote_write_proto_for(type);
  if (!type.empty() && proto == wire::remote_write_proto::unsupported)
    return respond(text(415, "unsupported Content-Type \"" + std::string(type) +
                                 "\": remote_write sends application/x-protobuf (1.0) or "
                                 "application/x-protobuf;proto=io.prometheus.write.v2.Request (2.0)\n"));
  auto cid = request_correlation_id(req);
  if (!cid) return respond(text(400, cid.error().message() + "\n"));
  if (proto == wire::remote_write_proto::v2) return handle_remote_write_v2(ctx, std::move(req), std::move(respond));
  std::vector<metric_metadata> metadata;
  auto batch = wire::decode_remote_write(req.body, ctx.options.write_limits, &metadata);
  if (!batch) {
    m->rejected.add({"invalid"});
    return respond(text(400, batch.error().message() + "\n"));
  }
  auto* gw = &ctx.gateway;
  auto* bus = ctx.events;
  // Samples first, then metadata: a 204 means both are stored, and a retry
  // after a failure of either changes nothing twice.
  ctx.gateway.write(std::move(*batch), [m, respond, gw, bus, cid = *cid,
                                        metadata = std::move(metadata)](result<uint64_t> r) mutable {
    if (!r) {
      m->rejected.add({to_string(r.error().code())});
      return respond(with_retry_after(text(http_status(r.error().code()), r.error().message() + "\n")));
    }
    m->samples.add({"remote_write"}, static_cast<double>(*r));
    auto done = [bus, cid, n = *r, respond] {
      publish_collected(bus, cid, "remote_write", n, 0);
      response ok = text(204, "");
      ok.headers.emplace_back("X-Correlation-Id", cid);
      respond(std::move(ok));
    };
    if (metadata.empty()) return done();
    gw->put_metadata(std::move(metadata), [m, respond, done](result<size_t> md) {
      if (!md) {
        m->rejected.add({to_string(md.error().code())});
        return respond(with_retry_after(text(http_status(md.error().code()), md.error().message() + "\n")));
      }
      done();
    });
  });
}

// The answer of /query and /query_range; with `stats`, data.stats
// (Prometheus's `stats` parameter) tells where the query's time went until
// its answer was encoded (`since`: when the request's handling began) and
// what it received from other nodes.
std::string query_answer(query::query_result& res, std::vector<std::string> warnings, bool stats,
                         const query_stats& qs, std::chrono::steady_clock::time_point since) {
  if (!stats) return result_json(res, std::move(warnings));
  warnings.insert(warnings.end(), res.warnings.begin(), res.warnings.end());
  res.warnings.clear();
  auto infos = std::move(res.infos);
  res.infos.clear();
  std::string out = result_json(res, {});  // ends with data's "}" and the body's
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  const auto& st = qs.cluster;
  nlohmann::json j = {{"timings",
                       {{"evalTotalTime", qs.preparation_s + qs.inner_eval_s},
                        {"queryPreparationTime", qs.preparation_s},
                        {"innerEvalTime", qs.inner_eval_s},
                        {"execTotalTime", total_s}}},
                      {"cluster",
                       {{"remoteBytes", st.remote_bytes},
                        {"remoteSeries", st.remote_series},
                        {"remoteSamples", st.remote_samples},
                        {"remotePartials", st.remote_partials}}}};
  out.resize(out.size() - 2);
  out += ",\"stats\":" + j.dump() + "}";
  for (const auto& [key, list] : {std::pair{"warnings", &warnings}, std::pair{"infos", &infos}}) {
    if (list->empty()) continue;
    out += ",\"" + std::string(key) + "\":[";
    for (size_t i = 0; i < list->size(); ++i) {
      if (i) out += ',';
      append_json_string(out, (*list)[i]);
    }
    out += ']';
  }
  out += '}';
  return out;
}

void handle_query(const api_context& ctx, request&& req, respond_fn respond) {
  auto t = time_param(req, "time", now_ms());
  if (!t) return respond(json_error(t.error()));
  auto qp = read_query_params(req);
  if (!qp) return respond(json_error(qp.error()));
  auto e = query::parse(req.param("query"));
  if (!e) return respond(json_error(e.error()));
  auto expr = std::make_shared<query::expr>(std::move(*e));
  auto opts_r = query_options(ctx, req);
  if (!opts_r) return respond(json_error(opts_r.error()));
  bool stats = qp->stats;
  auto since = std::chrono::steady_clock::now();
  run_query(ctx, expr, *t, *t, 0, *opts_r, *qp,
            [respond, stats, since](result<query::query_result> res, std::vector<std::string> warnings,
                                    query_stats qs) {
              if (!res) return respond(eval_error(res.error()));
              respond(json_ok(query_answer(*res, std::move(warnings), stats, qs, since)));
            });
}

void handle_query_range(const api_context& ctx, request&& req, respond_fn respond) {
  for (const char* p : {"start", "end", "step"})
    if (!req.has_param(p)) return respond(bad_data(std::string("invalid parameter \"") + p + "\": missing"));
  auto start = time_param(req, "start", 0);
  if (!start) return respond(json_error(start.error()));
  auto end = time_param(req, "end", 0);
  if (!end) return respond(json_error(end.error()));
  if (*end < *start) return respond(bad_data("end timestamp must not be before start time"));
  auto step = parse_duration_ms(req.param("step"));
  if (!step) return respond(bad_data("invalid parameter \"step\": " + step.error().message()));
  if (*step <= 0)
    return respond(bad_data("zero or negative query resolution step widths are not accepted. Try a positive integer"));
  if ((*end - *start) / *step >= static_cast<int64_t>(ctx.options.max_points_per_series))
    return respond(bad_data("exceeded maximum resolution of " + std::to_string(ctx.options.max_points_per_series) +
                            " points per timeseries. Try decreasing the query resolution (?step=XX)"));
  auto qp = read_query_params(req);
  if (!qp) return respond(json_error(qp.error()));
  auto e = query::parse(req.param("query"));
  if (!e) return respond(json_error(e.error()));
  auto expr = std::make_shared<query::expr>(std::move(*e));
  auto opts_r = query_options(ctx, req);
  if (!opts_r) return respond(json_error(opts_r.error()));
  bool stats = qp->stats;
  auto since = std::chrono::steady_clock::now();
  run_query(ctx, expr, *start, *end, *step, *opts_r, *qp,
            [respond, stats, since](result<query::query_result> res, std::vector<std::string> warnings,
                                    query_stats qs) {
              if (!res) return respond(eval_error(res.error()));
              respond(json_ok(query_answer(*res, std::move(warnings), stats, qs, since)));
            });
}

void handle_series(const api_context& ctx, request&& req, respond_fn respond) {
  auto sets = match_params(req);
  if (!sets) return respond(json_error(sets.error()));
  if (sets->empty()) return respond(bad_data("no match[] parameter provided"));
  auto span = span_params(req);
  if (!span) return respond(json_error(span.error()));
  auto limit = result_limit(req);
  if (!limit) return respond(json_error(limit.error()));
  auto& gw = ctx.gateway;
  int64_t s = span->first, e = span->second;
  size_t n = *limit;
  for_each_match<labels>(
      *sets, [&gw, s, e](const matchers& ms, auto done) { gw.select_labels(ms, s, e, done); },
      [respond, n](result<std::vector<labels>> r, std::vector<std::string> w) {
        if (!r) return respond(json_error(r.error()));
        truncate_to(*r, n, w);
        respond(json_ok(series_json(*r, w)));
      });
}

void handle_strings(const api_context& ctx, request&& req, respond_fn respond, const std::string* label) {
  auto sets = match_params(req);
  if (!sets) return respond(json_error(sets.error()));
  auto span = span_params(req);
  if (!span) return respond(json_error(span.error()));
  auto limit = result_limit(req);
  if (!limit) return respond(json_error(limit.error()));
  auto& gw = ctx.gateway;
  int64_t s = span->first, e = span->second;
  size_t n = *limit;
  std::string name = label ? *label : std::string();
  bool values = label != nullptr;
  for_each_match<std::string>(
      *sets,
      [&gw, s, e, name, values](const matchers& ms, auto done) {
        if (values) gw.label_values(name, ms, s, e, done);
        else gw.label_names(ms, s, e, done);
      },
      [respond, n](result<std::vector<std::string>> r, std::vector<std::string> w) {
        if (!r) return respond(json_error(r.error()));
        truncate_to(*r, n, w);
        respond(json_ok(strings_json(*r, w)));
      });
}

// GET /api/v1/status/tsdb: `limit` (default 10) entries per list.
void handle_tsdb_status(const api_context& ctx, request&& req, respond_fn respond) {
  int64_t limit = 10;
  if (!req.param("limit").empty()) {
    auto n = parse_int(req.param("limit"));
    if (!n || *n <= 0)
      return respond(bad_data("invalid parameter \"limit\": limit must be a positive number, not \"" +
                              std::string(req.param("limit")) + "\""));
    limit = *n;
  }
  ctx.gateway.tsdb(static_cast<size_t>(limit), [respond](result<actors::tsdb_status> r, std::vector<std::string> w) {
    if (!r) return respond(json_error(r.error()));
    respond(json_ok(success_json(tsdb_status_json(*r), w)));
  });
}

// GET /api/v1/metadata: `metric`, `limit` (families; negative: all),
// `limit_per_metric` (entries per family; 0 or negative: all).
void handle_metadata(const api_context& ctx, request&& req, respond_fn respond) {
  int64_t limits[2] = {-1, -1};
  const char* names[2] = {"limit", "limit_per_metric"};
  for (int i = 0; i < 2; ++i) {
    if (req.param(names[i]).empty()) continue;
    auto n = parse_int(req.param(names[i]));
    if (!n)
      return respond(bad_data(std::string("invalid parameter \"") + names[i] + "\": " + names[i] +
                              " must be a number, not \"" + std::string(req.param(names[i])) + "\""));
    limits[i] = *n;
  }
  int64_t limit = limits[0], per_metric = limits[1];
  ctx.gateway.metadata(std::string(req.param("metric")),
                       [respond, limit, per_metric](result<std::vector<metric_metadata>> r, std::vector<std::string> w) {
                         if (!r) return respond(json_error(r.error()));
                         respond(json_ok(metadata_json(*r, limit, per_metric, w)));
                       });
}

}  // namespace

void eval_instant_async(const api_context& ctx, std::shared_ptr<const query::expr> e, int64_t t_ms,
                        std::function<void(result<query::query_result>)> done) {
  query::eval_options opts;
  opts.lookback_ms = ctx.options.lookback_ms;
  opts.max_samples = ctx.options.max_query_samples;
  opts.deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  opts.pool = ctx.options.query_pool;
  opts.tiers = ctx.options.rollup_tiers;
  opts.raw_retention_ms = ctx.options.raw_retention_ms;
  opts.now_ms = now_ms();
  run_query(ctx, e, t_ms, t_ms, 0, opts, query_params{},
            [done](result<query::query_result> r, std::vector<std::string>, query_stats) { done(std::move(r)); });
}

void register_api(server& srv, const api_context& ctx) {
  auto m = std::make_shared<api_metrics>(api_metrics{
      ctx.metrics.counter("strata_samples_ingested_total", "Samples acknowledged to writers, by protocol.",
                          {"protocol"}),
      ctx.metrics.counter("strata_write_requests_rejected_total", "Write requests refused, by reason.", {"reason"}),
  });
  m->samples.add({"remote_write"}, 0);
  ctx.metrics.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", process_resident_bytes);
  ctx.metrics.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", process_virtual_bytes);
  ctx.metrics.counter_fn("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                    process_cpu_seconds);
  ctx.metrics.gauge("process_open_fds", "Number of open file descriptors.", process_open_fds);
  ctx.metrics.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                    process_start_time_seconds);
  const api_context* c = &ctx;

  srv.route({"POST"}, "/api/v1/write", [c, m](request&& req, respond_fn r) { handle_write(*c, m, std::move(req), r); });
  srv.route({"GET", "POST"}, "/api/v1/query", [c](request&& req, respond_fn r) { handle_query(*c, std::move(req), r); });
  srv.route({"GET", "POST"}, "/api/v1/query_range",
            [c](request&& req, respond_fn r) { handle_query_range(*c, std::move(req), r); });
  srv.route({"GET", "POST"}, "/api/v1/series", [c](request&& req, respond_fn r) { handle_series(*c, std::move(req), r); });
  srv.route({"GET", "POST"}, "/api/v1/labels",
            [c](request&& req, respond_fn r) { handle_strings(*c, std::move(req), r, nullptr); });
  srv.route_prefix({"GET"}, "/api/v1/label/", "/api/v1/label/:name/values", [c](request&& req, respond_fn r) {
    std::string rest = req.path.substr(std::string("/api/v1/label/").size());
    auto slash = rest.find('/');
    if (slash == std::string::npos || rest.substr(slash) != "/values" || slash == 0)
      return r(json_error(error(strata_errc::not_found, "unknown path " + req.path)));
    std::string name = rest.substr(0, slash);
    handle_strings(*c, std::move(req), r, &name);
  });
  srv.route({"GET", "POST"}, "/api/v1/format_query", [](request&& req, respond_fn r) {
    auto e = query::parse(req.param("query"));
    if (!e) return r(json_error(e.error()));
    std::string body = R"({"status":"success","data":)";
    append_json_string(body, query::to_string(*e));
    body += '}';
    r(json_ok(std::move(body)));
  });
  // Storage admin (docs/api.md): seal every head, or seal and compact every
  // raw block, on every live shard of the cluster.
  for (std::string op : {"flush", "compact"}) {
    srv.route({"POST", "PUT"}, "/api/v1/admin/" + op, [c, op](request&&, respond_fn r) {
      c->gateway.admin(op, [r, op](result<std::pair<uint64_t, uint64_t>> res, std::vector<std::string> warnings) {
        if (!res) return r(json_error(res.error()));
        std::string body = R"({"status":"success","data":{)";
        if (op == "compact")
          body += R"("chunksBefore":)" + std::to_string(res->first) + R"(,"chunksAfter":)" +
                  std::to_string(res->second);
        body += '}';
        if (!warnings.empty()) {
          body += R"(,"warnings":[)";
          for (size_t i = 0; i < warnings.size(); ++i) {
            if (i) body += ',';
            append_json_string(body, warnings[i]);
          }
          body += ']';
        }
        body += '}';
        r(json_ok(std::move(body)));
      });
    });
  }
  srv.route({"GET"}, "/api/v1/status/tsdb",
            [c](request&& req, respond_fn r) { handle_tsdb_status(*c, std::move(req), r); });
  srv.route({"GET"}, "/api/v1/metadata", [c](request&& req, respond_fn r) { handle_metadata(*c, std::move(req), r); });
  srv.route({"GET"}, "/api/v1/status/buildinfo", [](request&&, respond_fn r) {
    r(json_ok(R"({"status":"success","data":{"version":"0.1.0","revision":"","branch":"","buildUser":"","buildDate":"","goVersion":""}})"));
  });
  srv.route({"GET"}, "/metrics", [c](request&&, respond_fn r) {
    r(text(200, c->metrics.render(), "text/plain; version=0.0.4; charset=utf-8"));
  });
  register_push(srv, ctx);
  srv.route({"GET", "HEAD"}, "/health", [](request&&, respond_fn r) { r(text(200, "strata is Healthy.\n")); });
  srv.route({"GET", "HEAD"}, "/ready", [c](request&&, respond_fn r) {
    if (c->ready.load()) r(text(200, "strata is Ready.\n"));
    else r(with_retry_after(text(503, "strata is not ready: opening shards or stopping.\n")));
  });
}

}  // namespace strata::http
