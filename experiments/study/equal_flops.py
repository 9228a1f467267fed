#!/usr/bin/env python3
"""The equal-training-FLOPs view of the study.

Han's pipeline spends 20 dense epochs and 6 rounds x 5 retraining epochs; at equal epochs (50)
an in-training method spends far fewer FLOPs. This script gives the in-training methods Han's
FLOPs instead: E epochs with the cubic ramp stretched to end at 0.6 E (the equal-epochs sweep
ends it at 30 of 50), E solved from the equal-epochs sweep's own counts:

    F(E) = D * (1 + (0.6 E - 1) * a + 0.4 E * f) = mean Han train_flops at that sparsity

where D is a dense epoch's FLOPs, f the last epoch's FLOPs over D (the final density) and a
the mean density of the ramp epochs, both read from the metrics.csv of the equal-epochs
`magnitude` runs (the FLOPs of a schedule do not depend on the seed or the data set).

It writes experiments/study/mnist-lenet300-equal-flops.json (arms han, magnitude, linear;
the han points are the equal-epochs sweep's: same config, so `prunelab sweep` reuses them
once this script has copied them in under the new sweep's folder names; it checks the config
itself too). The FLOP match each run reached is in the aggregate (train_flops).

    python3 experiments/study/equal_flops.py plan   # write the sweep files from runs/study-mnist-lenet300
    python3 experiments/study/equal_flops.py seed BIN DATA  # copy the han points into runs/study-DATA-lenet300-equal-flops
"""
import csv
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
STUDY = os.path.join(ROOT, "experiments", "study")
SPARSITIES = [0.8, 0.9, 0.95, 0.98]
RAMP_END = 0.6  # the ramp ends at 0.6 E, as 30 of 50 in the equal-epochs sweep
# 3 of the equal-epochs sweep's 5 seeds: the 100-143-epoch runs did not fit the session's compute
# beside the rest of the study (2 cores); a longer list here runs more (the han points exist for 5)
SEEDS = [1, 2, 3]


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summary(folder):
    return rows(os.path.join(folder, "summary.csv"))[0]


def solve(sweep_dir, s):
    """Epochs E giving the magnitude arm Han's mean training FLOPs at target sparsity s."""
    han = [float(summary(os.path.join(sweep_dir, d))["train_flops"])
           for d in sorted(os.listdir(sweep_dir)) if d.startswith(f"han-epochs20-target_sparsity{s}-seed")]
    mag = os.path.join(sweep_dir, f"magnitude-epochs50-target_sparsity{s}-seed1")
    if not han or not os.path.exists(os.path.join(mag, "summary.csv")):
        sys.exit(f"equal_flops.py: {sweep_dir}: needs the completed han and magnitude (seed 1) points at sparsity {s}")
    sm = summary(mag)
    dense_epoch = float(sm["dense_train_flops"]) / float(sm["epochs"])
    per_epoch = {}
    for r in rows(os.path.join(mag, "metrics.csv")):
        if r["split"] == "train" and r["metric"] == "loss":
            per_epoch[int(float(r["epoch"]))] = float(r["train_flops"])
    epochs = sorted(per_epoch)
    total = per_epoch[epochs[-1]] / dense_epoch
    f = (per_epoch[epochs[-1]] - per_epoch[epochs[-2]]) / dense_epoch
    # the ramp's epochs and the epochs after it, from the run's own config ("1ep" .. "30ep" of 50)
    cubic = json.load(open(os.path.join(mag, "config.json")))["pruning"]["dynamic"]["cubic"]
    start, end = (int(cubic[k].removesuffix("ep")) for k in ("start", "end"))
    n_ramp, n_final = end - start, int(float(sm["epochs"])) - end
    a = (total - 1 - n_final * f) / n_ramp
    target = sum(han) / len(han) / dense_epoch
    e = (target - 1 + a) / (RAMP_END * a + (1 - RAMP_END) * f)
    return max(50, round(e)), target, total


def plan():
    src = os.path.join(ROOT, "runs", "study-mnist-lenet300")
    budgets = [solve(src, s) for s in SPARSITIES]
    for data in ["mnist"]:  # Fashion-MNIST the same way: add "fashion" (its own han points are seeded by `seed`)
        base = json.load(open(os.path.join(STUDY, f"{data}-lenet300.json")))
        arms = ["han"] * 4 + ["magnitude"] * 4 + ["linear"] * 4
        epochs = [20] * 4 + [b[0] for b in budgets] * 2
        ends = ["30ep"] * 4 + [f"{round(RAMP_END * b[0])}ep" for b in budgets] * 2
        sweep = {
            "base": base["base"],
            "set": {k: v for k, v in base["set"].items() if k != "pruning.dynamic.cubic.end"},
            "axes": {
                "arm": arms, "pruning.target_sparsity": SPARSITIES * 3, "training.epochs": epochs,
                "pruning.dynamic.cubic.end": ends, "seed": SEEDS,
            },
            "zip": [["arm", "pruning.target_sparsity", "training.epochs", "pruning.dynamic.cubic.end"]],
            "slurm": base.get("slurm", {}),
        }
        out = os.path.join(STUDY, f"{data}-lenet300-equal-flops.json")
        with open(out, "w") as fh:
            json.dump(sweep, fh, indent=2)
            fh.write("\n")
        print(out)
    for s, (e, target, total) in zip(SPARSITIES, budgets):
        print(f"sparsity {s}: Han {target:.2f} dense epochs of FLOPs, magnitude at 50 epochs {total:.2f}; equal FLOPs: {e} epochs")


def seed(binary, data):
    """Copy the han points of the equal-epochs sweep into the equal-FLOPs sweep folder."""
    src = os.path.join(ROOT, "runs", f"study-{data}-lenet300")
    dst = os.path.join(ROOT, "runs", f"study-{data}-lenet300-equal-flops")
    sweep = os.path.join(STUDY, f"{data}-lenet300-equal-flops.json")
    listing = subprocess.run([binary, "sweep", sweep, "--out", dst, "--dry-run"], check=True,
                             capture_output=True, text=True).stdout
    os.makedirs(dst, exist_ok=True)
    for line in listing.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or not parts[1].startswith("han-"):
            continue
        values = dict(kv.split("=", 1) for kv in parts[2].split())
        name = f"han-epochs20-target_sparsity{values['pruning.target_sparsity']}-seed{values['seed']}"
        target = os.path.join(dst, parts[1])
        if os.path.exists(target) or not os.path.exists(os.path.join(src, name, "summary.csv")):
            continue
        shutil.copytree(os.path.join(src, name), target)
        print(f"{name} -> {target}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["plan"]:
        plan()
    elif sys.argv[1:2] == ["seed"] and len(sys.argv) == 4:
        seed(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
