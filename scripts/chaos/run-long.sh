#!/usr/bin/env bash
# The long chaos run: 3 nodes, RF 2, 10 minutes of kills, freezes and network
# cuts with a fixed seed (docs/operations.md#chaos-runs, figures in
# docs/bench/chaos.md). Extra arguments go to chaos.py (e.g. --seed 7, --bin PATH).
#   scripts/chaos/run-long.sh [chaos.py options]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec /usr/bin/python3 "$here/chaos.py" --nodes 3 --rf 2 --duration 600 --scenarios kill,stop,partition \
  --seed 20261206 "$@"
