"""The pruned-training speed table from the folders experiments/speed_targets.sh wrote.

    python3 experiments/speed_targets_table.py OUT      (writes OUT/targets.md and OUT/targets.csv, prints the first)

Ratios are wall seconds (summary.csv `wall_seconds`: training with its pruning and statistics, the
per-epoch test evaluations and the final evaluation) of a run over the dense run of the same seed,
then the median over seeds; fixed-mask ratios are median epoch seconds from the benchmarks' CSVs.
Accuracies are test accuracies, mean over seeds. Peak memory is /usr/bin/time's maximum resident
set size of the process.
"""
import csv
import glob
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchcommon import cpu_description  # noqa: E402


def summary(folder):
    with open(os.path.join(folder, "summary.csv")) as f:
        return next(csv.DictReader(f))


def rss_mb(path):
    with open(path) as f:
        return int(f.read().split()[-1]) / 1024


def epoch_medians(path):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            rows.setdefault((r["tool"], float(r["sparsity"])), []).append(float(r["epoch_seconds"]))
    return {k: statistics.median(v) for k, v in rows.items()}


def seeds_of(out, pattern):
    return sorted(glob.glob(os.path.join(out, pattern)))


def compare_rows(out, model, arms):
    """Per arm: wall ratio to the dense arm per seed, mean accuracy, sparsity, FLOP ratio."""
    per = {a: [] for a in arms}
    for seed_dir in seeds_of(out, f"{model}/seed*"):
        s = seed_dir.rsplit("seed", 1)[1]
        runs = {a: summary(os.path.join(seed_dir, f"{a}-seed{s}")) for a in arms}
        dense = float(runs["dense"]["wall_seconds"])
        for a in arms:
            r = runs[a]
            per[a].append((float(r["wall_seconds"]), float(r["wall_seconds"]) / dense, float(r["test_accuracy"]),
                           float(r["sparsity"]), float(r["train_flops"]) / float(r["dense_train_flops"])))
    return per


def run_rows(out, name):
    rows = []
    for d in seeds_of(out, f"runs/{name}-seed*"):
        if os.path.isdir(d):
            r = summary(d)
            rows.append(dict(seed=r["seed"], wall=float(r["wall_seconds"]), acc=float(r["test_accuracy"]),
                             flops=float(r["train_flops"]), sparsity=float(r["sparsity"]), rss=rss_mb(d + ".rss")))
    return rows


def fmt_ratios(values):
    return f"**{statistics.median(values):.2f}x** ({', '.join(f'{v:.2f}' for v in values)})"


