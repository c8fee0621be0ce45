#!/usr/bin/python3
"""The list of conformance cases strata is known to fail (known_failures.txt).

  known_failures.py RESULTS.json OUT.txt   write OUT.txt from a promqltest.py --json run
                                           made without the list: every failing case,
                                           grouped by cause, one reason per group
  known_failures.py --check RESULTS.json   after a run with --exclude LIST --run-excluded:
                                           name unlisted failures and listed cases that
                                           now pass; exit 1 when there is either

The list uses promqltest.py's --exclude format: `file.test:LINE  reason`.
"""

import json
import re
import sys

HEADER = """\
# PromQL conformance cases (../shared/conformance/promql) that strata fails today.
# Format: promqltest.py --exclude (file.test:LINE  reason). tests/conformance/run.sh runs
# them anyway: a listed case that passes fails the run, so this list only shrinks.
# Regenerate: tests/conformance/run.sh BUILD_DIR --regenerate (then review the reasons).
"""

# (pattern over "reason | got | expr", reason written to the list). First match
# wins; %s takes the pattern's first group.
CAUSES = [
    (r"transport error", "the node did not answer (crash or timeout)"),
    (r"load at line \d+ failed|reset failed", "loading the data failed"),
    (r"parse error: unexpected identifier \"(anchored|smoothed)\"",
     "the experimental `anchored`/`smoothed` range modifiers are not implemented"),
    (r"unknown function with name \"(\w+)\"", "function %s() is not implemented"),
    (r"function call \"(\w+)\" is not supported", "function %s() is not implemented"),
    (r"expected the query to fail but it succeeded", "accepts a query Prometheus rejects"),
    (r"range-mode check", "range query disagrees with the instant query"),
    (r"query failed.*(parse error|unexpected|syntax)", "parse error on valid PromQL"),
    (r"query failed.*not (yet )?(implemented|supported)", "evaluator: construct not implemented"),
    (r"query failed", "query fails where Prometheus answers"),
    (r"^expected .* \| .* \| .*\bts_of_\w+_over_time\(",
     "runner limitation: ts_of_*_over_time answers absolute sample times, which promqltest.py's "
     "time shift does not map back (strata answers base + the expected value)"),
    (r"expected string|got string", "string results"),
    (r"expected scalar|got scalar|expected vector|expected matrix", "wrong result type"),
    (r"ordered|order", "result order differs"),
]


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)["cases"]


def cause(case):
    text = "%s | %s | %s" % (case.get("reason", ""), case.get("got", ""), case.get("expr", ""))
    for pat, why in CAUSES:
        m = re.search(pat, text, re.IGNORECASE)
        if m:
            return why % m.group(1) if "%s" in why else why
    return "wrong values or labels"


def line_key(case_id):
    f, _, line = case_id.rpartition(":")
    return (f, int(line) if line.isdigit() else 0)


def write(results, out):
    fails = [c for c in load(results) if c["status"] in ("fail", "xfail")]
    groups = {}
    for c in fails:
        groups.setdefault((c["file"], cause(c)), []).append(c["id"])
    with open(out, "w", encoding="utf-8") as f:
        f.write(HEADER)
        for (fname, why), ids in sorted(groups.items()):
            f.write("\n# %s: %s (%d)\n" % (fname, why, len(ids)))
            for i in sorted(ids, key=line_key):
                f.write("%-32s %s\n" % (i, why))
    print("wrote %s: %d cases in %d groups" % (out, len(fails), len(groups)))


def check(results):
    cases = load(results)
    fails = [c["id"] for c in cases if c["status"] == "fail"]
    xpass = [c["id"] for c in cases if c["status"] == "xpass"]
    if fails:
        print("\n%d case(s) fail that known_failures.txt does not list:" % len(fails))
        for i in sorted(fails, key=line_key):
            print("  " + i)
    if xpass:
        print("\n%d case(s) in known_failures.txt now pass; remove them from the list:" % len(xpass))
        for i in sorted(xpass, key=line_key):
            print("  " + i)
    if not fails and not xpass:
        print("conformance: every case passes or fails as listed in known_failures.txt")
    return 1 if fails or xpass else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--check":
        return check(argv[2])
    if len(argv) == 3:
        write(argv[1], argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
