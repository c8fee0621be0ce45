#pragma once
// `strata serve`: the wiring of one node (shards, collectors, membership,
// HTTP) and its lifecycle from start to a clean stop on SIGINT/SIGTERM.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace strata::app {

struct serve_config {
  std::string config_file;  // --config: YAML (app/config.hpp); empty: none
  std::string data_dir = "./strata-data";
  std::string http_listen = "127.0.0.1:9201";
  std::string cluster_listen = "127.0.0.1:9202";
  std::vector<std::string> seeds;
  unsigned shards = 4;
  unsigned http_threads = 2;
  unsigned scheduler_threads = 2;
  unsigned query_threads = 0;  // threads one query's per-series work may use; 0: one per CPU
  unsigned collectors = 2;
  unsigned replication_factor = 0;  // replicas of every partition (cluster/ring.hpp); 0: the config file's, else 1
  size_t max_body_bytes = 32u << 20;
  size_t max_series_per_request = 100'000;
  size_t max_labels_per_series = 64;
  size_t max_label_name_length = 1024;
  size_t max_label_value_length = 4096;
  std::string name_validation = "utf8";  // or "legacy"
  std::string max_sample_future = "10m";
  std::string max_sample_age;  // empty: --retention-raw
  size_t max_active_series = 5'000'000;
  size_t query_max_samples = 50'000'000;
  size_t remote_window = 64;
  size_t remote_queue = 1024;
  size_t max_samples_in_flight = 4'000'000;
  unsigned heartbeat_ms = 500;
  // TLS between nodes (docs/operations.md): off, or on with this node's
  // certificate and key and the CA that signed every node's certificate.
  bool cluster_tls = false;
  std::string cluster_tls_cert, cluster_tls_key, cluster_tls_ca;
  unsigned connection_timeout_ms = 2000;
  unsigned request_timeout_ms = 30000;
  std::string wal_sync = "always";
  unsigned wal_sync_interval_ms = 1000;
  // Durations like 36h or 400d (Prometheus syntax).
  std::string retention_raw = "24h";
  std::string retention_1m = "7d";
  std::string retention_5m = "30d";
  std::string retention_1h = "365d";
  std::string out_of_order_window = "1h";
  std::string compaction_interval = "1m";
  size_t wal_max_bytes = 64 << 20;
  std::string log_level = "info";
  // Rules and alerts (docs/design/rules.md). The config file's rule_files
  // and alerting.alertmanagers keys add to these lists.
  std::vector<std::string> rule_files;
  std::vector<std::string> alertmanager_urls;
  std::string evaluation_interval = "1m";
  std::string resend_delay = "1m";
  std::string alert_history_retention = "180d";
  bool rules_prompt_evaluation = true;
  std::vector<std::string> external_labels;  // name=value
  // The event stream (docs/api/events.md).
  size_t events_max_streams = 256;
  size_t events_stream_queue = 1024;
  size_t events_history = 1000;  // kept for clients that resume with Last-Event-ID
  std::vector<std::string> webhook_urls;  // alert.triggered and alert.resolved to each
};

void add_serve_flags(CLI::App& cmd, serve_config& cfg);
// Runs until SIGINT or SIGTERM; SIGHUP reloads the rule files. Returns the process exit code.
int serve(const serve_config& cfg);

}  // namespace strata::app
