#!/usr/bin/env bash
# Ingest speed per protocol (docs/bench/ingest.md): for each protocol, a fresh
# single node on 127.0.0.1 takes the whole dataset through build/bench/ingest_load.
#
#   bench/ingest.sh DATASET [CONNS] [PROTOCOL...]
#   (DATASET from: /usr/bin/python3 ../shared/bench/gen.py --hosts 10 --out DATASET)
set -euo pipefail
data=${1:?dataset dir}
conns=${2:-4}
shift $(( $# >= 2 ? 2 : 1 ))
protocols=("${@:-rw1 rw2 capnp json text}")
read -r -a protocols <<< "${protocols[*]}"
here=$(cd "$(dirname "$0")/.." && pwd)
strata=$here/build/app/strata
load=$here/build/bench/ingest_load
port=${STRATA_BENCH_PORT:-19590}

for p in "${protocols[@]}"; do
  dir=$(mktemp -d /tmp/strata-ingest-bench.XXXXXX)
  "$strata" serve --data-dir "$dir/data" --http-listen "127.0.0.1:$port" \
    --cluster-listen "127.0.0.1:$((port + 1))" ${STRATA_BENCH_FLAGS:-} > "$dir/strata.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$port/ready" > /dev/null && break
    sleep 0.1
  done
  "$load" --data "$data" --port "$port" --pid "$pid" --protocol "$p" --conns "$conns" || true
  kill "$pid"
  wait "$pid" || true
  rm -rf "$dir"
done
