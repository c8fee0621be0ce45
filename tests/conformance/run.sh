#!/bin/sh
# Runs Prometheus's PromQL test corpus against a live strata node.
#
#   tests/conformance/run.sh BUILD_DIR [--regenerate] [promqltest.py options...]
#
# Starts BUILD_DIR/app/strata serve on free loopback ports with an empty data
# dir, runs ../shared/conformance/promqltest.py over every *.test file (the
# runner resets the node between segments through node.sh restart), prints the
# runner's per-file table and stops the node.
#
# Exit status: 0 when every case passes or fails as listed in
# known_failures.txt; 1 when a case fails that is not listed, or a listed case
# now passes (remove it: the list only shrinks); 77 (CTest skip) when the
# corpus or the Python modules the runner needs are missing.
#
# --regenerate runs without the list and rewrites known_failures.txt from the
# failures (grouped, with a reason per group).
# Environment: STRATA_CONFORMANCE_DIR overrides the corpus location.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3

if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [--regenerate] [promqltest.py options...]" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
shift
REGENERATE=0
if [ "${1:-}" = "--regenerate" ]; then
  REGENERATE=1
  shift
fi

if [ $REGENERATE = 1 ]; then
  case " $* " in
    *" --only "*) echo "--regenerate needs the whole corpus; it does not combine with --only" >&2; exit 2 ;;
  esac
fi

CORPUS=${STRATA_CONFORMANCE_DIR:-$ROOT/../shared/conformance}
if [ ! -f "$CORPUS/promqltest.py" ] || [ ! -d "$CORPUS/promql" ]; then
  echo "SKIP: PromQL conformance corpus not found at $CORPUS (set STRATA_CONFORMANCE_DIR)"
  exit 77
fi
if [ ! -x "$PY" ] || ! "$PY" -c "import requests, snappy" 2>/dev/null; then
  echo "SKIP: $PY with the modules requests and snappy is needed (Debian: python3-requests python3-snappy)"
  exit 77
fi
BIN=$BUILD/app/strata
if [ ! -x "$BIN" ]; then
  echo "FAIL: $BIN not found; build the strata target first" >&2
  exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-conformance.XXXXXX")
# Two free loopback ports below the ephemeral range: the node's ports are
# closed for a moment at every reset, and an ephemeral port could be handed to
# some outgoing connection in that moment.
PORTS=$("$PY" -c '
import random, socket
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except Exception:
    low = 32768
rng = random.Random()
ports = []
while len(ports) < 2:
    p = rng.randrange(10000, max(10001, low - 1))
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        if p not in ports:
            ports.append(p)
    except OSError:
        pass
    finally:
        s.close()
print(" ".join(str(p) for p in ports))
')
HTTP_PORT=${PORTS% *}
CLUSTER_PORT=${PORTS#* }

# Old samples: data lies up to two weeks in the past. Raw retention is
# passed once this strata version has the flag.
EXTRA_FLAGS=""
if "$BIN" serve --help 2>/dev/null | grep -q -- "--retention-raw"; then
  EXTRA_FLAGS="--retention-raw 30d"
fi

# node.sh start|stop|restart: the reset hook the runner calls. restart leaves
# the node running on an empty data dir; the runner then polls /ready.
cat >"$WORK/node.sh" <<EOF
#!/bin/sh
set -u
# A zombie counts as gone: it holds no port or lock, and an init that reaps
# late would otherwise cost seconds per reset.
alive() {
  st=\$(ps -o stat= -p "\$1" 2>/dev/null) || return 1
  case "\$st" in Z*|"") return 1 ;; esac
  return 0
}
# stop SIG: the data dir is wiped after a restart's stop, so SIGKILL saves the
# clean shutdown there.
stop() {
  if [ -f "$WORK/node.pid" ]; then
    pid=\$(cat "$WORK/node.pid")
    kill -\$1 "\$pid" 2>/dev/null || true
    i=0
    while alive "\$pid" && [ \$i -lt 200 ]; do sleep 0.05; i=\$((i + 1)); done
    kill -9 "\$pid" 2>/dev/null || true
    rm -f "$WORK/node.pid"
  fi
}
launch() {
  "$BIN" serve --data-dir "$WORK/data" --http-listen 127.0.0.1:$HTTP_PORT \\
    --cluster-listen 127.0.0.1:$CLUSTER_PORT --wal-sync interval --log-level warn $EXTRA_FLAGS \\
    </dev/null >>"$WORK/node.log" 2>&1 &
  echo \$! >"$WORK/node.pid"
}
# A node that exits at once (a port still held a moment after the last one
# died) is started again, up to 5 times.
start() {
  tries=0
  while [ \$tries -lt 5 ]; do
    launch
    command -v curl >/dev/null || return 0
    pid=\$(cat "$WORK/node.pid")
    i=0
    while alive "\$pid" && [ \$i -lt 600 ]; do
      curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/ready" && return 0
      sleep 0.05
      i=\$((i + 1))
    done
    alive "\$pid" && return 0
    echo "node exited at start; starting it again" >>"$WORK/node.log"
    tries=\$((tries + 1))
    sleep 0.5
  done
  return 1
}
case "\$1" in
  start) start ;;
  stop) stop TERM ;;
  restart) stop KILL; rm -rf "$WORK/data"; start ;;
esac
EOF
chmod +x "$WORK/node.sh"

cleanup() {
  "$WORK/node.sh" stop
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

if ! "$WORK/node.sh" start; then
  echo "FAIL: strata did not start; node log:" >&2
  tail -n 20 "$WORK/node.log" >&2 || true
  exit 1
fi
echo "strata $BIN on 127.0.0.1:$HTTP_PORT (cluster $CLUSTER_PORT) $EXTRA_FLAGS, corpus $CORPUS"

LIST=$HERE/known_failures.txt
set -- --url "http://127.0.0.1:$HTTP_PORT" --reset-cmd "$WORK/node.sh restart" --ready-path /ready \
  --ready-timeout 60 --json "$WORK/results.json" --max-failures-shown 40 "$@"
if [ $REGENERATE = 0 ] && [ -f "$LIST" ]; then
  set -- "$@" --exclude "$LIST" --run-excluded
fi

RC=0
"$PY" "$CORPUS/promqltest.py" "$@" "$CORPUS/promql" || RC=$?

if [ ! -f "$WORK/results.json" ]; then
  echo "FAIL: the runner wrote no results (exit $RC); node log:" >&2
  tail -n 40 "$WORK/node.log" >&2 || true
  exit 1
fi
if [ $REGENERATE = 1 ]; then
  "$PY" "$HERE/known_failures.py" "$WORK/results.json" "$LIST"
  exit 0
fi
"$PY" "$HERE/known_failures.py" --check "$WORK/results.json" || RC=1
[ $RC = 0 ] && exit 0
exit 1
