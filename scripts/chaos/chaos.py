#!/usr/bin/python3
"""Chaos run against a local strata cluster: faults while writing and querying,
then a proof that every acknowledged sample is readable exactly once through
every node.

  scripts/chaos/chaos.py [--nodes 3] [--rf 2] [--duration 120] [--scenarios kill,stop,partition]
                         [--seed S] [--bin build/app/strata] [--base-port P] [--dir DIR] [--keep]
                         [--allow-peer-timeouts] [--summary-json FILE]

It starts the cluster with scripts/cluster-up.sh (its own --dir and --base-port),
runs the writer and the querier (workload.py) and a fault loop that, one fault
at a time, picks a scenario and its targets from the seed:
  kill       SIGKILL a node, restart it (same flags, same data) a few seconds later
  stop       SIGSTOP a node (frozen: its sockets stay open), SIGCONT it later
  partition  cut the network between two nodes, heal it later (netcut.py; root only)
Before the next fault every node must be back and see every other one up. At
the end it heals everything, retries the writes that were never acknowledged,
waits for the hinted-handoff files to drain and for whole reads, and checks
through every node. Exit 0 when nothing was violated, 1 on a violation, 2 on
bad arguments. The fault schedule is a function of the seed and the scenario
list alone; where partitions cannot run they are skipped in place, so the
rest of the schedule stays the same.
"""
import argparse
import fcntl
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netcut  # noqa: E402
import workload  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = ("kill", "stop", "partition")


def log(started, text):
    print("[%7.1f s] %s" % (time.monotonic() - started, text), flush=True)


