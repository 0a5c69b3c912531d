#!/usr/bin/env python3
"""Helper of bench/bandit.sh: VW's cbify benchmark for `lift bandit simulate`.

Writes the three row orders of BENCHMARKS.md (file order, then Python's
random.Random(seed).shuffle(lines) with seeds 1 and 2) to a temporary
directory, runs `lift bandit simulate` on each, and prints the mean
progressive loss next to Vowpal Wabbit's best and uniform figures from
shared/BENCHMARKS.md.

usage: bandit.py LIFT DATA_DIR OUT_DIR POLICY [POLICY ...]
A policy may be suffixed "@letter+pendigits" to run on those sets only.
"""
import gzip
import json
import os
import random
import subprocess
import sys

SETS = ["letter", "pendigits", "optdigits"]
VW_BEST = {"letter": 0.754, "pendigits": 0.321, "optdigits": 0.169}
UNIFORM = {"letter": 0.962, "pendigits": 0.900, "optdigits": 0.900}


def orders(data_dir, out_dir, name):
    with gzip.open(os.path.join(data_dir, name + ".vw.gz"), "rt") as f:
        lines = f.read().splitlines(True)
    paths = []
    for seed in (None, 1, 2):
        rows = list(lines)
        if seed is not None:
            random.Random(seed).shuffle(rows)
        p = os.path.join(out_dir, "%s.%s.vw" % (name, seed or 0))
        with open(p, "w") as f:
            f.writelines(rows)
        paths.append(p)
    return paths


def main():
    lift, data_dir, out_dir, policies = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    files = {s: orders(data_dir, out_dir, s) for s in SETS}
    print("| policy | " + " | ".join("%s loss (VW best %.3f)" % (s, VW_BEST[s]) for s in SETS) + " | decisions/s (mean) |")
    print("|---|" + "---|" * (len(SETS) + 1))
    for spec in policies:
        policy, _, only = spec.partition("@")
        sets = only.split("+") if only else SETS
        cells, rates = [], []
        for s in SETS:
            if s not in sets:
                cells.append("not run")
                continue
            losses = []
            for p in files[s]:
                out = subprocess.run([lift, "bandit", "simulate", "--data", p, "--policy", policy],
                                     check=True, capture_output=True, text=True).stdout
                r = json.loads(out)
                losses.append(r["loss"])
                rates.append(r["decisions_per_sec"])
            mean = sum(losses) / len(losses)
            mark = "ok" if mean <= VW_BEST[s] else "WORSE"
            cells.append("%.4f (%.2fx VW, %s) [%s]" % (mean, mean / VW_BEST[s], mark,
                                                     " ".join("%.4f" % l for l in losses)))
        print("| `%s` | %s | %.0f |" % (policy, " | ".join(cells), sum(rates) / len(rates)))
        sys.stdout.flush()
    print("\nuniform random: " + ", ".join("%s %.3f" % (s, UNIFORM[s]) for s in SETS))


if __name__ == "__main__":
    main()