def write_csv(out):
    """Every run behind the tables, one row each: group, arm, seed, wall seconds, ratio to the
    dense run of the group and seed, test accuracy, sparsity, training FLOPs, peak RSS (runs only)."""
    rows = []
    for model, arms in [("lenet300", ["dense", "han", "magnitude", "linear"]), ("lenet5", ["dense", "magnitude", "linear"])]:
        for seed_dir in seeds_of(out, f"{model}/seed*"):
            s = seed_dir.rsplit("seed", 1)[1]
            runs = {a: summary(os.path.join(seed_dir, f"{a}-seed{s}")) for a in arms}
            for a in arms:
                r = runs[a]
                rows.append([f"{model}-compare", a, s, r["wall_seconds"], float(r["wall_seconds"]) / float(runs["dense"]["wall_seconds"]),
                             r["test_accuracy"], r["sparsity"], r["train_flops"], ""])
    for dense_name, names in [("lenet5-dense", ["lenet5-dense", "lenet5-fpgm", "lenet5-fpgm-compact"]),
                              ("lenet300-dense", ["lenet300-dense", "lenet300-units"])]:
        dense = {r["seed"]: r for r in run_rows(out, dense_name)}
        for n in names:
            for r in run_rows(out, n):
                rows.append(["runs", n, r["seed"], r["wall"], r["wall"] / dense[r["seed"]]["wall"], r["acc"], r["sparsity"],
                             int(r["flops"]), f"{r['rss']:.1f}"])
    with open(os.path.join(out, "targets.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["group", "arm", "seed", "wall_seconds", "wall_vs_dense", "test_accuracy", "sparsity", "train_flops", "peak_rss_mib"])
        w.writerows(rows)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "runs/speed-targets"
    lines = []
    infos = [json.load(open(p)) for p in glob.glob(os.path.join(out, "*/seed*/*/run.json")) + glob.glob(os.path.join(out, "runs/*/run.json"))]
    info = infos[0] if infos else {}
    commits = sorted({i.get("git_commit", "?")[:7] for i in infos}) or [
        subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()]
    commit = ", ".join(commits)
    lines += [f"# Pruned training speed, {out}", "",
              f"CPU {cpu_description()}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
              f"OpenBLAS kernel as run: {info.get('blas_core', '?')}; build {commit}; "
              f"command `bash experiments/speed_targets.sh {out}`.", ""]

    lines += ["## Fixed-mask epochs (median epoch seconds; ratio = the dense-kernel epoch at that sparsity / the epoch "
              "with `auto`, the kernels training uses)", "",
              "| model | sparsity | PruneLab dense kernel s | PruneLab auto s | auto speed-up | PyTorch masked s | PyTorch / PruneLab auto |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for model, path, torch_tool in [("LeNet-300-100", "bench-sparse.csv", "PyTorch dense"),
                                    ("LeNet-5", "bench-sparse-lenet5.csv", "PyTorch masked")]:
        p = os.path.join(out, path)
        if not os.path.exists(p):
            continue
        m = epoch_medians(p)
        for s in sorted({k[1] for k in m}):
            d, a, t = m.get(("PruneLab dense", s)), m.get(("PruneLab auto", s)), m.get((torch_tool, s))
            if d is None or a is None:
                continue
            tt = f"{t:.3f} | {t / a:.2f}x" if t else "n/a | n/a"
            lines.append(f"| {model} | {s:g} | {d:.3f} | {a:.3f} | {d / a:.2f}x | {tt} |")
    lines.append("")

    for model, arms, title in [("lenet300", ["dense", "han", "magnitude", "linear"], "LeNet-300-100 compare"),
                               ("lenet5", ["dense", "magnitude", "linear"], "LeNet-5 compare, 0.92 sparsity")]:
        per = compare_rows(out, model, arms)
        if not per["dense"]:
            continue
        lines += [f"## {title} (wall seconds per seed, ratio to the same seed's dense run)", "",
                  "| arm | wall s (per seed) | vs dense, median (per seed) | test accuracy (mean) | sparsity | train FLOPs vs dense |",
                  "| --- | --- | --- | ---: | ---: | ---: |"]
        for a in arms:
            v = per[a]
            lines.append(f"| {a} | {', '.join(f'{x[0]:.1f}' for x in v)} | {fmt_ratios([x[1] for x in v])} | "
                         f"{statistics.mean(x[2] for x in v):.4f} | {statistics.mean(x[3] for x in v):.3f} | "
                         f"{statistics.mean(x[4] for x in v):.3f} |")
        lines.append("")

    lines += ["## Structured runs (one process each; ratio to the dense run of the same seed and model)", "",
              "| run | seeds | wall s (per seed) | vs dense, median (per seed) | test accuracy (mean) | train FLOPs | peak RSS MiB (max) |",
              "| --- | ---: | --- | --- | ---: | ---: | ---: |"]
    for dense_name, names in [("lenet5-dense", ["lenet5-dense", "lenet5-fpgm", "lenet5-fpgm-compact"]),
                              ("lenet300-dense", ["lenet300-dense", "lenet300-units"])]:
        dense = {r["seed"]: r for r in run_rows(out, dense_name)}
        for n in names:
            rows = run_rows(out, n)
            if not rows:
                continue
            ratios = [r["wall"] / dense[r["seed"]]["wall"] for r in rows if r["seed"] in dense]
            walls = ", ".join("%.1f" % r["wall"] for r in rows)
            acc = statistics.mean(r["acc"] for r in rows)
            flops = statistics.mean(r["flops"] for r in rows)
            peak = max(r["rss"] for r in rows)
            lines.append(f"| {n} | {len(rows)} | {walls} | {fmt_ratios(ratios)} | {acc:.4f} | {flops:.3e} | {peak:.0f} |")
    fp, fc = run_rows(out, "lenet5-fpgm"), run_rows(out, "lenet5-fpgm-compact")
    if fp and fc:
        diff = statistics.mean(r["acc"] for r in fc) - statistics.mean(r["acc"] for r in fp)
        lines += ["", f"FPGM compacted minus FPGM uncompacted, mean test accuracy: {100 * diff:+.2f} points."]
    lines.append("")

    rss = {os.path.basename(p)[:-4]: rss_mb(p) for p in glob.glob(os.path.join(out, "rss/*.rss"))}
    if rss:
        lines += ["## Peak memory, seed 1, one process each", "", "| run | peak RSS MiB | vs dense |", "| --- | ---: | ---: |"]
        for model in ["lenet300", "lenet5"]:
            d = rss.get(f"{model}-dense")
            for arm in ["dense", "magnitude"]:
                v = rss.get(f"{model}-{arm}")
                if v and d:
                    lines.append(f"| {model} {arm} | {v:.0f} | {v / d:.2f}x |")
        lines.append("")
    write_csv(out)
    text = "\n".join(lines)
    with open(os.path.join(out, "targets.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
