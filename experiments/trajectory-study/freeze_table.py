"""Extrapolate-and-freeze tables (see freeze.sh).

  python3 freeze_table.py plan SWEEP            # lines "name target steps seed" of the equal-FLOPs runs
  python3 freeze_table.py table SWEEP EQUAL     # Markdown: accuracy, FLOPs and seconds per arm, paired intervals
"""
import csv
import glob
import json
import os
import statistics
import sys

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def runs(folder):
    out = {}
    for s in glob.glob(os.path.join(folder, "*", "summary.csv")):
        d = os.path.dirname(s)
        row = next(csv.DictReader(open(s)))
        cfg = json.load(open(os.path.join(d, "config.json")))
        target = cfg["pruning"].get("target_sparsity", 0.0)
        freeze = cfg["pruning"].get("dynamic", {}).get("freeze", {}).get("enabled", False)
        if row["method"] == "dense":
            arm = "plain"
        elif target > 0:
            arm = "gmp-0.9+freeze" if freeze else "gmp-0.9"
        else:
            arm = "freeze"
        out[(arm, int(row["seed"]))] = row
    return out


def plan(sweep):
    r = runs(sweep)
    for (arm, seed), row in sorted(r.items()):
        if arm not in ("freeze", "gmp-0.9+freeze"):
            continue
        ref = r[("plain" if arm == "freeze" else "gmp-0.9", seed)]
        steps = round(int(ref["steps"]) * int(row["train_flops"]) / int(ref["train_flops"]))
        name = "plain-at-freeze-flops" if arm == "freeze" else "gmp-0.9-at-freeze-flops"
        print(name, "0.0" if arm == "freeze" else "0.9", steps, seed)


def ci(xs):
    m = statistics.mean(xs)
    if len(xs) < 2:
        return f"{m:+.4f}"
    h = T975[len(xs) - 1] * statistics.stdev(xs) / len(xs) ** 0.5
    return f"{m:+.4f} [{m - h:+.4f}, {m + h:+.4f}]"


def table(sweep, equal):
    r = runs(sweep)
    for s in glob.glob(os.path.join(equal, "*", "summary.csv")):
        row = next(csv.DictReader(open(s)))
        name = os.path.basename(os.path.dirname(s)).rsplit("-seed", 1)[0]
        r[(name, int(row["seed"]))] = row
    arms = ["plain", "freeze", "plain-at-freeze-flops", "gmp-0.9", "gmp-0.9+freeze", "gmp-0.9-at-freeze-flops"]
    seeds = sorted({s for (_, s) in r})
    print("| arm | seeds | test accuracy | sparsity | frozen weights | train GFLOP | FLOPs ÷ plain | wall s | seconds ÷ plain |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for a in arms:
        rows = [(s, r[(a, s)]) for s in seeds if (a, s) in r]
        if not rows:
            continue
        f = lambda k: statistics.mean(float(x[k]) for _, x in rows)
        fl = statistics.mean(float(x["train_flops"]) / float(r[("plain", s)]["train_flops"]) for s, x in rows)
        ws = statistics.mean(float(x["wall_seconds"]) / float(r[("plain", s)]["wall_seconds"]) for s, x in rows)
        frozen = statistics.mean(float(x.get("frozen_weights") or 0) for _, x in rows)
        print(f"| {a} | {len(rows)} | {f('test_accuracy'):.4f} | {f('sparsity'):.3f} | {frozen:.0f} | {f('train_flops') / 1e9:.1f} "
              f"| {fl:.3f}x | {f('wall_seconds'):.1f} | {ws:.2f}x |")
    print()
    print("Paired differences in test accuracy over seeds, mean [95% CI]:")
    print()
    for a, b in [("freeze", "plain"), ("freeze", "plain-at-freeze-flops"), ("gmp-0.9+freeze", "gmp-0.9"),
                 ("gmp-0.9+freeze", "gmp-0.9-at-freeze-flops")]:
        d = [float(r[(a, s)]["test_accuracy"]) - float(r[(b, s)]["test_accuracy"]) for s in seeds if (a, s) in r and (b, s) in r]
        if d:
            print(f"- {a} − {b}: {ci(d)} (n = {len(d)})")


if __name__ == "__main__":
    {"plan": lambda: plan(sys.argv[2]), "table": lambda: table(sys.argv[2], sys.argv[3])}[sys.argv[1]]()