class Cluster:
    """The nodes of one cluster-up.sh directory, and which are faulted when."""

    def __init__(self, n, base_port, dir_):
        self.n, self.base_port, self.dir = n, base_port, dir_
        self.lock = threading.Lock()
        self.fault_spans = []     # [node, kind, from, to], monotonic times; to is None while open
        self.children = []        # restarted nodes are our children: reap them
        self.phase = "calm"
        self.started = time.monotonic()

    def http_port(self, i):
        return self.base_port + 10 * i

    def cluster_port(self, i):
        return self.http_port(i) + 1

    def pid(self, i):
        with open(os.path.join(self.dir, "node-%d.pid" % (i + 1))) as f:
            return int(f.read())

    def usable_nodes(self):
        """Nodes neither killed (nor restarting) nor frozen now."""
        with self.lock:
            return [i for i in range(self.n) if not any(n == i and t is None and k != "partition"
                                                        for n, k, _, t in self.fault_spans)]

    def begin_fault(self, i, kind):
        with self.lock:
            self.fault_spans.append([i, kind, time.monotonic(), None])

    def end_fault(self, i):
        with self.lock:
            for span in self.fault_spans:
                if span[0] == i and span[3] is None:
                    span[3] = time.monotonic()

    def was_faulted(self, i, start, end, kinds=("kill", "stop")):
        """Whether node i was under a fault of one of `kinds` at some moment of [start, end]."""
        with self.lock:
            return any(n == i and k in kinds and f <= end and (t is None or t >= start)
                       for n, k, f, t in self.fault_spans)

    def node_of(self, address):
        """Index of the node whose cluster address is `address`, or None."""
        for i in range(self.n):
            if address == "127.0.0.1:%d" % self.cluster_port(i):
                return i
        return None

    def alive(self, pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def kill(self, i):
        pid = self.pid(i)
        os.kill(pid, signal.SIGKILL)
        for c in self.children:
            if c.pid == pid:
                c.wait()
        while self.alive(pid):
            time.sleep(0.05)

    def restart(self, i):
        with open(os.devnull) as null:
            p = subprocess.Popen(["bash", os.path.join(self.dir, "node-%d.cmd" % (i + 1))], stdin=null,
                                 start_new_session=True)
        self.children.append(p)
        with open(os.path.join(self.dir, "node-%d.pid" % (i + 1)), "w") as f:
            f.write("%d\n" % p.pid)

    def view(self, i):
        """(members, down) as node i sees them, or None."""
        status, _, body = workload.request(self.http_port(i), "GET", "/api/v1/status/cluster", timeout=5.0)
        if status != 200:
            return None
        d = json.loads(body)["data"]
        return set(d["members"]), set(d["down"])

    def healthy(self):
        """Every node ready and seeing all n members up."""
        for i in range(self.n):
            if workload.request(self.http_port(i), "GET", "/ready", timeout=5.0)[0] != 200:
                return False
            v = self.view(i)
            if v is None or len(v[0]) != self.n or v[1]:
                return False
        return True

    def wait_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthy():
                return True
            time.sleep(0.2)
        return False

    def reap(self):
        for c in self.children:
            c.poll()


def schedule(rng, scenarios, n):
    """The next fault: (kind, targets, hold seconds, calm seconds after)."""
    kind = rng.choice(scenarios)
    targets = rng.sample(range(n), 2) if kind == "partition" else [rng.randrange(n)]
    return kind, targets, round(rng.uniform(3, 10), 1), round(rng.uniform(2, 6), 1)


class FaultLoop:
    def __init__(self, cluster, scenarios, seed, cut, cut_skip_reason, duration, recover_timeout):
        self.c, self.scenarios, self.cut, self.skip = cluster, scenarios, cut, cut_skip_reason
        self.rng = random.Random(seed)
        self.duration, self.recover_timeout = duration, recover_timeout
        self.done = {k: 0 for k in SCENARIOS}
        self.skipped = 0
        self.violations = []
        self.stopped = threading.Event()
        self.frozen = None

    def run(self):
        c = self.c
        end = time.monotonic() + self.duration
        while time.monotonic() < end and not self.violations:
            kind, targets, hold, calm = schedule(self.rng, self.scenarios, c.n)
            names = " and ".join("node %d" % (t + 1) for t in targets)
            if kind == "partition" and self.cut is None:
                log(c.started, "partition %s for %.1f s: skipped (%s)" % (names, hold, self.skip))
                self.skipped += 1
                time.sleep(hold + calm)
                continue
            log(c.started, "%s %s for %.1f s" % (kind, names, hold))
            c.phase = kind
            for t in targets:
                c.begin_fault(t, kind)
            if kind == "kill":
                c.kill(targets[0])
                time.sleep(hold)
                c.restart(targets[0])
            elif kind == "stop":
                self.frozen = c.pid(targets[0])
                os.kill(self.frozen, signal.SIGSTOP)
                time.sleep(hold)
                os.kill(self.frozen, signal.SIGCONT)
                self.frozen = None
            else:
                ends = [(t + 1, c.pid(t), c.cluster_port(t)) for t in targets]
                cut = self.cut.cut(*ends)
                self.check_sees_down(targets, hold)
                self.cut.heal()
                log(c.started, "healed (%d connections were cut)" % cut)
            if not c.wait_healthy(self.recover_timeout):
                self.violations.append("after %s of %s the cluster did not recover within %d s (logs in %s)" % (
                    kind, names, self.recover_timeout, c.dir))
            for t in targets:
                c.end_fault(t)
            self.done[kind] += 1
            c.phase = "calm"
            log(c.started, "recovered")
            time.sleep(calm)

    def check_sees_down(self, targets, hold):
        """Holds a cut for `hold` seconds, and on until each side sees the
        other down (a violation if that takes more than 30 s more)."""
        time.sleep(hold)
        a, b = targets
        deadline = time.monotonic() + 30
        for x, y in ((a, b), (b, a)):
            peer = "127.0.0.1:%d" % self.c.cluster_port(y)
            while True:
                v = self.c.view(x)
                if v and peer in v[1]:
                    break
                if time.monotonic() > deadline:
                    self.violations.append("node %d did not see node %d down during a %.1f s cut: it sees %s down" % (
                        x + 1, y + 1, hold + 30, v and sorted(v[1])))
                    break
                time.sleep(0.2)

    def heal_all(self):
        if self.frozen:
            os.kill(self.frozen, signal.SIGCONT)
        if self.cut:
            self.cut.heal()


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--rf", type=int, default=2, help="--replication-factor of every node")
    p.add_argument("--duration", type=float, default=120, help="seconds of faults (default 120)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated: kill,stop,partition")
    p.add_argument("--seed", type=int, default=None, help="seed of the fault schedule (default: random, printed)")
    p.add_argument("--bin", default=os.path.join(ROOT, "build/app/strata"), help="the strata binary")
    p.add_argument("--base-port", type=int, default=0,
                   help="HTTP port of node 1 (node i: +10*(i-1)); default: the first free block from 19300 on")
    p.add_argument("--dir", default=None, help="cluster directory (default: a fresh temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the directory (data, logs) after a clean run")
    p.add_argument("--writers", type=int, default=3, help="writer threads")
    p.add_argument("--series", type=int, default=48)
    p.add_argument("--drain-timeout", type=float, default=120, help="seconds to wait for hints and whole reads")
    p.add_argument("--allow-peer-timeouts", action="store_true",
                   help="do not count as violations the reads that fail because a shard of a node killed, frozen or "
                        "cut off while they ran did not answer (counted as failed_peer all the same)")
    p.add_argument("--summary-json", default=None, help="also write the summary to this file")
    a = p.parse_args(argv)
    scen = [s for s in a.scenarios.split(",") if s]
    bad = [s for s in scen if s not in SCENARIOS]
    if bad or not scen:
        p.error("--scenarios: unknown %s; choose from %s (e.g. --scenarios kill,stop)" % (bad or "empty list", ",".join(SCENARIOS)))
    a.scenarios = scen
    if a.nodes < 2 or a.nodes > 9:
        p.error("--nodes must be 2 to 9, not %d" % a.nodes)
    if not 1 <= a.rf <= min(5, a.nodes):
        p.error("--rf must be 1 to min(5, --nodes), not %d (e.g. --nodes 3 --rf 2)" % a.rf)
    if a.duration <= 0:
        p.error("--duration must be positive seconds, not %g" % a.duration)
    if a.base_port and not 1024 <= a.base_port <= 65535 - 10 * a.nodes:
        p.error("--base-port must leave room for %d nodes below 65536, not %d (e.g. 19300)" % (a.nodes, a.base_port))
    if a.writers < 1 or a.series < a.writers:
        p.error("--writers must be at least 1 and --series at least --writers")
    if not os.access(a.bin, os.X_OK):
        p.error("no strata binary at %s (build it: cmake --build build --target strata, or pass --bin)" % a.bin)
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1 << 31)
    if a.base_port:
        a.port_lock = lock_block(a.base_port)
        if not a.port_lock:
            p.error("another chaos run holds ports from %d (%s); pass another --base-port or leave it out"
                    % (a.base_port, lock_path(a.base_port)))
    else:
        a.base_port, a.port_lock = free_base(a.nodes)
        if not a.base_port:
            p.error("no block of free ports between 19300 and 29999; pass --base-port")
    return a


