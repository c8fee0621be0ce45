#!/usr/bin/env bash
# Starts N strata nodes on 127.0.0.1, each with its own ports and data dir;
# node 1 is the seed of the others. Waits until every node sees all N.
#   scripts/cluster-up.sh N [--dir DIR] [--base-port P] [--bin PATH] [--cgroup CG] [-- extra serve flags]
# Node i (1-based): HTTP P+10*(i-1), cluster P+10*(i-1)+1, data DIR/node-i,
# log DIR/node-i.log, pid DIR/node-i.pid. Defaults: DIR=./strata-cluster, P=9201.
# DIR/node-i.cmd is the script that starts node i (restart it with the same
# flags and data: `bash DIR/node-i.cmd & echo $! >DIR/node-i.pid`).
# --cgroup CG (root only): node i runs in the cgroup v2 CG/node-i (a path
# under the cgroup2 mount, created here), so that packet filters can tell the
# nodes' sockets apart (scripts/chaos/ cuts the network between two nodes).
# Stop with scripts/cluster-down.sh [--dir DIR].
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n="${1:?usage: cluster-up.sh N [--dir DIR] [--base-port P] [--bin PATH] [-- serve flags]}"
shift
dir=./strata-cluster
base=9201
bin="$root/build/app/strata"
cgroup=
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --base-port) base="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --cgroup) cgroup="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "cluster-up: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
case "$n" in ''|*[!0-9]*) echo "cluster-up: N must be a positive number, not '$n'" >&2; exit 2 ;; esac
[ -x "$bin" ] || { echo "cluster-up: no strata binary at $bin (build it: cmake --preset release && cmake --build build)" >&2; exit 1; }
if [ -n "$cgroup" ]; then
  cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
  [ -n "$cgroot" ] || { echo "cluster-up: --cgroup needs a cgroup2 mount (mount -t cgroup2 none /sys/fs/cgroup/unified)" >&2; exit 1; }
  [ "$(id -u)" -eq 0 ] || { echo "cluster-up: --cgroup needs root (run as root, or leave --cgroup out)" >&2; exit 1; }
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
seed="127.0.0.1:$((base + 1))"
for i in $(seq 1 "$n"); do
  http=$((base + 10 * (i - 1)))
  cl=$((http + 1))
  cmd=("$bin" serve --data-dir "$dir/node-$i" --http-listen "127.0.0.1:$http" --cluster-listen "127.0.0.1:$cl")
  [ "$i" -gt 1 ] && cmd+=(--seeds "$seed")
  cmd+=("${extra[@]}")
  {
    echo "# node $i of the cluster in $dir (written by scripts/cluster-up.sh)"
    if [ -n "$cgroup" ]; then
      mkdir -p "$cgroot/$cgroup/node-$i"
      echo "echo \$\$ >$(printf '%q' "$cgroot/$cgroup/node-$i/cgroup.procs")"
    fi
    echo "exec $(printf '%q ' "${cmd[@]}")>>$(printf '%q' "$dir/node-$i.log") 2>&1"
  } >"$dir/node-$i.cmd"
  : >"$dir/node-$i.log"
  bash "$dir/node-$i.cmd" &
  echo $! >"$dir/node-$i.pid"
done
for i in $(seq 1 "$n"); do
  http=$((base + 10 * (i - 1)))
  for _ in $(seq 1 200); do
    members=$(python3 -c 'import json,sys,urllib.request
print(len(json.load(urllib.request.urlopen(sys.argv[1], timeout=2))["data"]["members"]))' \
      "http://127.0.0.1:$http/api/v1/status/cluster" 2>/dev/null || echo 0)
    [ "$members" = "$n" ] && break
    sleep 0.1
  done
  if [ "$members" != "$n" ]; then
    echo "cluster-up: node $i sees $members of $n members; its log: $dir/node-$i.log" >&2
    exit 1
  fi
  echo "node $i: http://127.0.0.1:$http (pid $(cat "$dir/node-$i.pid"))"
done
