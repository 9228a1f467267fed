"""Wall-clock table of `prunelab compare` folders: per method, mean wall seconds over seeds, the ratio to
the dense run and to Han's, FLOP ratio, sparsity and test accuracy, for one or more folders side by side
(e.g. the same compare with `training.kernel` auto and dense).

    python3 experiments/bench_e2e_table.py --label auto=runs/cmp --label dense-kernel=runs/cmp-densekernel \
        --command "prunelab compare configs/mnist-lenet300-compare.json --seeds 1,2,3 --out runs/cmp" \
        --out runs/e2e-lenet300.md

Reads each folder's comparison.csv (accuracy, sparsity, FLOPs) and timing.csv (wall_seconds, which
covers training with its pruning, statistics and recording plus the per-epoch test evaluations and the
final train/test evaluation, and excludes writing model files and the prune curve), and the BLAS kernel
from each run's run.json. `train s` is the runs' `train_seconds` (summary.csv: training with its pruning,
statistics, recording and checkpoints, without any evaluation). A label may name several folders,
`LABEL=DIR1,DIR2,...` (e.g. one compare per seed, so that each seed's arms run back to back and a machine
whose speed drifts over minutes slows all arms of a seed alike); their seeds are pooled. Writes the
Markdown table to --out and a CSV beside it.
"""
import argparse
import csv
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchcommon import cpu_description as cpu_model  # noqa: E402


def read(folders):
    rows, cores = {}, set()
    for folder in folders.split(","):
        r, c = read_one(folder)
        for m, seeds in r.items():
            for seed, row in seeds.items():
                if seed in rows.get(m, {}):
                    sys.exit(f"bench_e2e_table.py: {folder}: {m} seed {seed} is also in another folder of the label")
                rows.setdefault(m, {})[seed] = row
        cores |= c
    return rows, cores


def read_one(folder):
    rows = {}
    with open(os.path.join(folder, "comparison.csv")) as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["method"], {})[r["seed"]] = dict(r)
    with open(os.path.join(folder, "timing.csv")) as f:
        for r in csv.DictReader(f):
            rows[r["method"]][r["seed"]]["wall_seconds"] = r["wall_seconds"]
    for m, seeds in rows.items():
        for seed, row in seeds.items():
            with open(os.path.join(folder, f"{m}-seed{seed}", "summary.csv")) as f:
                row["train_seconds"] = next(csv.DictReader(f))["train_seconds"]
    cores = set()
    for name in os.listdir(folder):
        p = os.path.join(folder, name, "run.json")
        if os.path.exists(p):
            with open(p) as f:
                cores.add(json.load(f).get("blas_core", "?"))
    return rows, cores


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--label", action="append", required=True, help="LABEL=FOLDER (repeatable)")
    p.add_argument("--command", action="append", default=[], help="the command that made a folder (repeatable)")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    lines, out_rows = [], []
    for item in a.label:
        label, folder = item.split("=", 1)
        rows, cores = read(folder)
        mean = lambda m, k: statistics.mean(float(r[k]) for r in rows[m].values() if r.get(k) not in (None, ""))
        dense, han = mean("dense", "wall_seconds"), (mean("han", "wall_seconds") if "han" in rows else None)
        lines += [f"## {label} (`{folder}`; BLAS kernel {', '.join(sorted(cores))}; CPU {cpu_model()})", "",
                  "| method | seeds | wall s (mean) | wall s per seed | vs dense | vs Han | train s (mean) "
                  "| train s vs dense | train s vs Han | train FLOPs vs dense | train FLOPs vs Han | sparsity | test accuracy (mean) |",
                  "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        tdense = mean("dense", "train_seconds")
        than = mean("han", "train_seconds") if "han" in rows else None
        fdense = mean("dense", "train_flops")
        fhan = mean("han", "train_flops") if "han" in rows else None
        for m in rows:
            w = mean(m, "wall_seconds")
            per = ", ".join(f"{float(r['wall_seconds']):.2f}" for _, r in sorted(rows[m].items()))
            fl = mean(m, "train_flops") / fdense
            fl_han = f"{mean(m, 'train_flops') / fhan:.3f}" if fhan else "n/a"
            vs_han = f"{w / han:.2f}x" if han else "n/a"
            t = mean(m, "train_seconds")
            t_han = f"{t / than:.2f}x" if than else "n/a"
            lines.append(f"| {m} | {len(rows[m])} | {w:.2f} | {per} | {w / dense:.2f}x | {vs_han} | {t:.2f} "
                         f"| {t / tdense:.2f}x | {t_han} | {fl:.3f} | {fl_han} "
                         f"| {mean(m, 'sparsity'):.3f} | {mean(m, 'test_accuracy'):.4f} |")
            out_rows.append([label, folder, m, len(rows[m]), f"{w:.4f}", per.replace(", ", ";"), f"{w / dense:.4f}",
                             f"{w / han:.4f}" if han else "", f"{t:.4f}", f"{t / tdense:.4f}",
                             f"{t / than:.4f}" if than else "", f"{fl:.4f}",
                             f"{mean(m, 'train_flops') / fhan:.4f}" if fhan else "", f"{mean(m, 'sparsity'):.4f}",
                             f"{mean(m, 'test_accuracy'):.4f}", ";".join(sorted(cores)), cpu_model()])
        lines.append("")
    if a.command:
        lines += ["Commands:", ""] + [f"- `{c}`" for c in a.command] + [""]
    lines.append("wall s = `wall_seconds` of timing.csv: training with its pruning checks, trajectory statistics and "
                 "recording, plus the per-epoch test evaluations and the final train/test evaluation; model files "
                 "and the prune curve are excluded. train FLOPs vs dense / vs Han = the method's mean `train_flops` over "
                 "the dense arm's / the Han arm's (Han's includes its retraining epochs).")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    with open(os.path.splitext(a.out)[0] + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "folder", "method", "seeds", "wall_seconds_mean", "wall_seconds_per_seed", "vs_dense",
                    "vs_han", "train_seconds_mean", "train_vs_dense", "train_vs_han", "train_flops_vs_dense", "train_flops_vs_han", "sparsity", "test_accuracy", "blas_core", "cpu"])
        w.writerows(out_rows)


if __name__ == "__main__":
    main()
