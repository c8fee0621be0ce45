#!/usr/bin/env python3
"""Rule evaluation cost: what one rule evaluation costs a node, over the bench
dataset, for rules made of the 16 dashboard queries of ../shared/bench/queries.txt.

  bench/rule_cost.py [--bin build/app/strata] [--hosts 10] [--rounds 12]
                     [--interval 5] [--shared ../shared]

Generates a gen.py dataset ending now (--hosts, 3 h), starts one node, sends
the dataset (send.py, remote_write), then measures the node's CPU time over
--rounds intervals twice: with no rules, then with one group holding a
recording rule (`record: bench:<id>`) and an alerting rule (`(<query>) > 0`)
per query (32 rules). Prints, per rule, the median of the evaluationTime that
/api/v1/rules reports after each round, and the node's CPU-milliseconds per
rule evaluation (CPU with rules minus CPU without, divided by the rule
evaluations in the window). Only 127.0.0.1 is used.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(port, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body)
    r = c.getresponse()
    return r.status, r.read()


def wait_ready(port, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        try:
            if request(port, "GET", "/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit("strata did not become ready")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def queries(path):
    out = []
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            qid, q = line.split(None, 1)
            out.append((qid, q))
    return out


def rules_yaml(qs, interval):
    lines = ["groups:", "  - name: bench", "    interval: %ds" % interval, "    rules:"]
    for qid, q in qs:
        lines += ["      - record: bench:%s" % qid, "        expr: %s" % json.dumps(q)]
        lines += ["      - alert: Bench_%s" % qid, "        expr: %s" % json.dumps("(%s) > 0" % q)]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "app", "strata"))
    ap.add_argument("--hosts", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--interval", type=int, default=5, help="group interval, seconds")
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    args = ap.parse_args()
    bench = os.path.join(args.shared, "bench")
    if not os.path.isfile(os.path.join(bench, "gen.py")):
        sys.exit("no %s/gen.py: pass --shared with the shared bench folder" % bench)
    qs = queries(os.path.join(bench, "queries.txt"))

    work = tempfile.mkdtemp(prefix="strata-rule-cost-")
    data = os.path.join(work, "dataset")
    subprocess.run(["/usr/bin/python3", os.path.join(bench, "gen.py"), "--hosts", str(args.hosts), "--end", "now",
                    "--out", data], check=True, stdout=subprocess.DEVNULL)
    rule_file = os.path.join(work, "rules.yml")
    with open(rule_file, "w") as f:
        f.write("groups: []\n")
    http_port, cluster_port = free_port(), free_port()
    node = subprocess.Popen([args.bin, "serve", "--data-dir", os.path.join(work, "data"),
                             "--http-listen", "127.0.0.1:%d" % http_port,
                             "--cluster-listen", "127.0.0.1:%d" % cluster_port,
                             "--rule-file", rule_file, "--log-level", "warn"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "log"), "w"))
    try:
        wait_ready(http_port)
        subprocess.run(["/usr/bin/python3", os.path.join(bench, "send.py"), "--url",
                        "http://127.0.0.1:%d/api/v1/write" % http_port, "--data", data], check=True,
                       stdout=subprocess.DEVNULL)
        window = args.rounds * args.interval
        time.sleep(2)
        c0 = cpu_seconds(node.pid)
        time.sleep(window)
        idle = cpu_seconds(node.pid) - c0

        with open(rule_file, "w") as f:
            f.write(rules_yaml(qs, args.interval))
        status, body = request(http_port, "POST", "/-/reload")
        if status != 200:
            sys.exit("reload failed: %s" % body.decode())
        time.sleep(args.interval + 1)  # the first evaluation
        per_rule, group_times = {}, []
        c0 = cpu_seconds(node.pid)
        t0 = time.time()
        last = None
        while time.time() - t0 < window:
            time.sleep(args.interval / 4)
            g = json.loads(request(http_port, "GET", "/api/v1/rules")[1])["data"]["groups"][0]
            if g["lastEvaluation"] == last:
                continue
            last = g["lastEvaluation"]
            group_times.append(g["evaluationTime"] * 1000)
            for r in g["rules"]:
                if r["health"] != "ok":
                    sys.exit("rule %s: %s" % (r["name"], r.get("lastError")))
                per_rule.setdefault(r["name"], []).append(r["evaluationTime"] * 1000)
        busy = cpu_seconds(node.pid) - c0
        rules = {name: round(statistics.median(ts), 2) for name, ts in per_rule.items()}
        print(json.dumps({
            "hosts": args.hosts, "rules": len(per_rule), "interval_s": args.interval,
            "group_evaluations_seen": len(group_times),
            "group_evaluation_ms_median": round(statistics.median(group_times), 1),
            "rule_evaluation_ms_median": round(statistics.median(rules.values()), 2),
            "cpu_s_without_rules": round(idle, 2), "cpu_s_with_rules": round(busy, 2),
            # the group runs `rounds` times in each window
            "cpu_ms_per_rule_evaluation": round((busy - idle) * 1000 / (len(per_rule) * args.rounds), 2),
            "per_rule_ms": rules}, indent=1))
    finally:
        node.terminate()
        node.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
