"""Overhead of trajectory recording and of the dynamic criteria's trajectory statistics.

Runs, alternating and repeated, the same config four ways and compares median wall times:
  dense             no pruning, no recording
  dense+recording   the same with trajectory export at its default settings
  gmp               gradual magnitude pruning (no trajectory statistics)
  linear            the same schedule with the `linear` criterion (statistics every stats_every)
Writes a Markdown table (--out, default runs/bench-recording.md).

    python3 experiments/bench_recording.py --repeats 3 --epochs 5
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--config", default="configs/mnist-lenet300-compare.json")
ap.add_argument("--prunelab", default=".build/release/prunelab")
ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--epochs", type=int, default=5)
ap.add_argument("--out", default="runs/bench-recording.md")
a = ap.parse_args()

variants = {
    "dense": ["--set", "pruning.method=dense"],
    "dense+recording": ["--set", "pruning.method=dense", "--set", "recording.enabled=true"],
    "gmp": ["--set", "pruning.method=dynamic", "--set", "pruning.dynamic.criterion=magnitude"],
    "linear": ["--set", "pruning.method=dynamic", "--set", "pruning.dynamic.criterion=linear"],
}
common = ["--set", f"training.epochs={a.epochs}", "--set", "pruning.dynamic.cubic.start=\"1ep\"",
          "--set", f"pruning.dynamic.cubic.end=\"{max(2, a.epochs - 1)}ep\"", "--no-progress", "--force"]
times = {k: [] for k in variants}
with tempfile.TemporaryDirectory() as tmp:
    for r in range(a.repeats):
        for name, args in variants.items():
            out = os.path.join(tmp, name.replace("+", "_"))
            cmd = [a.prunelab, "run", a.config, "--out", out] + common + args
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(out, "summary.csv")) as f:
                row = next(csv.DictReader(f))
            times[name].append(float(row["wall_seconds"]))
            print(f"repeat {r + 1} {name}: {times[name][-1]:.2f} s", file=sys.stderr)
med = {k: statistics.median(v) for k, v in times.items()}
lines = [
    "# Overhead of trajectory recording and statistics",
    "",
    f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; `{' '.join(['python3'] + sys.argv)}`; "
    f"{a.epochs} epochs of `{a.config}` per run, {a.repeats} repeats, variants alternating; "
    f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}.",
    "",
    "| variant | median wall s | runs | overhead |",
    "| --- | ---: | --- | ---: |",
]
ref = {"dense": None, "dense+recording": "dense", "gmp": None, "linear": "gmp"}
for k, v in times.items():
    over = f"{100 * (med[k] / med[ref[k]] - 1):+.1f}% vs {ref[k]}" if ref[k] else ""
    lines.append(f"| {k} | {med[k]:.2f} | {', '.join(f'{x:.2f}' for x in v)} | {over} |")
lines += ["", "wall_seconds from each run's summary.csv (training and final evaluation, no data loading)."]
text = "\n".join(lines) + "\n"
print(text)
os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
with open(a.out, "w") as f:
    f.write(text)
