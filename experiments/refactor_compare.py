#!/usr/bin/env python3
"""Checks that a refactor changed no result: compares two output folders written by
experiments/refactor_check.sh (before and after), run folder by run folder.

    python3 experiments/refactor_compare.py BEFORE_DIR AFTER_DIR

Per run folder present in BEFORE: every summary.csv column of BEFORE except the timing columns
and `method` (whose vocabulary changed: see RENAMED) must hold the same text in AFTER; every
dataset of model.h5 (and model-compact.h5) must be equal array for array (h5py); metrics.csv
row for row in BEFORE's columns but its wall seconds; layers.csv, rounds.csv, events.csv, prune-curve.csv and layers-compact.csv must be identical
byte for byte. Compare folders are matched arm by arm (`gmp` is now `magnitude`); arms only
AFTER has are listed, not compared. Exits 1 on any difference.
"""
import csv
import os
import sys

import h5py
import numpy as np

TIMING = {"wall_seconds", "infer_ms_b1", "infer_ms_b128", "compact_infer_ms_b1", "compact_infer_ms_b128",
          "checkpoints", "checkpoint_seconds", "train_seconds", "eval_seconds", "analysis_seconds",
          "tensorboard_seconds"}
METRICS_TIMING = {"wall_seconds"}  # metrics.csv's timing column; every other column must match
RENAMED = {"gmp": "magnitude"}  # compare arm names, old -> new
BYTE_EQUAL = ["layers.csv", "rounds.csv", "events.csv", "prune-curve.csv", "layers-compact.csv",
              "trajectories.csv", "layer-trajectories.csv"]


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def h5_arrays(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def compare_run(before, after, problems):
    checked = []
    a, b = rows(os.path.join(before, "summary.csv"))[0], rows(os.path.join(after, "summary.csv"))[0]
    for k, v in a.items():
        if k in TIMING or k == "method":
            continue
        if k == "name":  # a compare run is named after its arm, and arms were renamed
            for old, new in RENAMED.items():
                v = v[: -len(old)] + new if v.endswith("-" + old) else v
        if b.get(k) != v:
            problems.append(f"{after}/summary.csv: {k} = {b.get(k)!r}, before {v!r}")
    checked.append("summary.csv")
    for name in ["model.h5", "model-compact.h5"]:
        pa, pb = os.path.join(before, name), os.path.join(after, name)
        if not os.path.exists(pa):
            continue
        da, db = h5_arrays(pa), h5_arrays(pb)
        if sorted(da) != sorted(db):
            problems.append(f"{pb}: datasets {sorted(db)}, before {sorted(da)}")
        for k in da:
            if k in db and not (da[k].shape == db[k].shape and np.array_equal(da[k], db[k])):
                problems.append(f"{pb}: {k} differs")
        checked.append(name)
    pa, pb = os.path.join(before, "metrics.csv"), os.path.join(after, "metrics.csv")
    if os.path.exists(pa):
        ra, rb = rows(pa), rows(pb) if os.path.exists(pb) else []
        keep = [k for k in (ra[0] if ra else {}) if k not in METRICS_TIMING]
        if len(ra) != len(rb) or [[r.get(k) for k in keep] for r in ra] != [[r.get(k) for k in keep] for r in rb]:
            problems.append(f"{pb}: differs from before (its {', '.join(sorted(METRICS_TIMING))} aside)")
        checked.append("metrics.csv")
    for name in BYTE_EQUAL:
        pa, pb = os.path.join(before, name), os.path.join(after, name)
        if os.path.exists(pa):
            if not os.path.exists(pb) or open(pa, "rb").read() != open(pb, "rb").read():
                problems.append(f"{pb}: differs from before")
            checked.append(name)
    return checked


def main(before_root, after_root):
    problems, lines = [], []
    for name in sorted(os.listdir(before_root)):
        before = os.path.join(before_root, name)
        if not os.path.isdir(before):
            continue
        after = os.path.join(after_root, name)
        if os.path.exists(os.path.join(before, "summary.csv")):
            checked = compare_run(before, after, problems)
            lines.append(f"{name}: {', '.join(checked)}")
            continue
        # a compare folder: one run folder per arm and seed
        for sub in sorted(os.listdir(before)):
            if not os.path.isdir(os.path.join(before, sub)):
                continue
            arm, _, seed = sub.rpartition("-seed")
            new = f"{RENAMED.get(arm, arm)}-seed{seed}"
            checked = compare_run(os.path.join(before, sub), os.path.join(after, new), problems)
            lines.append(f"{name}/{sub} -> {new}: {', '.join(checked)}")
        extra = sorted(set(os.listdir(after)) - {f"{RENAMED.get(s.rpartition('-seed')[0], s.rpartition('-seed')[0])}-seed{s.rpartition('-seed')[2]}" for s in os.listdir(before)})
        extra = [e for e in extra if os.path.isdir(os.path.join(after, e))]
        if extra:
            lines.append(f"{name}: arms only after (not compared): {', '.join(extra)}")
    print("\n".join(lines))
    if problems:
        print(f"\n{len(problems)} differences:")
        print("\n".join(problems))
        return 1
    print("\nno differences")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
