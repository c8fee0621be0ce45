#!/usr/bin/env python3
"""Bytes crossing nodes for the bench queries: what a query moves between the
nodes of a cluster, with pushdown and without.

  bench/query_bytes.py --data DIR [--send ../shared/bench/send.py] [--queries ../shared/bench/queries.txt]
                       [--nodes 3] [--rf 1] [--bin build/app/strata] [--base-port 19501]

DIR is a ../shared/bench/gen.py dataset. Starts N nodes (scripts/cluster-up.sh
with --replication-factor RF), sends the dataset through node 1, then runs each
query of queries.txt through node 1 as an instant query at the data's end, a
range over its last hour (step 60 s) and over the whole dataset (step 15 s),
each with `stats=all` twice: pushed down and with `pushdown=false`. Prints per
query the bytes node 1 received from the other nodes
(data.stats.cluster.remoteBytes) both ways, and their totals. Only 127.0.0.1 is
used.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def queries(path):
    out = []
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            qid, q = line.split(None, 1)
            out.append((qid, q))
    return out


def remote_bytes(port, path, params):
    url = "http://127.0.0.1:%d%s?%s" % (port, path, urllib.parse.urlencode(params))
    with urllib.request.urlopen(url, timeout=120) as r:
        j = json.load(r)
    if j.get("status") != "success":
        sys.exit("%s: %s" % (params["query"], j))
    return j["data"].get("stats", {}).get("cluster", {}).get("remoteBytes", 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--send", default=os.path.join(ROOT, "..", "shared", "bench", "send.py"))
    ap.add_argument("--queries", default=os.path.join(ROOT, "..", "shared", "bench", "queries.txt"))
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--rf", type=int, default=1)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "app", "strata"))
    ap.add_argument("--base-port", type=int, default=19501)
    args = ap.parse_args()
    for f in (args.send, args.queries, os.path.join(args.data, "manifest.json")):
        if not os.path.isfile(f):
            sys.exit("missing %s (see --help)" % f)
    with open(os.path.join(args.data, "manifest.json")) as f:
        man = json.load(f)
    start_s, end_s = man["start_ms"] / 1000.0, man["end_ms"] / 1000.0

    work = tempfile.mkdtemp(prefix="strata-query-bytes-")
    up = [os.path.join(ROOT, "scripts", "cluster-up.sh"), str(args.nodes), "--dir", work, "--base-port",
          str(args.base_port), "--bin", args.bin, "--", "--replication-factor", str(args.rf)]
    try:
        subprocess.run(up, check=True, stdout=subprocess.DEVNULL)
        port = args.base_port
        subprocess.run(["/usr/bin/python3", args.send, "--url", "http://127.0.0.1:%d/api/v1/write" % port,
                        "--data", args.data], check=True, stdout=subprocess.DEVNULL)
        rows, totals = [], {}
        for qid, q in queries(args.queries):
            row = [qid]
            for kind, path, extra in (("instant", "/api/v1/query", {"time": end_s}),
                                      ("range 1h", "/api/v1/query_range",
                                       {"start": end_s - 3600, "end": end_s, "step": 60}),
                                      ("range all", "/api/v1/query_range",
                                       {"start": start_s, "end": end_s, "step": 15})):
                params = dict(extra, query=q, stats="all")
                pushed = remote_bytes(port, path, params)
                raw = remote_bytes(port, path, dict(params, pushdown="false"))
                row += [pushed, raw]
                t = totals.setdefault(kind, [0, 0])
                t[0] += pushed
                t[1] += raw
            rows.append(row)
        print("bytes node 1 received from the other %d nodes (RF %d): pushed down / raw" % (args.nodes - 1, args.rf))
        print("%-26s %21s %21s %21s" % ("query", "instant", "range 1h", "range all"))
        for r in rows:
            print("%-26s %10d/%-10d %10d/%-10d %10d/%-10d" % tuple(r))
        print("%-26s %10d/%-10d %10d/%-10d %10d/%-10d" % ("total", *totals["instant"], *totals["range 1h"],
                                                          *totals["range all"]))
        print(json.dumps({"nodes": args.nodes, "rf": args.rf, "totals": totals,
                          "rows": [{"query": r[0], "instant": r[1:3], "range_1h": r[3:5], "range_all": r[5:7]}
                                   for r in rows]}))
    finally:
        subprocess.run([os.path.join(ROOT, "scripts", "cluster-down.sh"), "--dir", work], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
