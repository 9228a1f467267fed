#!/usr/bin/env python3
"""The study's Markdown tables, from the files `prunelab aggregate` wrote.

    python3 experiments/study/tables.py results/study-mnist-lenet300 results/study-fashion-lenet300 ...

Each folder holds curve.csv (paired differences against han) and curve-vs-magnitude.csv
(against GMP, `magnitude`), copied by experiments/study/run.sh. Every number printed is read
from those files and only formatted here (accuracy in percent, differences in percentage
points): the means, intervals and verdicts are PruneLab's (Student-t 95% intervals over seeds,
paired by seed; verdict better/worse when the interval of the difference excludes 0).
"""
import csv
import os
import sys

NAMES = {"magnitude": "GMP (magnitude)", "snip/init": "SNIP at init", "random": "random"}


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def pct(x, signed=False):
    if x == "" or x is None:
        return "—"
    return f"{float(x) * 100:+.2f}" if signed else f"{float(x) * 100:.2f}"


def cell_delta(r):
    if r["delta_test_accuracy"] == "":
        return "—"
    ci = f" [{pct(r['delta_ci_low'], True)}, {pct(r['delta_ci_high'], True)}]" if r["delta_ci_low"] != "" else ""
    v = r["verdict"]
    mark = {"better": " **better**", "worse": " *worse*", "tie": " tie"}.get(v, "")
    return f"{pct(r['delta_test_accuracy'], True)}{ci}{mark}"


def table(folder):
    han = rows(os.path.join(folder, "curve.csv"))
    gmp_path = os.path.join(folder, "curve-vs-magnitude.csv")
    gmp = rows(gmp_path) if os.path.exists(gmp_path) else []
    labels = []
    for r in han:
        if r["label"] not in labels:
            labels.append(r["label"])
    sparsities = sorted({r["requested_sparsity"] for r in han}, key=float)
    at = {(r["label"], r["requested_sparsity"]): r for r in han}
    at_gmp = {(r["label"], r["requested_sparsity"]): r for r in gmp}
    head = "| method | " + " | ".join(f"{float(s) * 100:g}%" for s in sparsities) + " |\n"
    rule = "|:--|" + "--:|" * len(sparsities) + "\n"
    out = f"### {os.path.basename(folder)}\n\n"
    out += "Test accuracy (%), mean over seeds [95% t-interval] (n seeds, mean achieved sparsity of the whole net in %).\n\n"
    out += head + rule
    for label in labels:
        cells = []
        for s in sparsities:
            r = at.get((label, s))
            cells.append("—" if r is None else f"{pct(r['test_accuracy'])} [{pct(r['test_accuracy_ci_low'])}, {pct(r['test_accuracy_ci_high'])}] (n={r['n']}, {pct(r['sparsity'])})")
        out += f"| {NAMES.get(label, label)} | " + " | ".join(cells) + " |\n"
    for name, src, base in [("Han", at, "han"), ("GMP", at_gmp, "magnitude")]:
        if not src:
            continue
        out += f"\nPaired difference from {name} on the same seeds (percentage points) [95% t-interval], verdict:\n\n" + head + rule
        for label in labels:
            if label == base:
                continue
            out += f"| {NAMES.get(label, label)} | " + " | ".join(
                cell_delta(src[(label, s)]) if (label, s) in src else "—" for s in sparsities) + " |\n"
    out += "\nTraining cost per run, mean over seeds: training GFLOP / wall seconds.\n\n" + head + rule
    for label in labels:
        cells = []
        for s in sparsities:
            r = at.get((label, s))
            cells.append("—" if r is None else f"{float(r['train_flops']) / 1e9:.0f} / {float(r['wall_seconds']):.1f}")
        out += f"| {NAMES.get(label, label)} | " + " | ".join(cells) + " |\n"
    return out, [(label, s, at[(label, s)].get("verdict", ""), at_gmp.get((label, s), {}).get("verdict", ""))
                 for label in labels for s in sparsities if (label, s) in at]


def main(folders):
    tally = {}
    text = ""
    for f in folders:
        t, cells = table(f)
        text += t + "\n"
        for label, _, vh, vg in cells:
            d = tally.setdefault(label, {"han": {}, "gmp": {}})
            for k, v in (("han", vh), ("gmp", vg)):
                if v:
                    d[k][v] = d[k].get(v, 0) + 1
    out = "### Wins, ties and losses over every (model, data, sparsity) cell\n\n"
    out += "| method | vs Han: better / tie / worse | vs GMP: better / tie / worse |\n|:--|--:|--:|\n"
    for label, d in tally.items():
        f = lambda m: " / ".join(str(m.get(k, 0)) for k in ("better", "tie", "worse")) if m else "—"
        out += f"| {NAMES.get(label, label)} | {f(d['han']) if label != 'han' else 'baseline'} | {f(d['gmp']) if label != 'magnitude' else 'baseline'} |\n"
    print(out + "\n" + text, end="")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
