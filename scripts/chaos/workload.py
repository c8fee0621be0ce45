"""The writer, the querier and the exactly-once check of a chaos run.

The writer sends remote_write batches, each to a random live node, and keeps
the ledger: every sample attempted, and those acknowledged (answered 2xx). A
sample's value is a function of its series and timestamp, so a batch that
failed is sent again later with the same values; strata stores a repeated
sample once. A batch that never got a 2xx stays "attempted": it may have been
stored on some replicas, or on all of them (an answer lost to a timeout), so
the check allows it to be read, but with its own value and at most once.
"""
import http.client
import json
import random
import re
import struct
import threading
import time
import urllib.parse

import snappy

METRIC = "chaos_x"


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(tag, payload):
    return _varint(tag << 3 | 2) + _varint(len(payload)) + payload


def encode_write(series):
    """series: [(series index, [(t ms, value)])] -> snappy WriteRequest."""
    body = bytearray()
    for s, samples in series:
        ts = _field(1, _field(1, b"__name__") + _field(2, METRIC.encode()))
        ts += _field(1, _field(1, b"series") + _field(2, str(s).encode()))
        for t, v in samples:
            ts += _field(2, b"\x09" + struct.pack("<d", v) + b"\x10" + _varint(t))
        body += _field(1, ts)
    return snappy.compress(bytes(body))


def value_of(s, t, t0):
    """The one value series s ever gets at t: exact in a float64."""
    return s * 1e9 + (t - t0) + 0.25


def request(port, method, path, body=None, headers=None, timeout=10.0):
    """(status, headers dict, body bytes); status 0 with the error text as
    body when no answer came."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    except (OSError, http.client.HTTPException) as e:
        return 0, {}, ("%s: %s" % (type(e).__name__, e)).encode()
    finally:
        conn.close()


def query(port, q, t_ms, timeout=30.0):
    path = "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": "%.3f" % (t_ms / 1000)})
    status, _, body = request(port, "GET", path, timeout=timeout)
    try:
        doc = json.loads(body) if status else None
    except ValueError:
        doc = None
    return status, doc, body


class Ledger:
    """Every sample attempted and acknowledged; shared by the writer threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempted = {}       # (series, t) -> value
        self.acked = set()        # (series, t)
        self.requests = {}        # outcome ("204", "503", "timeout", ...) -> count
        self.refused = []         # texts of 4xx answers: the workload is valid, so each is a violation
        self.acked_after_retry = 0

    def count(self, outcome):
        self.requests[outcome] = self.requests.get(outcome, 0) + 1


class Writer:
    """`threads` writer threads; thread k owns the series s with s % threads == k
    and writes `per_batch` samples of each at increasing timestamps."""

    def __init__(self, cluster, ledger, t0, series=48, threads=3, per_batch=2, interval=0.1, seed=0):
        self.cluster, self.ledger, self.t0 = cluster, ledger, t0
        self.series, self.threads, self.per_batch, self.interval = series, threads, per_batch, interval
        self.rng = random.Random(seed)
        self.producing = threading.Event()
        self.producing.set()
        self.stopped = threading.Event()
        self.pending = [0] * threads
        self.workers = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(threads)]

    def start(self):
        for w in self.workers:
            w.start()

    def stop_producing(self):
        """No new batches from now on; failed ones are still retried."""
        self.producing.clear()

    def stop(self):
        self.stopped.set()
        for w in self.workers:
            w.join()

    def pending_batches(self):
        return sum(self.pending)

    def _run(self, k):
        mine = [s for s in range(self.series) if s % self.threads == k]
        last_t = self.t0
        retry = []  # [(due, attempt, batch)]
        while not self.stopped.is_set():
            now = time.monotonic()
            due = [r for r in retry if r[0] <= now]
            if due:
                item = min(due, key=lambda r: r[0])
                retry.remove(item)
                _, attempt, batch = item
            elif self.producing.is_set():
                t = max(last_t + self.per_batch, int(time.time() * 1000))
                last_t = t
                batch = [(s, [(t + j, value_of(s, t + j, self.t0)) for j in range(self.per_batch)]) for s in mine]
                attempt = 0
            else:
                self.pending[k] = len(retry)
                self.stopped.wait(0.1)
                continue
            wait = self._send(batch, attempt)
            if wait is not None:
                retry.append((time.monotonic() + wait, attempt + 1, batch))
            self.pending[k] = len(retry)
            self.stopped.wait(self.interval)

    def _send(self, batch, attempt):
        """Sends one batch; None when acknowledged, else seconds until its retry."""
        with self.ledger.lock:
            for s, samples in batch:
                for t, v in samples:
                    self.ledger.attempted[(s, t)] = v
        nodes = self.cluster.usable_nodes()
        node = self.rng.choice(nodes) if nodes else self.rng.randrange(self.cluster.n)
        status, headers, body = request(self.cluster.http_port(node), "POST", "/api/v1/write", encode_write(batch),
                                        {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                                         "X-Prometheus-Remote-Write-Version": "0.1.0"}, timeout=10.0)
        outcome = str(status) if status else body.decode().split(":")[0]
        with self.ledger.lock:
            self.ledger.count(outcome)
            if 200 <= status < 300:
                for s, samples in batch:
                    self.ledger.acked.update((s, t) for t, _ in samples)
                if attempt:
                    self.ledger.acked_after_retry += 1
                return None
            if 400 <= status < 500 and status != 429:
                self.ledger.refused.append("node %d answered %d: %s" % (node + 1, status, body[:300].decode(errors="replace")))
        try:
            after = float(headers.get("Retry-After", "1"))
        except ValueError:
            after = 1.0
        return min(5.0, max(after, 0.5 * (attempt + 1)))


