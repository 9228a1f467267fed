#!/usr/bin/env python3
"""Markdown tables of experiments/vgg_catvnoncat.sh's run folders, and a copy of their small
files (no model files) into results/vgg-catvnoncat/.

    python3 experiments/vgg_summary.py RUNS_DIR [RESULTS_DIR]   (default results/vgg-catvnoncat)
"""
import csv, os, shutil, sys

runs = sys.argv[1]
dest = sys.argv[2] if len(sys.argv) > 2 else "results/vgg-catvnoncat"
KEEP = ["config.json", "summary.csv", "layers.csv", "prune-curve.csv", "footprint.csv", "metrics.csv"]


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def curve_table(path, pick):
    by = {}
    for r in rows(path):
        by.setdefault(r["sparsity"], {})[r["scope"]] = float(r["test_accuracy"])
    scopes = ["layer", "layer+bn", "global", "global+bn"]
    out = ["| sparsity | " + " | ".join(scopes) + " |", "| --- |" + " --- |" * len(scopes)]
    for s, d in by.items():
        if pick(float(s)):
            out.append(f"| {float(s):.4g} | " + " | ".join(f"{d[k]:.2f}" if k in d else "—" for k in scopes) + " |")
    return "\n".join(out)


def footprint_table(paths):
    out = ["| scope | sparsity | test accuracy (no recalibration) | model.h5 bytes | CSR bytes | compacted bytes | compacted weights | quantized bytes |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for p in paths:
        for r in rows(p):
            out.append(f"| {r['scope']} | {float(r['sparsity']):.2f} | {float(r['test_accuracy']):.2f} | {r['dense_bytes']} | "
                       f"{r['csr_bytes']} | {r['compact_bytes']} | {r['compact_weights']} | (quantize branch) |")
    return "\n".join(out)


names = sorted(d for d in os.listdir(runs) if os.path.isdir(os.path.join(runs, d)))
summaries = {n: rows(os.path.join(runs, n, "summary.csv"))[0] for n in names}
print("| run | test accuracy | train accuracy | test loss | wall s |\n| --- | --- | --- | --- | --- |")
for n, s in summaries.items():
    print(f"| {n} | {s['test_accuracy']} | {float(s['train_accuracy']):.4f} | {float(s['test_loss']):.6f} | {float(s['wall_seconds']):.0f} |")
print("\n### 0-99%\n")
print(curve_table(os.path.join(runs, "full", "prune-curve.csv"), lambda s: round(s * 100) % 5 == 0 or s >= 0.95))
for z in ["zoom80-90", "zoom90-95"]:
    print(f"\n### {z}\n")
    print(curve_table(os.path.join(runs, z, "prune-curve.csv"), lambda s: round(s * 1000) % 10 == 0 or round(s * 10000) % 50 == 0))
print("\n### footprint\n")
print(footprint_table([os.path.join(runs, n, "footprint.csv") for n in names if os.path.exists(os.path.join(runs, n, "footprint.csv"))]))
for n in names:
    os.makedirs(os.path.join(dest, n), exist_ok=True)
    for f in KEEP:
        src = os.path.join(runs, n, f)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(dest, n, f))
