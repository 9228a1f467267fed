#!/usr/bin/env python3
"""Cost of trajectory recording: none, the sampled CSV, and trajectories.h5 (every weight).

Runs LeNet-300-100 (configs/mnist-lenet300-compare.json, method dynamic/linear) for a few epochs
with each recording setting and prints a Markdown table of wall seconds (summary.csv), the
relative cost against no recording, and the size of the trajectory files.

    swift build -c release
    python3 experiments/bench_trajectory_store.py --epochs 2 --repeats 1
"""
import argparse, csv, os, shutil, subprocess, tempfile

SETTINGS = [
    ("no recording", ["recording.enabled=false"]),
    ("csv, 100 samples/layer, every 50 steps (default)", ["recording.enabled=true"]),
    ("csv, 100 samples of fc3, every step", ["recording.enabled=true", "recording.every=1it", 'recording.layers=["fc3"]']),
    ("hdf5, all 1,000 weights of fc3, every step",
     ["recording.enabled=true", "recording.every=1it", 'recording.layers=["fc3"]', "recording.format=hdf5"]),
    ("hdf5, all 30,000 weights of fc2, every 10 steps",
     ["recording.enabled=true", "recording.every=10it", 'recording.layers=["fc2"]', "recording.format=hdf5"]),
    ("hdf5, all 235,200 weights of fc1, every 50 steps",
     ["recording.enabled=true", "recording.every=50it", 'recording.layers=["fc1"]', "recording.format=hdf5"]),
]

def run(binary, config, out, sets, epochs):
    args = [binary, "run", config, "--out", out, "--force", "--set", "pruning.method=dynamic",
            "--set", f"training.epochs={epochs}", "--set", "pruning.dynamic.cubic.start=50it",
            "--set", f"pruning.dynamic.cubic.end={max(1, epochs // 2)}ep"]
    for s in sets:
        args += ["--set", s]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    row = next(csv.DictReader(open(os.path.join(out, "summary.csv"))))
    size = sum(os.path.getsize(os.path.join(out, f)) for f in ("trajectories.csv", "layer-trajectories.csv", "trajectories.h5")
               if os.path.exists(os.path.join(out, f)))
    return float(row["wall_seconds"]), int(row["steps"]), size

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--binary", default=".build/release/prunelab")
    ap.add_argument("--config", default="configs/mnist-lenet300-compare.json")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-store-")
    try:
        results = []
        for name, sets in SETTINGS:
            times = []
            for r in range(a.repeats):
                t, steps, size = run(a.binary, a.config, os.path.join(tmp, "run"), sets, a.epochs)
                times.append(t)
            results.append((name, sorted(times)[len(times) // 2], steps, size))
        base = results[0][1]
        print(f"| recording ({a.epochs} epochs, {results[0][2]} steps) | wall s (median of {a.repeats}) | vs none | trajectory files MB |")
        print("| --- | --- | --- | --- |")
        for name, t, steps, size in results:
            print(f"| {name} | {t:.2f} | {t / base:.2f}x | {size / 1e6:.1f} |")
    finally:
        shutil.rmtree(tmp)

if __name__ == "__main__":
    main()
