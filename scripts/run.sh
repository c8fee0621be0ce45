#!/usr/bin/env bash
# Sets up, builds (release preset) and starts one node on the defaults:
# HTTP 127.0.0.1:9201, cluster 127.0.0.1:9202, data in ./strata-data.
# Extra arguments go to `strata serve`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cmake -S "$root" --preset release
cmake --build "$root/build" --target strata
exec "$root/build/app/strata" serve "$@"
