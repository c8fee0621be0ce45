#!/usr/bin/env bash
# Stops the nodes that cluster-up.sh started (SIGTERM, then SIGKILL after 15 s).
#   scripts/cluster-down.sh [--dir DIR]
set -euo pipefail
dir=./strata-cluster
[ "${1:-}" = "--dir" ] && dir="$2"
shopt -s nullglob
pids=()
for f in "$dir"/node-*.pid; do
  pid=$(cat "$f")
  kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  rm -f "$f"
done
for pid in "${pids[@]}"; do
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
done
echo "stopped ${#pids[@]} nodes"