class Querier:
    """Queries a random usable node every `interval` seconds and files each answer under the phase it started in: complete,
    partial (a warning), or failed:
      failed_expected  the node asked was killed, restarting or frozen at some
                       moment while the query ran;
      failed_peer      a 503 "shard ... on node X did not answer" where X was
                       killed, frozen or cut off at some moment of the query:
                       the read waited for a replica that went away instead of
                       reading that partition from another one. DESIGN.md says
                       reads fall back to another replica, so this is a
                       violation unless `allow_peer` (see --allow-peer-timeouts);
      failed           anything else: always a violation."""

    QUERY = "sum(count_over_time(%s[1m]))" % METRIC
    KINDS = ("complete", "partial", "failed_expected", "failed_peer", "failed")

    def __init__(self, cluster, interval=0.25, max_in_flight=16, seed=0, allow_peer=False):
        self.cluster, self.interval, self.allow_peer = cluster, interval, allow_peer
        self.slots = threading.Semaphore(max_in_flight)
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stats = {}       # phase -> kind -> count
        self.failures = []    # texts of the failures that are violations
        self.warnings = []    # the first few distinct warnings of partial answers
        self.in_flight = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        """Stops starting queries and waits for those in flight."""
        self.stopped.set()
        self.thread.join()
        for t in self.in_flight:
            t.join()

    def _run(self):
        # A query starts every `interval` (while fewer than max_in_flight run),
        # so the answers sample the whole run evenly, however long some take.
        while not self.stopped.wait(self.interval):
            if not self.slots.acquire(blocking=False):
                continue
            nodes = self.cluster.usable_nodes() or list(range(self.cluster.n))
            t = threading.Thread(target=self._one, args=(self.cluster.phase, self.rng.choice(nodes)), daemon=True)
            self.in_flight = [x for x in self.in_flight if x.is_alive()] + [t]
            t.start()

    def _one(self, phase, node):
        try:
            start = time.monotonic()
            status, doc, body = query(self.cluster.http_port(node), self.QUERY, int(time.time() * 1000), timeout=45.0)
            end = time.monotonic()
            if status == 200 and doc and doc.get("status") == "success":
                kind = "partial" if doc.get("warnings") else "complete"
            elif status == 503 and self._peer_faulted(body, start, end):
                kind = "failed_peer"
            elif self.cluster.was_faulted(node, start, end):
                kind = "failed_expected"
            else:
                kind = "failed"
            with self.lock:
                if kind == "partial":
                    text = "; ".join(doc["warnings"])[:300]
                    if len(self.warnings) < 8 and not any(w.endswith(": " + text) for w in self.warnings):
                        self.warnings.append("%s: node %d at %.1f s: %s" % (phase, node + 1,
                                                                             start - self.cluster.started, text))
                if kind == "failed" or (kind == "failed_peer" and not self.allow_peer):
                    self.failures.append("%s: query at node %d (%.1f-%.1f s after start) answered %s: %s" % (
                        phase, node + 1, start - self.cluster.started, end - self.cluster.started, status or "nothing",
                        body[:200].decode(errors="replace")))
                per = self.stats.setdefault(phase, dict.fromkeys(self.KINDS, 0))
                per[kind] += 1
        finally:
            self.slots.release()

    def _peer_faulted(self, body, start, end):
        m = re.search(rb"on node (127\.0\.0\.1:\d+) did not answer", body)
        peer = m and self.cluster.node_of(m.group(1).decode())
        return peer is not None and self.cluster.was_faulted(peer, start, end, ("kill", "stop", "partition"))


def read_all(port, t0, t_end):
    """Every raw sample of the run through one node: (status, warnings, {series: [(t, v)]}, error text)."""
    range_s = (t_end - t0) // 1000 + 120
    status, doc, body = query(port, "%s[%ds]" % (METRIC, range_s), t_end, timeout=120.0)
    if status != 200 or not doc or doc.get("status") != "success":
        return status, [], None, body[:300].decode(errors="replace")
    got = {}
    for r in doc["data"]["result"]:
        s = int(r["metric"].get("series", "-1"))
        got.setdefault(s, []).extend((int(round(float(t) * 1000)), float(v)) for t, v in r["values"])
    return status, doc.get("warnings", []), got, ""


def check(ledger, got):
    """Compares one node's samples with the ledger. Returns a dict of counts
    and up to 10 example texts per kind of violation."""
    res = {"acked": len(ledger.acked), "found": 0, "missing": 0, "duplicated": 0, "wrong_value": 0,
           "unexpected": 0, "unacked_found": 0, "examples": []}
    seen = {}
    for s, samples in got.items():
        for t, v in samples:
            key = (s, t)
            seen[key] = seen.get(key, 0) + 1
            want = ledger.attempted.get(key)
            if want is None:
                res["unexpected"] += 1
                res["examples"].append("unexpected sample series=%d t=%d v=%r" % (s, t, v))
            elif struct.pack("<d", want) != struct.pack("<d", v):
                res["wrong_value"] += 1
                res["examples"].append("series=%d t=%d: value %r, written %r" % (s, t, v, want))
    for key, n in seen.items():
        if n > 1:
            res["duplicated"] += 1
            res["examples"].append("series=%d t=%d read %d times" % (key[0], key[1], n))
        if key in ledger.acked:
            res["found"] += 1
        elif key in ledger.attempted:
            res["unacked_found"] += 1
    for key in sorted(ledger.acked - seen.keys()):
        res["missing"] += 1
        if res["missing"] <= 10:
            res["examples"].append("acknowledged sample series=%d t=%d missing" % key)
    res["examples"] = res["examples"][:30]
    return res