def lock_path(base):
    return os.path.join(tempfile.gettempdir(), "strata-chaos-%d.lock" % base)


def lock_block(base):
    """An open file holding an exclusive lock on the block of ports from
    `base` while this process lives (so that runs started at the same moment,
    e.g. by two test suites, never pick the same block), or None."""
    try:
        fd = os.open(lock_path(base), os.O_CREAT | os.O_RDWR, 0o666)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except OSError:
        os.close(fd)
        return None


def free_base(n):
    """(base, lock): the first base port from 19300 on (in steps of 100, below
    the ephemeral range) whose lock this run gets and whose 2n ports all bind
    on 127.0.0.1 now; (0, None) when there is none."""
    for base in range(19300, 30000, 100):
        lock = lock_block(base)
        if lock is None:
            continue
        socks = []
        try:
            for i in range(n):
                for port in (base + 10 * i, base + 10 * i + 1):
                    s = socket.socket()
                    socks.append(s)
                    s.bind(("127.0.0.1", port))
            return base, lock
        except OSError:
            os.close(lock)
        finally:
            for s in socks:
                s.close()
    return 0, None


def main(argv):
    a = parse_args(argv)
    dir_ = a.dir or tempfile.mkdtemp(prefix="strata-chaos-")
    if a.dir and os.path.exists(os.path.join(dir_, "node-1")):
        print("chaos: %s already holds a cluster; give a fresh --dir (or stop it: scripts/cluster-down.sh --dir %s "
              "and remove it)" % (dir_, dir_), file=sys.stderr)
        return 2
    print("chaos: seed %d, %d nodes, rf %d, %g s of %s, ports %d-%d, dir %s" % (
        a.seed, a.nodes, a.rf, a.duration, ",".join(a.scenarios), a.base_port, a.base_port + 10 * (a.nodes - 1) + 1,
        dir_), flush=True)
    print("chaos: replay with: %s --nodes %d --rf %d --duration %g --scenarios %s --seed %d" % (
        sys.argv[0], a.nodes, a.rf, a.duration, ",".join(a.scenarios), a.seed), flush=True)

    skip = netcut.unavailable_reason() if "partition" in a.scenarios else None
    if skip:
        print("chaos: partition scenario skipped: %s" % skip, flush=True)
    cgroup = "strata-chaos-%d" % a.base_port if "partition" in a.scenarios and not skip else None

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    watchdog = start_watchdog(dir_, a.base_port, cgroup, a.nodes)
    cut = None
    cluster = Cluster(a.nodes, a.base_port, dir_)
    faults = writer = querier = None
    ok = False
    try:
        if cgroup:
            cut = netcut.Netcut(a.base_port, cgroup)
        up = ["bash", os.path.join(ROOT, "scripts/cluster-up.sh"), str(a.nodes), "--dir", dir_, "--base-port",
              str(a.base_port), "--bin", a.bin]
        if cgroup:
            up += ["--cgroup", cgroup]
        up += ["--", "--replication-factor", str(a.rf)]
        if subprocess.run(up).returncode != 0:
            print("chaos: the cluster did not start (is another one on ports %d-%d? try another --base-port)" % (
                a.base_port, a.base_port + 10 * a.nodes), file=sys.stderr)
            return 1
        cluster.started = time.monotonic()
        t0 = int(time.time() * 1000)
        ledger = workload.Ledger()
        writer = workload.Writer(cluster, ledger, t0, series=a.series, threads=a.writers, seed=a.seed)
        querier = workload.Querier(cluster, seed=a.seed, allow_peer=a.allow_peer_timeouts)
        faults = FaultLoop(cluster, a.scenarios, a.seed, cut, skip, a.duration, recover_timeout=90)
        writer.start()
        querier.start()
        faults.run()

        c = cluster
        c.phase = "recovery"
        faults.heal_all()
        writer.stop_producing()
        log(c.started, "faults over: %s; retrying unacknowledged batches" % faults.done)
        violations = list(faults.violations)
        deadline = time.monotonic() + a.drain_timeout
        while writer.pending_batches() and time.monotonic() < deadline:
            time.sleep(0.2)
        writer.stop()
        drained = wait_hints_drained(dir_, a.nodes, deadline)
        if not drained:
            violations.append("hinted-handoff files left after %g s: %s" % (a.drain_timeout, drained_left(dir_, a.nodes)))
        log(c.started, "hints drained" if drained else "hints NOT drained")
        querier.stop()

        t_end = max(t for _, t in ledger.attempted) + 1 if ledger.attempted else t0 + 1
        per_node = []
        for i in range(a.nodes):
            while True:
                status, warnings, got, err = workload.read_all(c.http_port(i), t0, t_end)
                if (status == 200 and not warnings) or time.monotonic() > deadline:
                    break
                time.sleep(1)
            if status != 200:
                violations.append("final read through node %d failed: %s %s" % (i + 1, status or "no answer", err))
                per_node.append(None)
                continue
            if warnings:
                violations.append("final read through node %d is partial: %s" % (i + 1, warnings))
            r = workload.check(ledger, got)
            per_node.append(r)
            for k in ("missing", "duplicated", "wrong_value", "unexpected"):
                if r[k]:
                    violations.append("node %d: %d %s" % (i + 1, r[k], k.replace("_", " ")))
            violations += ["node %d: %s" % (i + 1, e) for e in r["examples"]]
        violations += ["write refused: " + t for t in ledger.refused[:10]]
        if ledger.refused:
            violations.append("%d writes refused with 4xx (the workload is valid)" % len(ledger.refused))
        violations += querier.failures[:20]
        if querier.failures:
            violations.append("%d queries failed at nodes that were not faulted" % len(querier.failures))
        peer = sum(q["failed_peer"] for q in querier.stats.values())
        if peer and a.allow_peer_timeouts:
            print("chaos: %d reads failed waiting for a faulted peer; not counted as violations (--allow-peer-timeouts)"
                  % peer, flush=True)
        summary = {
            "seed": a.seed, "nodes": a.nodes, "rf": a.rf, "duration_s": a.duration, "scenarios": a.scenarios,
            "faults": faults.done, "faults_skipped": faults.skipped,
            "write_requests": dict(sorted(ledger.requests.items())),
            "batches_acknowledged_after_retry": ledger.acked_after_retry,
            "samples_acknowledged": len(ledger.acked),
            "samples_never_acknowledged": len(ledger.attempted) - len(ledger.acked),
            "check_per_node": [r and {k: v for k, v in r.items() if k != "examples"} for r in per_node],
            "queries": querier.stats, "partial_examples": querier.warnings, "violations": len(violations),
        }
        print_summary(summary, violations)
        if a.summary_json:
            with open(a.summary_json, "w") as f:
                json.dump(summary, f, indent=1)
        ok = not violations
        return 0 if ok else 1
    finally:
        for part in (querier, writer):
            if part:
                part.stopped.set()
        if faults:
            faults.heal_all()
        subprocess.run(["bash", os.path.join(ROOT, "scripts/cluster-down.sh"), "--dir", dir_],
                       stdout=subprocess.DEVNULL)
        cluster.reap()
        if cut:
            cut.clear()
        if cgroup:
            remove_cgroup(cgroup, a.nodes)
        watchdog.kill()
        watchdog.wait()
        if ok and not a.keep and not a.dir:
            shutil.rmtree(dir_, ignore_errors=True)
        else:
            print("chaos: data and logs kept in %s" % dir_, flush=True)


