#!/usr/bin/env python3
"""Ack-to-alert latency: from the acknowledgement of a sample that makes an
alert condition true to the alert.triggered event on the node's event stream.

  bench/alert_latency.py [--bin build/app/strata] [--trials 60]
                         [--data DIR --send ../shared/bench/send.py]

Starts one node with a rule group (interval 1s) holding the alert
`bench_trigger > 0` (for: 0s) and reads GET /api/v1/events?type=alert.triggered.
Each trial pushes bench_trigger{trial="N"} 1 as a JSON event (POST
/api/v1/push), takes the time its 200 arrives, and waits for the
alert.triggered event whose labels carry trial N; trials start at random
phases of the evaluation interval. With --data (a ../shared/bench/gen.py
dataset) send.py ingests it through remote_write during the trials, in a
loop until they end. Prints p50/p90/p99/max in ms and the samples ingested.
Only 127.0.0.1 is used.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

RULES = """groups:
  - name: bench
    interval: 1s
    rules:
      - alert: BenchTrigger
        expr: bench_trigger > 0
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_ready(port, deadline=30):
    end = time.time() + deadline
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/ready")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit("strata did not become ready")


class Stream(threading.Thread):
    """Reads the SSE stream; records when each trial's alert.triggered arrived."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.arrived = {}
        self.cv = threading.Condition()
        self.subscribed = threading.Event()

    def run(self):
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(b"GET /api/v1/events?type=alert.triggered HTTP/1.1\r\nHost: x\r\n\r\n")
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return
            now = time.monotonic()
            buf += chunk
            while b"\n\n" in buf:
                msg, buf = buf.split(b"\n\n", 1)
                if b": subscribed" in msg:
                    self.subscribed.set()
                for line in msg.split(b"\n"):
                    if line.startswith(b"data: "):
                        ev = json.loads(line[6:])
                        trial = ev["data"]["labels"].get("trial")
                        with self.cv:
                            self.arrived.setdefault(trial, (now, time.time(), ev["data"]["fired_at_ms"] / 1000.0))
                            self.cv.notify_all()

    def wait(self, trial, timeout=10):
        with self.cv:
            self.cv.wait_for(lambda: trial in self.arrived, timeout)
            return self.arrived.get(trial)


def push(port, trial):
    body = json.dumps({"type": "metrics.push", "data": {"service": "bench", "metrics": [
        {"name": "bench_trigger", "type": "gauge", "value": 1, "labels": {"trial": trial}}]}})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/api/v1/push", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    acked = time.monotonic(), time.time()
    if r.status != 200:
        sys.exit("push answered %d" % r.status)
    return acked


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "app", "strata"))
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--data", help="gen.py dataset ingested during the trials")
    ap.add_argument("--send", default=os.path.join(ROOT, "..", "shared", "bench", "send.py"))
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="strata-alert-latency-")
    http_port, cluster_port = free_port(), free_port()
    with open(os.path.join(work, "rules.yml"), "w") as f:
        f.write(RULES)
    node = subprocess.Popen([args.bin, "serve", "--data-dir", os.path.join(work, "data"),
                             "--http-listen", "127.0.0.1:%d" % http_port,
                             "--cluster-listen", "127.0.0.1:%d" % cluster_port,
                             "--rule-file", os.path.join(work, "rules.yml"), "--log-level", "warn"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "log"), "w"))
    sender = None
    try:
        wait_ready(http_port)
        stream = Stream(http_port)
        stream.start()
        if not stream.subscribed.wait(10):
            sys.exit("no event stream")
        stop = threading.Event()
        if args.data:
            def ingest():
                nonlocal sender
                while not stop.is_set():
                    sender = subprocess.Popen(["/usr/bin/python3", args.send, "--url",
                                               "http://127.0.0.1:%d/api/v1/write" % http_port, "--data", args.data],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    sender.wait()
            threading.Thread(target=ingest, daemon=True).start()
            time.sleep(2)  # ingest under way first
        lat, wait, after = [], [], []
        for i in range(args.trials):
            time.sleep(random.uniform(0, 1))
            acked, acked_wall = push(http_port, str(i))
            got = stream.wait(str(i))
            if got is None:
                sys.exit("trial %d: no alert.triggered within 10 s" % i)
            arrived, arrived_wall, evaluated = got
            lat.append((arrived - acked) * 1000)
            wait.append((evaluated - acked_wall) * 1000)  # until the evaluation time that saw it
            after.append((arrived_wall - evaluated) * 1000)  # from that evaluation time to the event
        stop.set()
        ingested = 0
        c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        c.request("GET", "/metrics")
        for line in c.getresponse().read().decode().splitlines():
            if line.startswith("strata_samples_ingested_total{"):
                ingested += float(line.rsplit(" ", 1)[1])
        print(json.dumps({"trials": len(lat), "p50_ms": round(percentile(lat, 50), 1),
                          "p90_ms": round(percentile(lat, 90), 1), "p99_ms": round(percentile(lat, 99), 1),
                          "max_ms": round(max(lat), 1),
                          "wait_for_evaluation_ms": {"p50": round(percentile(wait, 50), 1),
                                                     "p99": round(percentile(wait, 99), 1)},
                          "evaluation_to_event_ms": {"p50": round(percentile(after, 50), 1),
                                                     "p99": round(percentile(after, 99), 1)},
                          "remote_write_samples_ingested": int(ingested)}))
    finally:
        if sender and sender.poll() is None:
            sender.kill()
        node.terminate()
        node.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
