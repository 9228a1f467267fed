#!/usr/bin/env python3
"""The adaptive schedule beside Han at the sparsity it reached, LeNet-300-100 on MNIST.

    python3 experiments/adaptive_vs_han.py [BIN] [OUT]   # default .build/release/prunelab, runs/adaptive-vs-han

1. `prunelab compare configs/mnist-lenet300-compare.json --methods linear/adaptive,stalled/adaptive
   --seeds 1,2,3`: adaptive has no target; each check prunes what the criterion calls finished.
2. For each adaptive arm, Han told that arm's per-layer sparsity (mean over the three seeds,
   from each run's layers.csv): `prunelab compare ... --methods han --set pruning.layer_sparsity.L=s`.
3. Prints a Markdown table: accuracy, sparsity and training FLOPs per arm, and the
   paired difference (adaptive - Han on the same seed) with its 95% t-interval, t(0.975, 2) = 4.303.
"""
import csv
import os
import statistics
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/release/prunelab")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "runs/adaptive-vs-han")
CONFIG = os.path.join(ROOT, "configs/mnist-lenet300-compare.json")
SEEDS = [1, 2, 3]
THREADS = int(os.environ.get("THREADS", "1"))  # per run (1: it ran beside the study's sweeps)
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776}


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def compare(out, methods, sets=()):
    cmd = [BIN, "compare", CONFIG, "--out", out, "--seeds", ",".join(map(str, SEEDS)), "--methods", methods,
           "--no-progress", "--set", f"training.threads={THREADS}"]
    for s in sets:
        cmd += ["--set", s]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def run_dirs(out, arm):
    return [os.path.join(out, f"{arm.replace('/', '-')}-seed{s}") for s in SEEDS]


def summary(d):
    return rows(os.path.join(d, "summary.csv"))[0]


def main():
    compare(os.path.join(OUT, "adaptive"), "linear/adaptive,stalled/adaptive")
    lines = ["| arm | seeds | test accuracy (%) | sparsity (%) | fc1 / fc2 / fc3 sparsity (%) | training GFLOP | "
             "Δ accuracy vs Han at that sparsity (points) [95% CI] |", "|:--|--:|--:|--:|--:|--:|--:|"]
    for arm in ["linear/adaptive", "stalled/adaptive"]:
        dirs = run_dirs(os.path.join(OUT, "adaptive"), arm)
        layers = {}
        for d in dirs:
            for r in rows(os.path.join(d, "layers.csv")):
                layers.setdefault(r["layer"], []).append(float(r["sparsity"]))
        target = {k: round(statistics.mean(v), 4) for k, v in layers.items()}
        han_out = os.path.join(OUT, f"han-at-{arm.split('/')[0]}")
        compare(han_out, "han", [f"pruning.layer_sparsity.{k}={v}" for k, v in target.items()])
        for name, ds in [(arm, dirs), (f"han at {arm}'s layer sparsities", run_dirs(han_out, "han"))]:
            s = [summary(d) for d in ds]
            acc = [float(x["test_accuracy"]) for x in s]
            per_layer = {}
            for d in ds:
                for r in rows(os.path.join(d, "layers.csv")):
                    per_layer.setdefault(r["layer"], []).append(float(r["sparsity"]))
            cells = [name, ",".join(map(str, SEEDS)),
                     f"{statistics.mean(acc) * 100:.2f} ± {statistics.stdev(acc) * 100:.2f}",
                     f"{statistics.mean(float(x['sparsity']) for x in s) * 100:.2f}",
                     " / ".join(f"{statistics.mean(v) * 100:.1f}" for v in per_layer.values()),
                     f"{statistics.mean(float(x['train_flops']) for x in s) / 1e9:.0f}"]
            if name == arm:
                mine = acc
                cells.append("")
            else:
                d = [a - b for a, b in zip(mine, acc)]
                half = T975[len(d) - 1] * statistics.stdev(d) / len(d) ** 0.5
                m = statistics.mean(d)
                lines.append("| " + " | ".join(cells) + f" | {m * 100:+.2f} [{(m - half) * 100:+.2f}, {(m + half) * 100:+.2f}] |")
                continue
            lines.append("| " + " | ".join(cells) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