WATCHDOG = r"""
while kill -0 "$1" 2>/dev/null; do sleep 1; done
bash "$2/scripts/cluster-down.sh" --dir "$3" >/dev/null 2>&1
if [ -n "$5" ]; then
  for hook in OUTPUT INPUT; do
    chain="STRATA-CHAOS-$4-${hook:0:1}"
    while iptables -w -D "$hook" -j "$chain" 2>/dev/null; do :; done
    iptables -w -F "$chain" 2>/dev/null; iptables -w -X "$chain" 2>/dev/null
  done
  rmdir "$5"/node-* "$5" 2>/dev/null
fi
true
"""


def start_watchdog(dir_, base_port, cgroup, n):
    """A process of its own session that stops the nodes and removes the
    network cut rules if this one dies without cleaning up (SIGKILL, a test
    timeout)."""
    cg = os.path.join(netcut.cgroup2_root(), cgroup) if cgroup else ""
    return subprocess.Popen(["bash", "-c", WATCHDOG, "chaos-watchdog", str(os.getpid()), ROOT, dir_, str(base_port), cg],
                            start_new_session=True, stdin=subprocess.DEVNULL)


def hint_files(dir_, n):
    left = []
    for i in range(n):
        h = os.path.join(dir_, "node-%d" % (i + 1), "hints")
        if os.path.isdir(h):
            left += [os.path.join(h, f) for f in os.listdir(h) if ".hints" in f]
    return left


