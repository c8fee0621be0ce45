// The strata binary: `strata serve` runs a node.
#include <CLI/CLI.hpp>

#include "app/cluster_status.hpp"
#include "app/serve.hpp"

int main(int argc, char** argv) {
  CLI::App app{"strata: a metrics cluster that speaks PromQL.\nRun `strata serve --help` for the flags of a node."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "strata 0.1.0");
  strata::app::serve_config cfg;
  auto* serve = app.add_subcommand("serve", "Run a node: HTTP API, storage shards and cluster membership.");
  strata::app::add_serve_flags(*serve, cfg);
  std::string node_url = "http://127.0.0.1:9201";
  auto* cluster = app.add_subcommand("cluster", "Look at or change a running cluster.");
  cluster->require_subcommand(1);
  auto* status = cluster->add_subcommand("status", "Members, their state, partitions and lag, as one node sees them.");
  status->add_option("--node", node_url, "HTTP address of any node")->capture_default_str();
  auto* leave = cluster->add_subcommand("leave", "Make a node leave the cluster gracefully (then stop its process).");
  leave->add_option("--node", node_url, "HTTP address of the node that leaves")->required();
  CLI11_PARSE(app, argc, argv);
  if (status->parsed()) return strata::app::cluster_status(node_url);
  if (leave->parsed()) return strata::app::cluster_leave(node_url);
  return strata::app::serve(cfg);
}
