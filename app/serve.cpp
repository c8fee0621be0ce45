#include "app/serve.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "actors/collector.hpp"
#include "actors/gateway.hpp"
#include "actors/hints.hpp"
#include "actors/aggregator.hpp"
#include "actors/shard_actor.hpp"
#include "app/allocator.hpp"
#include "app/config.hpp"
#include "actors/messages.hpp"
#include "cluster/membership.hpp"
#include "common/log.hpp"
#include "common/work_pool.hpp"
#include "events/bus.hpp"
#include "events/webhook.hpp"
#include "http/events_api.hpp"
#include "http/api.hpp"
#include "http/cluster_api.hpp"
#include "http/params.hpp"
#include "http/rules_api.hpp"
#include "http/server.hpp"
#include "scrape/manager.hpp"
#include "rules/manager.hpp"

namespace strata::app {
namespace fs = std::filesystem;

void add_serve_flags(CLI::App& cmd, serve_config& c) {
  cmd.add_option("--config", c.config_file, "YAML config file (scrape_configs; docs/operations.md)");
  cmd.add_option("--data-dir", c.data_dir, "Directory of this node's data (one LMDB environment per shard)")
      ->capture_default_str();
  cmd.add_option("--http-listen", c.http_listen, "host:port of the HTTP API")->capture_default_str();
  cmd.add_option("--cluster-listen", c.cluster_listen, "host:port where other nodes reach this one")
      ->capture_default_str();
  cmd.add_option("--seeds", c.seeds, "host:port of nodes to join (comma-separated or repeated); none starts a new cluster")
      ->delimiter(',');
  cmd.add_option("--shards", c.shards, "Shards (storage actors) on this node; fixed once the data dir exists")
      ->capture_default_str()->check(CLI::Range(1u, 256u));
  cmd.add_option("--http-threads", c.http_threads, "Threads serving HTTP connections")
      ->capture_default_str()->check(CLI::Range(1u, 64u));
  cmd.add_option("--scheduler-threads", c.scheduler_threads, "Actor scheduler threads")
      ->capture_default_str()->check(CLI::Range(1u, 64u));
  cmd.add_option("--query-threads", c.query_threads,
                 "Threads that compute a query's series in parallel, the one evaluating it included (1: that one "
                 "only); 0: one per CPU")
      ->capture_default_str()->check(CLI::Range(0u, 256u));
  cmd.add_option("--replication-factor", c.replication_factor,
                 "Replicas of every series, on distinct nodes; a write is acknowledged by a majority of them "
                 "(every node of a cluster must use the same value; default: the config file's "
                 "replication_factor, else 1)")
      ->check(CLI::Range(1u, 5u));
  cmd.add_option("--collectors", c.collectors, "Collector actors routing writes to shards")
      ->capture_default_str()->check(CLI::Range(1u, 64u));
  cmd.add_option("--max-body-bytes", c.max_body_bytes, "Largest HTTP request body accepted (413 above)")
      ->capture_default_str();
  cmd.add_option("--max-series-per-request", c.max_series_per_request,
                 "Series in one write request; more is refused with 400 (0: no limit)")
      ->capture_default_str();
  cmd.add_option("--max-labels-per-series", c.max_labels_per_series,
                 "Labels of one series, __name__ included (0: no limit)")
      ->capture_default_str();
  cmd.add_option("--max-label-name-length", c.max_label_name_length, "Bytes of a label name (0: no limit)")
      ->capture_default_str();
  cmd.add_option("--max-label-value-length", c.max_label_value_length, "Bytes of a label value (0: no limit)")
      ->capture_default_str();
  cmd.add_option("--name-validation", c.name_validation,
                 "Metric and label names written: utf8 accepts any non-empty UTF-8 (Prometheus 3); legacy requires "
                 "[a-zA-Z_:][a-zA-Z0-9_:]* for metric names and [a-zA-Z_][a-zA-Z0-9_]* for label names; a write "
                 "with another name is refused whole with 400")
      ->capture_default_str()->check(CLI::IsMember({"utf8", "legacy"}));
  cmd.add_option("--max-sample-future", c.max_sample_future,
                 "Samples more than this ahead of the node's clock are dropped and the write answered 400 after "
                 "the rest is stored (0s: no limit)")
      ->capture_default_str();
  cmd.add_option("--max-sample-age", c.max_sample_age,
                 "Samples more than this behind the node's clock are dropped and the write answered 400 after the "
                 "rest is stored (default: --retention-raw, as retention would delete them; 0s: no limit)");
  cmd.add_option("--max-active-series", c.max_active_series,
                 "Series this node's shards may hold; a write that would create more gets 429 with Retry-After for "
                 "those series, and its samples of existing series are stored (0: no limit)")
      ->capture_default_str();
  cmd.add_option("--query-max-samples", c.query_max_samples,
                 "Samples one query may load into memory; more fails the query with 400")
      ->capture_default_str()->check(CLI::Range(size_t{1}, size_t{1} << 40));
  cmd.add_option("--remote-window", c.remote_window, "Unacknowledged batches in flight to one remote node")
      ->capture_default_str()->check(CLI::Range(size_t{1}, size_t{4096}));
  cmd.add_option("--remote-queue", c.remote_queue, "Batches waiting for a remote node's window before writes get 503")
      ->capture_default_str();
  cmd.add_option("--max-samples-in-flight", c.max_samples_in_flight,
                 "Samples of writes taken and not yet acknowledged, over every protocol; a write past it gets 503 with "
                 "Retry-After (a write alone always goes; 0: no limit)")
      ->capture_default_str();
  cmd.add_option("--cluster-tls", c.cluster_tls,
                 "Encrypt the traffic between nodes with TLS (every node of a cluster must agree)")
      ->capture_default_str();
  cmd.add_option("--cluster-tls-cert", c.cluster_tls_cert, "PEM certificate of this node (with --cluster-tls)");
  cmd.add_option("--cluster-tls-key", c.cluster_tls_key, "PEM private key of --cluster-tls-cert");
  cmd.add_option("--cluster-tls-ca", c.cluster_tls_ca, "PEM CA file: peers must present a certificate it signed");
  cmd.add_option("--heartbeat-interval-ms", c.heartbeat_ms, "Heartbeat between nodes, milliseconds")
      ->capture_default_str()->check(CLI::Range(50u, 60000u));
  cmd.add_option("--connection-timeout-ms", c.connection_timeout_ms,
                 "A node silent this long is considered down, milliseconds")
      ->capture_default_str()->check(CLI::Range(100u, 600000u));
  cmd.add_option("--request-timeout-ms", c.request_timeout_ms, "Deadline of one shard request, milliseconds")
      ->capture_default_str()->check(CLI::Range(100u, 3600000u));
  cmd.add_option("--wal-sync", c.wal_sync,
                 "always: fsync every group commit before acknowledging it; interval: acknowledge at commit and "
                 "fsync every --wal-sync-interval-ms (a machine crash may lose that much)")
      ->capture_default_str()->check(CLI::IsMember({"always", "interval"}));
  cmd.add_option("--wal-sync-interval-ms", c.wal_sync_interval_ms, "fsync period with --wal-sync=interval")
      ->capture_default_str()->check(CLI::Range(1u, 60000u));
  cmd.add_option("--retention-raw", c.retention_raw, "How long raw samples are kept (e.g. 36h, 400d)")
      ->capture_default_str();
  cmd.add_option("--retention-1m", c.retention_1m, "How long 1-minute rollups are kept")->capture_default_str();
  cmd.add_option("--retention-5m", c.retention_5m, "How long 5-minute rollups are kept")->capture_default_str();
  cmd.add_option("--retention-1h", c.retention_1h, "How long 1-hour rollups are kept")->capture_default_str();
  cmd.add_option("--out-of-order-window", c.out_of_order_window,
                 "How far behind a series' newest sample an older sample is still accepted (0s: none)")
      ->capture_default_str();
  cmd.add_option("--compaction-interval", c.compaction_interval,
                 "How often each shard looks for a closed block (past the out-of-order window) with loose chunks "
                 "or rollup records and compacts it, one metric name per second (0s: only POST /api/v1/admin/compact)")
      ->capture_default_str();
  cmd.add_option("--wal-max-bytes", c.wal_max_bytes,
                 "WAL size per shard past which the series holding its oldest records are sealed")
      ->capture_default_str()->check(CLI::Range(size_t{1} << 16, size_t{1} << 40));
  cmd.add_option("--rule-file", c.rule_files,
                 "Prometheus rule file to load (repeatable); reloaded on SIGHUP and POST /-/reload");
  cmd.add_option("--alertmanager-url", c.alertmanager_urls,
                 "Base URL of an Alertmanager to send alerts to (repeatable), e.g. http://127.0.0.1:9093");
  cmd.add_option("--evaluation-interval", c.evaluation_interval, "Interval of rule groups that set none")
      ->capture_default_str();
  cmd.add_option("--rules-resend-delay", c.resend_delay, "How often a firing alert is sent again to Alertmanager")
      ->capture_default_str();
  cmd.add_option("--alert-history-retention", c.alert_history_retention,
                 "How long alert transitions are kept (GET /api/v1/alerts/history)")
      ->capture_default_str();
  cmd.add_option("--rules-prompt-evaluation", c.rules_prompt_evaluation,
                 "Evaluate a group's alerting rules as soon as a write of a metric they select is acknowledged "
                 "(at most every interval/4), not only on the group's interval")
      ->capture_default_str();
  cmd.add_option("--external-label", c.external_labels,
                 "name=value added to alerts sent to Alertmanager and available as $externalLabels (repeatable)");
  cmd.add_option("--events-max-streams", c.events_max_streams,
                 "Event streams (GET /api/v1/events) open at once on this node; more get 503")
      ->capture_default_str()->check(CLI::Range(size_t{1}, size_t{100000}));
  cmd.add_option("--events-stream-queue", c.events_stream_queue,
                 "Events waiting for one event stream client; a client that falls further behind is disconnected")
      ->capture_default_str()->check(CLI::Range(size_t{1}, size_t{1} << 20));
  cmd.add_option("--events-history", c.events_history,
                 "Recent events a node keeps so that a client resuming with Last-Event-ID gets what it missed "
                 "(0: none); must be below --events-stream-queue")
      ->capture_default_str()->check(CLI::Range(size_t{0}, size_t{1} << 20));
  cmd.add_option("--webhook-url", c.webhook_urls,
                 "http:// URL that gets alert.triggered and alert.resolved events as JSON POSTs (repeatable; the "
                 "config file's webhooks: list chooses types and headers)");
  cmd.add_option("--log-level", c.log_level, "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
}

namespace {

// The shard count is part of the data dir: opening it with another count
// would hide the shards beyond it.
status check_layout(const serve_config& c) {
  std::error_code ec;
  fs::create_directories(c.data_dir, ec);
  if (ec) return error(strata_errc::storage, "cannot create --data-dir " + c.data_dir + ": " + ec.message());
  auto meta = fs::path(c.data_dir) / "strata.layout";
  if (fs::exists(meta)) {
    std::ifstream in(meta);
    unsigned shards = 0;
    std::string word;
    if (!(in >> word >> shards) || word != "shards")
      return error(strata_errc::corruption, meta.string() + " is not a strata layout file (expected 'shards N')");
    if (shards != c.shards)
      return error(strata_errc::bad_request, "--data-dir " + c.data_dir + " holds " + std::to_string(shards) +
                                                 " shards but --shards is " + std::to_string(c.shards) +
                                                 ": start with --shards " + std::to_string(shards));
    return status::ok();
  }
  std::ofstream out(meta);
  out << "shards " << c.shards << "\n";
  if (!out) return error(strata_errc::storage, "cannot write " + meta.string());
  return status::ok();
}

// Stops `actors` and waits (bounded) until they are gone. Then drops the
// clock's pending timeouts: they hold strong references to requesters, which
// would keep detached shard actors (and so ~actor_system) waiting.
void stop_actors(caf::actor_system& sys, const std::vector<caf::actor>& actors) {
  caf::scoped_actor self{sys};
  for (const auto& a : actors) {
    self->monitor(a);
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  size_t down = 0;
  bool timed_out = false;
  self->receive_while([&] { return down < actors.size() && !timed_out; })(
      [&](caf::down_msg&) { ++down; },
      caf::after(std::chrono::seconds(10)) >> [&] { timed_out = true; });
  if (timed_out) spdlog::warn("{} of {} actors did not stop within 10 s", actors.size() - down, actors.size());
  sys.clock().cancel_all();
}

int fail(const std::string& msg) {
  spdlog::critical("{}", msg);
  return 1;
}

// A duration flag: a Prometheus duration of at least `min_ms`.
// Alert state from peers (cluster::node_options::on_state, on_peer_up) that
// arrives before the rule manager exists is kept and handed over when it is
// attached.
class state_relay {
 public:
  void state(const std::string& blob) {
    std::lock_guard<std::mutex> lock(mu_);
    if (mgr_) mgr_->receive(blob);
    else blobs_.push_back(blob);
  }
  void peer_up(const std::string& peer) {
    std::lock_guard<std::mutex> lock(mu_);
    if (mgr_) mgr_->peer_up(peer);
    else peers_.push_back(peer);
  }
  void attach(rules::manager* m) {
    std::lock_guard<std::mutex> lock(mu_);
    mgr_ = m;
    if (!m) return;
    for (auto& b : std::exchange(blobs_, {})) m->receive(std::move(b));
    for (auto& p : std::exchange(peers_, {})) m->peer_up(std::move(p));
  }

 private:
  std::mutex mu_;
  rules::manager* mgr_ = nullptr;
  std::vector<std::string> blobs_, peers_;
};

status check_tls_flags(const serve_config& c) {
  bool any_file = !c.cluster_tls_cert.empty() || !c.cluster_tls_key.empty() || !c.cluster_tls_ca.empty();
  if (!c.cluster_tls && any_file)
    return error(strata_errc::bad_request, "--cluster-tls-cert/-key/-ca need --cluster-tls=true");
  if (c.cluster_tls && (c.cluster_tls_cert.empty() || c.cluster_tls_key.empty() || c.cluster_tls_ca.empty()))
    return error(strata_errc::bad_request,
                 "--cluster-tls needs --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca (PEM files; "
                 "docs/operations.md shows how to make them)");
  for (const auto* f : {&c.cluster_tls_cert, &c.cluster_tls_key, &c.cluster_tls_ca})
    if (!f->empty() && !std::ifstream(*f))
      return error(strata_errc::bad_request, "cannot read the TLS file " + *f);
  return {};
}

result<int64_t> duration_flag(const char* flag, const std::string& value, int64_t min_ms) {
  auto d = http::parse_duration_ms(value);
  if (!d) return error(strata_errc::bad_request, std::string(flag) + " " + value + ": " + d.error().message() +
                                                     " (use a duration such as 36h or 400d)");
  if (*d < min_ms)
    return error(strata_errc::bad_request, std::string(flag) + " " + value + " is below the minimum of " +
                                               std::to_string(min_ms / 1000) + "s");
  return *d;
}

result<persistence::store_options> storage_options(const serve_config& c) {
  persistence::store_options o;
  struct {
    const char* flag;
    const std::string& value;
    int64_t& out;
    int64_t min_ms;
  } flags[] = {
      {"--retention-raw", c.retention_raw, o.retention.raw_ms, 60'000},
      {"--retention-1m", c.retention_1m, o.retention.m1_ms, 60'000},
      {"--retention-5m", c.retention_5m, o.retention.m5_ms, 300'000},
      {"--retention-1h", c.retention_1h, o.retention.h1_ms, 3'600'000},
      {"--out-of-order-window", c.out_of_order_window, o.ooo_window_ms, 0},
      {"--compaction-interval", c.compaction_interval, o.compact_every_ms, 0},
  };
  for (auto& f : flags) {
    auto d = duration_flag(f.flag, f.value, f.min_ms);
    if (!d) return d.error();
    f.out = *d;
  }
  o.wal_max_bytes = c.wal_max_bytes;
  o.sync = c.wal_sync == "always";
  return o;
}

// Sum of the LMDB files (data.mdb, lock.mdb) under every shard-* directory.
double storage_bytes(const std::string& data_dir) {
  std::error_code ec;
  double total = 0;
  for (auto it = fs::directory_iterator(data_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().rfind("shard-", 0) != 0) continue;
    std::error_code fec;
    for (auto f = fs::directory_iterator(it->path(), fec); !fec && f != fs::directory_iterator(); f.increment(fec)) {
      std::error_code sec;
      auto size = f->is_regular_file(sec) ? f->file_size(sec) : 0;
      if (!sec) total += static_cast<double>(size);
    }
  }
  return total;
}

}  // namespace

int serve(const serve_config& c) {
  if (auto st = setup_logging(c.log_level); !st) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 2;
  }
  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto http_addr = cluster::split_host_port(c.http_listen);
  if (!http_addr) return fail("--http-listen: " + http_addr.error().message());
  if (auto st = check_tls_flags(c); !st) return fail(st.message());
  auto cluster_addr = cluster::split_host_port(c.cluster_listen);
  if (!cluster_addr) return fail("--cluster-listen: " + cluster_addr.error().message());
  for (const auto& s : c.seeds)
    if (auto hp = cluster::split_host_port(s); !hp) return fail("--seeds: " + hp.error().message());
  auto store_opts = storage_options(c);
  if (!store_opts) return fail(store_opts.error().message());
  if (auto st = check_layout(c); !st) return fail(st.message());
  if (c.events_history >= c.events_stream_queue)
    return fail("--events-history (" + std::to_string(c.events_history) + ") must be below --events-stream-queue (" +
                std::to_string(c.events_stream_queue) + "): a resumed stream's replay must fit its queue");
  node_config file_cfg;
  if (!c.config_file.empty()) {
    auto loaded = load_config(c.config_file);
    if (!loaded) return fail(loaded.error().message());
    file_cfg = std::move(*loaded);
  }
  rules::manager_options rule_opts;
  rule_opts.rule_files = c.rule_files;
  rule_opts.rule_files.insert(rule_opts.rule_files.end(), file_cfg.rule_files.begin(), file_cfg.rule_files.end());
  rule_opts.alertmanager_urls = c.alertmanager_urls;
  rule_opts.alertmanager_urls.insert(rule_opts.alertmanager_urls.end(), file_cfg.alertmanager_urls.begin(),
                                     file_cfg.alertmanager_urls.end());
  if (!c.config_file.empty())
    rule_opts.list_rule_files = [flags = c.rule_files, path = c.config_file]() -> result<std::vector<std::string>> {
      auto cfg = load_config(path);
      if (!cfg) return cfg.error();
      auto files = flags;
      files.insert(files.end(), cfg->rule_files.begin(), cfg->rule_files.end());
      return files;
    };
  unsigned replication_factor = c.replication_factor ? c.replication_factor
                                : file_cfg.replication_factor ? file_cfg.replication_factor
                                                              : 1;
  {
    auto hr = duration_flag("--alert-history-retention", c.alert_history_retention, 3600 * 1000);
    if (!hr) return fail(hr.error().message());
    rule_opts.history_retention_ms = *hr;
    rule_opts.prompt_evaluation = c.rules_prompt_evaluation;
    auto iv = duration_flag("--evaluation-interval", c.evaluation_interval, 1);
    if (!iv) return fail(iv.error().message());
    rule_opts.default_interval_ms = *iv;
    auto rd = duration_flag("--rules-resend-delay", c.resend_delay, 0);
    if (!rd) return fail(rd.error().message());
    rule_opts.resend_delay_ms = *rd;
    for (const auto& kv : c.external_labels) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        return fail("--external-label " + kv + ": expected name=value");
      rule_opts.external_labels.push_back({kv.substr(0, eq), kv.substr(eq + 1)});
    }
    sort_labels(rule_opts.external_labels);
  }
  for (const auto& u : c.alertmanager_urls)
    if (u.rfind("http://", 0) != 0) return fail("--alertmanager-url " + u + ": only http:// URLs are supported");
  for (const auto& u : c.webhook_urls) {
    if (u.rfind("http://", 0) != 0 || u.size() == 7) return fail("--webhook-url " + u + ": only http:// URLs are supported");
    events::webhook_config w;
    w.url = u;
    w.types = *events::type_filter::parse("alert.triggered,alert.resolved");
    file_cfg.webhooks.push_back(std::move(w));
  }
  // Rule files are checked before anything starts: a bad file stops the node.
  if (auto loaded = rules::load_rule_files(rule_opts.rule_files); !loaded) return fail(loaded.error().message());

  // Before the actor system starts its threads.
  auto memory = set_up_memory();
  spdlog::info("allocator: {}", allocator_name());
  // Outlives the actor system and the HTTP server, whose threads evaluate queries.
  unsigned query_threads = c.query_threads ? c.query_threads : std::max(1u, std::thread::hardware_concurrency());
  work_pool query_pool(query_threads - 1);

  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  if (c.cluster_tls) {
    cfg.load<caf::openssl::manager>();
    cfg.openssl_certificate = c.cluster_tls_cert;
    cfg.openssl_key = c.cluster_tls_key;
    cfg.openssl_cafile = c.cluster_tls_ca;
  }
  cfg.set("scheduler.max-threads", static_cast<size_t>(c.scheduler_threads));
  // An idle worker spins briefly, then waits on its condition variable (woken
  // by the next enqueue). CAF's middle phase of 500 polls 50 us apart kept
  // both workers waking 20,000 times a second between ingest requests
  // (docs/bench/ingest.md).
  cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
  cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(c.heartbeat_ms)});
  cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::milliseconds(c.connection_timeout_ms)});
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};

  std::vector<caf::actor> shards;
  std::vector<std::shared_ptr<actors::shard_gauges>> gauges;
  auto stop_all = [&](std::vector<caf::actor> extra) {
    extra.insert(extra.end(), shards.begin(), shards.end());
    stop_actors(sys, extra);
  };
  auto max_future = duration_flag("--max-sample-future", c.max_sample_future, 0);
  if (!max_future) return fail(max_future.error().message());
  auto max_age = c.max_sample_age.empty() ? result<int64_t>(store_opts->retention.raw_ms)
                                          : duration_flag("--max-sample-age", c.max_sample_age, 0);
  if (!max_age) return fail(max_age.error().message());

  // Registered before anything that reports into it starts.
  metrics_registry metrics;
  auto& rejected_samples = metrics.counter(
      "strata_rejected_samples_total",
      "Samples refused, by reason: too_far_in_future, too_old (--max-sample-future, --max-sample-age), "
      "out_of_order, duplicate_timestamp, series_limit (--max-active-series).",
      {"reason"});
  for (const char* reason : {"too_far_in_future", "too_old", "out_of_order", "duplicate_timestamp", "series_limit"})
    rejected_samples.add({reason}, 0);
  auto& fsync_seconds = metrics.histogram(
      "strata_wal_fsync_duration_seconds",
      "Time of one WAL fsync: the group commit with --wal-sync=always, the periodic sync with interval.", {},
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
  // Events: published by writes, rules and shards, forwarded to every peer.
  system_clock event_clock;
  events::bus bus(cluster_addr->first + ":" + std::to_string(cluster_addr->second), event_clock, metrics,
                 c.events_history);
  std::vector<std::shared_ptr<events::webhook>> webhooks;
  for (const auto& w : file_cfg.webhooks) {
    auto hook = std::make_shared<events::webhook>(
        w,
        [](const std::string& url, const std::string& body, const events::header_list& headers, int timeout_ms) {
          return rules::http_post_json(url, body, timeout_ms, headers);
        },
        bus);
    bus.subscribe(w.types, hook);
    webhooks.push_back(std::move(hook));
  }
  metrics.counter_fn("strata_webhook_deliveries_total", "Events delivered to webhooks (a 2xx answer).", [webhooks] {
    double n = 0;
    for (const auto& w : webhooks) n += static_cast<double>(w->delivered());
    return n;
  });
  metrics.counter_fn("strata_webhook_failed_attempts_total", "Webhook POSTs that failed (each retry counts).",
                     [webhooks] {
                       double n = 0;
                       for (const auto& w : webhooks) n += static_cast<double>(w->failed_attempts());
                       return n;
                     });
  auto limit = std::make_shared<actors::series_limit>();
  limit->max = c.max_active_series;

  for (unsigned i = 0; i < c.shards; ++i) {
    persistence::store_options o = *store_opts;
    o.dir = (fs::path(c.data_dir) / ("shard-" + std::to_string(i))).string();
    bool always = o.sync;
    o.on_rollups = [&bus, i](const std::vector<persistence::rollup_written>& written) {
      nlohmann::json tiers = nlohmann::json::array();
      for (const auto& w : written)
        tiers.push_back({{"tier", persistence::tier_name(w.t)},
                         {"series", w.series},
                         {"windows", w.windows},
                         {"first_window_ms", w.first_window_ms},
                         {"last_window_ms", w.last_window_ms}});
      nlohmann::json data = {{"shard", i}, {"tiers", std::move(tiers)}};
      bus.publish(std::string(events::metrics_aggregated), "", data.dump());
    };
    gauges.push_back(std::make_shared<actors::shard_gauges>());
    gauges.back()->fsync_seconds = &fsync_seconds;
    gauges.back()->rejected_samples = &rejected_samples;
    auto shard = actors::spawn_shard(sys, o, std::chrono::milliseconds(always ? 0 : c.wal_sync_interval_ms),
                                     gauges.back(), std::chrono::seconds(1), limit);
    if (!shard) {
      stop_all({});
      return fail("shard " + std::to_string(i) + " in " + o.dir + ": " + shard.error().message());
    }
    shards.push_back(*shard);
  }
  spdlog::info("opened {} shards in {}", c.shards, c.data_dir);

  actors::shard_table table;
  cluster::node_options node_opts;
  node_opts.host = cluster_addr->first;
  node_opts.port = cluster_addr->second;
  node_opts.seeds = c.seeds;
  node_opts.peers_file = (fs::path(c.data_dir) / "peers").string();
  node_opts.replication_factor = replication_factor;
  node_opts.epochs_file = (fs::path(c.data_dir) / "epochs").string();
  node_opts.on_event = [&bus](const std::string& text) {
    auto e = events::decode_json(text);
    if (e) bus.deliver_remote(*e);
    else spdlog::warn("events: dropped an event from a peer: {}", e.error().message());
  };
  auto health = std::make_shared<cluster::member_health>();
  node_opts.health = health;
  node_opts.tls = c.cluster_tls;
  node_opts.heartbeat_interval = std::chrono::milliseconds(c.heartbeat_ms);
  auto relay = std::make_shared<state_relay>();
  node_opts.on_state = [relay](const std::string& blob) { relay->state(blob); };
  node_opts.on_peer_up = [relay](const std::string& peer) { relay->peer_up(peer); };
  node_opts.aggregator = actors::spawn_aggregator(sys, shards, std::chrono::milliseconds(c.request_timeout_ms));
  auto node = cluster::start_node(sys, table, shards, node_opts);
  if (!node) {
    stop_all({});
    return fail(node.error().message());
  }

  bus.set_forwarder([node_actor = node->actor](const events::event& e) {
    caf::anon_send(node_actor, actors::evpublish_atom::value, events::encode_json(e));
  });
  actors::collector_options col_opts;
  col_opts.window = c.remote_window;
  col_opts.max_queued = c.remote_queue;
  col_opts.shard_timeout = std::chrono::milliseconds(c.request_timeout_ms);
  col_opts.max_future_ms = *max_future;
  col_opts.max_age_ms = *max_age;
  col_opts.rejected_samples = &rejected_samples;
  auto& handoff = metrics.counter("strata_hints_total",
                                  "Hinted handoff of replica parts a node could not take, by outcome: stored, "
                                  "delivered, dropped_full, dropped_error, refused (by the replica), torn.",
                                  {"outcome"});
  for (const char* outcome : {"stored", "delivered", "dropped_full", "dropped_error", "refused", "torn"})
    handoff.add({outcome}, 0);
  actors::hints_options hint_opts;
  hint_opts.dir = (fs::path(c.data_dir) / "hints").string();
  hint_opts.timeout = std::chrono::milliseconds(c.request_timeout_ms);
  hint_opts.handoff = &handoff;
  col_opts.hints = actors::spawn_hints(sys, table, hint_opts);
  std::vector<caf::actor> collectors;
  for (unsigned i = 0; i < c.collectors; ++i) collectors.push_back(actors::spawn_collector(sys, table, col_opts));
  actors::gateway gw(sys, table, collectors, std::chrono::milliseconds(c.request_timeout_ms),
                     actors::write_window{*max_future, *max_age});
  gw.limit_writes_in_flight(c.max_samples_in_flight);
  metrics.gauge("strata_write_samples_in_flight",
                "Samples of writes taken and not yet answered (--max-samples-in-flight bounds them).",
                [&gw] { return static_cast<double>(gw.samples_in_flight()); });

  std::atomic<bool> ready{false};
  http::server_options http_opts;
  http_opts.host = http_addr->first;
  http_opts.port = http_addr->second;
  http_opts.threads = static_cast<int>(c.http_threads);
  http_opts.max_body_bytes = c.max_body_bytes;
  http::server srv(http_opts, metrics);
  http::api_options api_opts;
  api_opts.write_limits.max_series = c.max_series_per_request;
  api_opts.write_limits.max_labels = c.max_labels_per_series;
  api_opts.write_limits.max_name_length = c.max_label_name_length;
  api_opts.write_limits.max_value_length = c.max_label_value_length;
  api_opts.write_limits.names =
      c.name_validation == "legacy" ? wire::name_validation::legacy : wire::name_validation::utf8;
  api_opts.max_query_samples = c.query_max_samples;
  api_opts.push_state_dir = (fs::path(c.data_dir) / "push").string();
  const auto& ret = store_opts->retention;
  api_opts.raw_retention_ms = ret.raw_ms;
  for (auto t : persistence::rollup_tiers) api_opts.rollup_tiers.push_back({persistence::window_span(t), ret.of(t)});
  api_opts.query_pool = &query_pool;
  http::api_context ctx{gw, table, metrics, ready, node->address, api_opts, &bus};
  http::register_api(srv, ctx);
  http::cluster_api_options cl_opts;
  cl_opts.health = health;
  cl_opts.suspect_after_ms = 3 * static_cast<int64_t>(c.heartbeat_ms);
  cl_opts.hints_dir = hint_opts.dir;
  cl_opts.leave = [node_actor = node->actor] { cluster::leave(node_actor); };
  http::register_cluster_api(srv, ctx, std::move(cl_opts));
  http::events_api_options ev_opts;
  ev_opts.max_streams = c.events_max_streams;
  ev_opts.stream_queue = c.events_stream_queue;
  http::register_events_api(srv, bus, ev_opts, metrics);
  system_clock wall;
  rule_opts.generator_url_base = "http://" + http_opts.host + ":" + std::to_string(http_opts.port);
  const actors::shard_table* table_ptr = &table;
  std::string self = node->address;
  auto alert_state = rules::alert_store::open((fs::path(c.data_dir) / "rules").string());
  if (!alert_state) {
    collectors.push_back(node->actor);
    stop_all(collectors);
    return fail("alert state in " + c.data_dir + "/rules: " + alert_state.error().message());
  }
  rule_opts.on_alert = [&bus](const rules::alert_transition& t) {
    auto object = [](const labels& ls) {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& l : ls) o[l.name] = l.value;
      return o;
    };
    nlohmann::json data = {{"group", t.group},
                           {"alertname", t.rule},
                           {"state", t.fired ? "firing" : "resolved"},
                           {"labels", object(t.a.lbls)},
                           {"annotations", object(t.a.annotations)},
                           {"value", t.a.value},
                           {"active_at_ms", t.a.active_at},
                           {"fired_at_ms", t.a.fired_at}};
    if (!t.fired) data["resolved_at_ms"] = t.a.resolved_at;
    bus.publish(std::string(t.fired ? events::alert_triggered : events::alert_resolved), t.correlation_id,
                data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  };
  rule_opts.publish = [node_actor = node->actor](std::string blob) {
    cluster::publish_state(node_actor, std::move(blob));
  };
  rule_opts.send_to = [node_actor = node->actor](const std::string& peer, std::string blob) {
    cluster::send_state(node_actor, peer, std::move(blob));
  };
  rules::manager rule_mgr(
      rule_opts, wall, http::rule_evaluator(ctx), http::rule_writer(ctx),
      [table_ptr, self] { return std::make_pair(table_ptr->snapshot()->members, self); }, std::move(*alert_state));
  auto reload_rules = [&rule_mgr] {
    auto st = rule_mgr.reload();
    if (!st) spdlog::error("rules: reload failed, keeping the rules loaded before: {}", st.message());
    return st;
  };
  if (auto st = reload_rules(); !st) {
    collectors.push_back(node->actor);
    stop_all(collectors);
    return fail(st.message());
  }
  relay->attach(&rule_mgr);  // peers met before now get this node's alert state
  gw.set_write_watch([&rule_mgr](const write_batch& b) { return rule_mgr.watched_names(b); },
                     [&rule_mgr](std::vector<std::string> names) { rule_mgr.written(std::move(names)); });
  http::register_rules_api(srv, rule_mgr, reload_rules);
  const rules::notifier* alerts_out = &rule_mgr.alert_notifier();
  metrics.counter_fn("strata_notifications_sent_total", "Alerts delivered to Alertmanagers (one per alert and URL).",
                     [alerts_out] { return static_cast<double>(alerts_out->sent()); });
  metrics.counter_fn("strata_notifications_errors_total", "Batches of alerts an Alertmanager did not accept.",
                     [alerts_out] { return static_cast<double>(alerts_out->errors()); });
  metrics.counter_fn("strata_notifications_dropped_total", "Alerts dropped because the notification queue was full.",
                     [alerts_out] { return static_cast<double>(alerts_out->dropped()); });
  auto sum = [gauges](std::atomic<uint64_t> actors::shard_gauges::*field) {
    return [gauges, field] {
      double total = 0;
      for (const auto& g : gauges) total += static_cast<double>(((*g).*field).load(std::memory_order_relaxed));
      return total;
    };
  };
  metrics.gauge("strata_head_series", "Series held by this node's shards.", sum(&actors::shard_gauges::series));
  metrics.gauge("strata_head_samples", "Samples in this node's heads, not yet sealed into chunks.",
                sum(&actors::shard_gauges::samples));
  metrics.gauge("strata_wal_bytes", "Bytes in the WALs of this node's shards (trimmed as chunks seal).",
                sum(&actors::shard_gauges::wal_bytes));
  metrics.counter_fn("strata_chunks_written_total", "Chunks sealed and written by this node's shards.",
                     sum(&actors::shard_gauges::chunks_written));
  metrics.counter_fn("strata_retention_blocks_deleted_total", "Blocks deleted by retention, all tiers.",
                     sum(&actors::shard_gauges::blocks_deleted));
  metrics.counter_fn("strata_samples_out_of_order_rejected_total",
                     "Samples refused as older than the out-of-order window.",
                     sum(&actors::shard_gauges::rejected_too_old));
  metrics.counter_fn("strata_samples_duplicate_rejected_total",
                     "Samples refused for a timestamp the series holds with another value.",
                     sum(&actors::shard_gauges::rejected_conflicting));
  metrics.counter_fn("strata_series_created_total", "Series created by writes on this node's shards.",
                     sum(&actors::shard_gauges::series_created));
  metrics.gauge("strata_active_series_limit", "--max-active-series (0: no limit).",
                [max = c.max_active_series] { return static_cast<double>(max); });
  metrics.gauge("strata_storage_bytes", "Bytes of this node's LMDB files (every shard).",
                [dir = c.data_dir] { return storage_bytes(dir); });
  metrics.gauge("process_max_fds", "Maximum number of open file descriptors.", process_max_fds);
  metrics.info("strata_build_info", "Version and revision this binary was built from.",
               {{"version", STRATA_VERSION}, {"revision", STRATA_REVISION}, {"build_type", STRATA_BUILD_TYPE}, {"allocator", allocator_name()}});
  // Scrape statistics (strata_scrape_*) are registered here once scraping exists.
  if (auto st = srv.start(); !st) {
    collectors.push_back(node->actor);
    stop_all(collectors);
    return fail(st.message());
  }
  // Ready once the first attempt to reach every known peer has ended, so a
  // restarted node answers reads with the whole cluster, not a partial view.
  auto deadline = std::chrono::steady_clock::now() + 2 * node_opts.join_timeout;
  while (!node->first_round_done->load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ready = true;
  system_clock scrape_clock;
  scrape::manager_options scrape_opts;
  scrape_opts.jobs = file_cfg.scrape_configs;
  scrape_opts.self = node->address;
  scrape_opts.max_body_bytes = c.max_body_bytes;
  scrape_opts.write_limits = api_opts.write_limits;
  scrape::manager scraper(std::move(scrape_opts), gw, table, scrape_clock, metrics);
  scraper.start();
  spdlog::info("strata node {} serving HTTP on {}:{} (seeds: {})", node->address, http_opts.host, srv.port(),
               c.seeds.empty() ? std::string("none") : fmt::format("{}", fmt::join(c.seeds, ",")));

  rule_mgr.start();
  int sig = 0;
  for (;;) {
    sigwait(&stop_signals, &sig);
    if (sig != SIGHUP) break;
    spdlog::info("received SIGHUP, reloading rule files");
    reload_rules();
  }
  spdlog::info("received signal {}, stopping", sig);
  ready = false;
  scraper.stop();
  memory.reset();
  rule_mgr.stop();
  relay->attach(nullptr);
  srv.stop();
  for (auto& w : webhooks) w->stop();
  collectors.push_back(node->actor);
  collectors.push_back(col_opts.hints);
  collectors.push_back(node_opts.aggregator);
  stop_all(collectors);
  spdlog::info("stopped");
  // Every shard has stopped and closed its LMDB environment, so nothing is
  // left to flush. Why not return through ~actor_system: once shards were
  // named in messages to other nodes, CAF 0.17 can keep references to those
  // detached actors until after it waits for their threads, and the wait
  // never ends. Leave without running destructors instead.
  spdlog::shutdown();
  std::fflush(nullptr);
  std::_Exit(0);
}

}  // namespace strata::app