def drained_left(dir_, n):
    return ", ".join(hint_files(dir_, n)) or "none"


def wait_hints_drained(dir_, n, deadline):
    """True once no node has hint files twice in a row, a second apart."""
    clean = 0
    while time.monotonic() < deadline:
        clean = clean + 1 if not hint_files(dir_, n) else 0
        if clean >= 2:
            return True
        time.sleep(1)
    return False


def remove_cgroup(cgroup, n):
    root = netcut.cgroup2_root()
    for i in range(n):
        try:
            os.rmdir(os.path.join(root, cgroup, "node-%d" % (i + 1)))
        except OSError:
            pass
    try:
        os.rmdir(os.path.join(root, cgroup))
    except OSError:
        pass


def print_summary(s, violations):
    print("\n=== chaos summary (seed %d) ===" % s["seed"])
    print("faults: %s, skipped %d" % (", ".join("%s %d" % kv for kv in s["faults"].items()), s["faults_skipped"]))
    print("write requests: %s; batches acknowledged on a retry: %d" % (
        ", ".join("%s %d" % kv for kv in s["write_requests"].items()), s["batches_acknowledged_after_retry"]))
    print("samples: acknowledged %d, never acknowledged %d" % (s["samples_acknowledged"], s["samples_never_acknowledged"]))
    for i, r in enumerate(s["check_per_node"]):
        if r:
            print("node %d: acknowledged %d found %d, missing %d, duplicated %d, wrong value %d, unexpected %d, "
                  "unacknowledged found %d" % (i + 1, r["acked"], r["found"], r["missing"], r["duplicated"],
                                               r["wrong_value"], r["unexpected"], r["unacked_found"]))
        else:
            print("node %d: no final read" % (i + 1))
    print("queries by phase:  complete  partial  failed: its node faulted / a faulted peer / otherwise")
    for phase, q in s["queries"].items():
        print("  %-10s %9d %8d %21d %16d %11d" % (phase, q["complete"], q["partial"], q["failed_expected"],
                                                q["failed_peer"], q["failed"]))
    for w in s["partial_examples"]:
        print("  partial: " + w)
    for v in violations:
        print("VIOLATION: " + v)
    print("result: %s (%d violations)" % ("OK" if not violations else "FAILED", len(violations)), flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
