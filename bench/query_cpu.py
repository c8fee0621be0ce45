#!/usr/bin/env python3
"""Server CPU time and wall time per bench query, against a running node.

  bench/query_cpu.py --data DIR --url http://127.0.0.1:19600 --pid PID
                     [--queries ../shared/bench/queries.txt] [--reps 5] [--only q11,q12]
                     [--variants instant,range_1h,range_all] [--extra '&max_source_resolution=raw']
                     [--out answers.json]

DIR is the ../shared/bench/gen.py dataset the node holds. Each query runs in
the three forms run.sh uses (instant at the data's end; range over its last
hour, step 60 s; range over all of it, step the scrape interval): once to warm
up, then --reps times. Prints per query the median wall time and the node's
CPU time per run (utime + stime of PID from /proc, so it needs the node on
this machine), then the geometric means per form. On a shared machine the CPU
figures are the steadier ones. --out writes every answer (the warm-up's), so
that two binaries can be checked for the same answers.
"""
import argparse
import json
import math
import os
import statistics
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--queries", default=os.path.join(ROOT, "..", "shared", "bench", "queries.txt"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated query id prefixes")
    ap.add_argument("--variants", default="instant,range_1h,range_all")
    ap.add_argument("--extra", default="", help="appended to every query string")
    ap.add_argument("--out", default="")
    a = ap.parse_args()

    with open(os.path.join(a.data, "manifest.json")) as f:
        man = json.load(f)
    end, start = man["end_ms"] / 1000, man["start_ms"] / 1000
    forms = {
        "instant": ("/api/v1/query", {"time": f"{end:.3f}"}),
        "range_1h": ("/api/v1/query_range", {"start": f"{end - 3600:.3f}", "end": f"{end:.3f}", "step": "60"}),
        "range_all": ("/api/v1/query_range",
                      {"start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{int(man['interval_s'])}"}),
    }
    tick = os.sysconf("SC_CLK_TCK")

    def cpu_ms():
        with open(f"/proc/{a.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000.0 / tick

    queries = []
    with open(a.queries) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            qid, expr = line.split(None, 1)
            if a.only and not any(qid.startswith(p) for p in a.only.split(",")):
                continue
            queries.append((qid, expr))

    variants = a.variants.split(",")
    figures, answers = {}, {}
    for qid, expr in queries:
        for v in variants:
            path, params = forms[v]
            url = a.url + path + "?" + urllib.parse.urlencode(dict(params, query=expr)) + a.extra
            answers[f"{qid}/{v}"] = json.loads(urllib.request.urlopen(url).read())
            wall = []
            c0 = cpu_ms()
            for _ in range(a.reps):
                t0 = time.perf_counter()
                urllib.request.urlopen(url).read()
                wall.append((time.perf_counter() - t0) * 1000)
            figures[(qid, v)] = (statistics.median(wall), (cpu_ms() - c0) / a.reps)
            print(f"{qid:24s} {v:9s} wall {figures[(qid, v)][0]:9.2f} ms  cpu {figures[(qid, v)][1]:8.1f} ms",
                  flush=True)

    def geomean(xs):
        return math.exp(sum(math.log(x) for x in xs) / len(xs))

    for v in variants:
        # CPU is counted in clock ticks: a query under one tick reads as 0.
        w = geomean([figures[(q, v)][0] for q, _ in queries])
        c = geomean([max(figures[(q, v)][1], 0.5) for q, _ in queries])
        print(f"geomean {v:9s} wall {w:8.2f} ms  cpu {c:8.2f} ms")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(answers, f)


if __name__ == "__main__":
    main()
