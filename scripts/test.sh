#!/usr/bin/env bash
# Sets up, builds (release preset) and runs every test. Used by CI (.ci/run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cmake --preset release
cmake --build --preset release
ctest --preset release "$@"
