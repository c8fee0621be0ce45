#!/usr/bin/python3
"""Reads back a remote_write dataset through a strata node and compares every sample.

  roundtrip_check.py --data DIR --url http://127.0.0.1:9211 [--expect-partial]

DIR is a dataset made by ../shared/bench/gen.py (manifest.json + bodies/). Every
body is decoded (snappy + protobuf WriteRequest), and for every metric name the
node is asked for `{__name__="NAME"}[RANGE]` at the dataset's last timestamp.
Each series must come back with exactly the samples that were written: same
timestamps, same values bit for bit, none missing, none twice. Prints a summary
and exits 1 on any difference. Needs Debian's python3-snappy.
"""
import argparse
import json
import math
import os
import struct
import sys
import urllib.parse
import urllib.request

import snappy


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def fields(buf):
    i, n = 0, len(buf)
    while i < n:
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            ln, i = varint(buf, i)
            v, i = buf[i:i + ln], i + ln
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        yield num, v


def decode_body(raw):
    for num, ts in fields(snappy.uncompress(raw)):
        if num != 1:
            continue
        labels, samples = [], []
        for f, v in fields(ts):
            if f == 1:
                d = dict(fields(v))
                labels.append((d.get(1, b"").decode(), d.get(2, b"").decode()))
            elif f == 2:
                d = dict(fields(v))
                t = d.get(2, 0)
                if t >= 1 << 63:
                    t -= 1 << 64
                samples.append((t, d.get(1, b"\0" * 8)))
        yield tuple(sorted(l for l in labels if l[1] != "")), samples


STALE_NAN = struct.pack("<Q", 0x7FF0000000000002)


def same_value(written, value_string):
    """JSON carries values as text: NaN payloads cannot survive it, so any NaN matches any NaN."""
    v = float(value_string)  # Prometheus spells NaN, +Inf, -Inf; Python parses them
    w = struct.unpack("<d", written)[0]
    if math.isnan(v) or math.isnan(w):
        return math.isnan(v) and math.isnan(w)
    return written == struct.pack("<d", v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--expect-partial", action="store_true",
                    help="a node is down: accept missing series if the answer warns, but never wrong or duplicate samples")
    a = ap.parse_args()

    with open(os.path.join(a.data, "manifest.json")) as f:
        man = json.load(f)
    want = {}
    for b in man["bodies"]:
        with open(os.path.join(a.data, "bodies", b["file"]), "rb") as f:
            for lbls, samples in decode_body(f.read()):
                # Stale markers end a series; like Prometheus, range vectors leave them out.
                want.setdefault(lbls, {}).update((t, v) for t, v in samples if v != STALE_NAN)
    want = {k: v for k, v in want.items() if v}
    tmin = min(min(s) for s in want.values())
    tmax = max(max(s) for s in want.values())
    names = sorted({dict(l)["__name__"] for l in want})
    range_s = (tmax - tmin) // 1000 + 1
    total = sum(len(s) for s in want.values())
    print("dataset: %d series, %d samples, %d metric names" % (len(want), total, len(names)))

    got_series = got_samples = bad = missing = 0
    warned = False
    for name in names:
        q = '{__name__="%s"}[%ds]' % (name, range_s)
        url = a.url + "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": "%.3f" % (tmax / 1000.0)})
        with urllib.request.urlopen(url, timeout=120) as r:
            reply = json.load(r)
        if reply.get("status") != "success":
            print("query failed:", q, reply)
            return 1
        warned = warned or bool(reply.get("warnings"))
        seen = set()
        for s in reply["data"]["result"]:
            lbls = tuple(sorted(s["metric"].items()))
            if lbls in seen:
                print("series returned twice:", lbls)
                bad += 1
            seen.add(lbls)
            exp = want.get(lbls)
            if exp is None:
                print("series never written:", lbls)
                bad += 1
                continue
            got_series += 1
            times = [int(round(float(t) * 1000)) for t, _ in s["values"]]
            if len(times) != len(set(times)):
                print("sample returned twice in", lbls)
                bad += 1
            for (t, v), tm in zip(s["values"], times):
                got_samples += 1
                if tm not in exp or not same_value(exp[tm], v):
                    if bad < 10:
                        print("wrong sample", lbls, t, v)
                    bad += 1
            if len(times) != len(exp):
                if bad < 10:
                    print("series %s: %d samples, wrote %d" % (lbls, len(times), len(exp)))
                bad += 1
        for lbls in want:
            if dict(lbls)["__name__"] == name and lbls not in seen:
                missing += 1
    print("read back: %d series, %d samples; %d series missing, %d differences" % (got_series, got_samples, missing, bad))
    if bad:
        return 1
    if missing and not (a.expect_partial and warned):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
