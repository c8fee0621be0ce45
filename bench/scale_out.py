#!/usr/bin/env python3
"""Ingest scale-out: the same dataset into clusters of 1, 2, 4 ... nodes on one machine.

  bench/scale_out.py --data DIR --send ../shared/bench/send.py [--nodes 1 2 4] [--bin build/app/strata]

DIR is a ../shared/bench/gen.py dataset. For each cluster size N, the script starts
N nodes (scripts/cluster-up.sh), gives each node the bodies of every N-th host
shard of the dataset, runs one send.py per node at the same time, and reports
samples/s for the whole cluster (all samples / the slowest sender's wall time),
every node's CPU seconds, and whether every body got a 2xx. Only 127.0.0.1 is used.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def split_dataset(data, n, out):
    with open(os.path.join(data, "manifest.json")) as f:
        man = json.load(f)
    parts = []
    for i in range(n):
        d = os.path.join(out, "part-%d" % i)
        os.makedirs(d)
        os.symlink(os.path.abspath(os.path.join(data, "bodies")), os.path.join(d, "bodies"))
        sub = dict(man)
        sub["bodies"] = [b for b in man["bodies"] if b["shard"] % n == i]
        with open(os.path.join(d, "manifest.json"), "w") as f:
            json.dump(sub, f)
        parts.append((d, sum(b.get("samples", 0) for b in sub["bodies"])))
    return parts


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(n, a, work):
    cdir = os.path.join(work, "cluster-%d" % n)
    base = a.base_port
    subprocess.run([os.path.join(ROOT, "scripts", "cluster-up.sh"), str(n), "--dir", cdir, "--base-port", str(base),
                    "--bin", a.bin, "--"] + a.serve_flags.split(), check=True, stdout=subprocess.DEVNULL)
    try:
        parts = split_dataset(a.data, n, os.path.join(work, "parts-%d" % n))
        procs = []
        t0 = time.time()
        for i, (d, _) in enumerate(parts):
            url = "http://127.0.0.1:%d/api/v1/write" % (base + 10 * i)
            procs.append(subprocess.Popen([sys.executable, a.send, "--url", url, "--data", d, "--conns", str(a.conns)],
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        results = []
        for p in procs:
            out, _ = p.communicate()
            results.append(json.loads(out[out.index("{"):]))
        wall = time.time() - t0
        pids = [int(open(os.path.join(cdir, "node-%d.pid" % (i + 1))).read()) for i in range(n)]
        cpu = [cpu_seconds(p) for p in pids]
        total = sum(r["samples_ok"] for r in results)
        return {"nodes": n, "serve_flags": a.serve_flags, "samples": total, "wall_s": round(wall, 2),
                "samples_per_s": round(total / max(r["wall_s"] for r in results)),
                "node_cpu_s": [round(c, 1) for c in cpu],
                "cpu_s_per_million": round(sum(cpu) / (total / 1e6), 2),
                "non_2xx": sum(r["non_2xx"] for r in results)}
    finally:
        subprocess.run([os.path.join(ROOT, "scripts", "cluster-down.sh"), "--dir", cdir], stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--send", required=True, help="path of ../shared/bench/send.py")
    ap.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "app", "strata"))
    ap.add_argument("--conns", type=int, default=4, help="connections per sender")
    ap.add_argument("--base-port", type=int, default=19401)
    ap.add_argument("--serve-flags", default="", help="extra `strata serve` flags for every node")
    ap.add_argument("--out", help="write the results as JSON here too")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="strata-scale-")
    rows = []
    try:
        for n in a.nodes:
            r = run(n, a, work)
            rows.append(r)
            print(json.dumps(r), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(rows, f, indent=1)
    return 1 if any(r["non_2xx"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
