#!/usr/bin/env bash
# Installs every Debian 12 package that strata's build, tests and integration
# tests need. Idempotent: packages already present are skipped. Run as root.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config
  # libraries (see docs/architecture.md for what each is for)
  libcaf-dev libssl-dev openssl capnproto libcapnp-dev liblmdb-dev
  libspdlog-dev libfmt-dev libboost-dev libre2-dev libxxhash-dev
  libroaring-dev libzstd-dev libsnappy-dev protobuf-compiler libprotobuf-dev
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libjemalloc-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3 python3-snappy curl
  # PromQL conformance runner (tests/conformance) and promtool (integration tests)
  python3-requests prometheus
  # scrape integration tests (strata and Prometheus scraping node_exporter)
  prometheus-node-exporter
  # rules integration tests (a real Alertmanager receiving alerts)
  prometheus-alertmanager
  # push integration tests (push_to_gateway, pushadd_to_gateway, delete_from_gateway)
  python3-prometheus-client
  # vmagent (VictoriaMetrics' agent) remote-writing into strata (integration test)
  victoria-metrics
  # chaos runs: network cuts between nodes (scripts/chaos/netcut.py)
  iptables
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run as root (or: sudo $0) to install them" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
