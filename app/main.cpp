// The strata binary: `strata serve` runs a node.
#include <CLI/CLI.hpp>

#include "app/serve.hpp"

int main(int argc, char** argv) {
  CLI::App app{"strata: a metrics cluster that speaks PromQL.\nRun `strata serve --help` for the flags of a node."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "strata 0.1.0");
  strata::app::serve_config cfg;
  auto* serve = app.add_subcommand("serve", "Run a node: HTTP API, storage shards and cluster membership.");
  strata::app::add_serve_flags(*serve, cfg);
  CLI11_PARSE(app, argc, argv);
  return strata::app::serve(cfg);
}
