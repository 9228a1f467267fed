"""Checks prunelab_io on a real compare folder: python3 python/test_prunelab_io.py COMPARE_DIR.

The Swift suite (PythonHelperTests) makes a small compare folder and runs this; every value is
checked against the CSV files read with Python's csv module, an independent reader.
"""

import csv
import os
import sys

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prunelab_io as pl  # noqa: E402


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def check(compare):
    r = pl.load(compare)
    arms = sorted(d for d in os.listdir(compare) if os.path.exists(os.path.join(compare, d, "run.json")))
    assert sorted(r.runs) == [os.path.join(compare, a) for a in arms], r.runs
    assert len(r.summary) == len(arms)
    # dtypes: counts are integers, measurements floats, the vocabulary categorical
    s = r.summary
    for c in ("steps", "total_weights", "nonzero_weights", "train_flops", "dense_bytes", "sparse_bytes"):
        assert str(s[c].dtype) == "Int64", (c, s[c].dtype)
    assert str(s["seed"].dtype) == "UInt64"
    for c in ("test_accuracy", "sparsity", "wall_seconds", "train_seconds", "eval_seconds", "epochs"):
        assert s[c].dtype == "float64", (c, s[c].dtype)
    m = r.metrics
    assert str(m["step"].dtype) == "Int64" and str(m["train_flops"].dtype) == "Int64"
    assert m["value"].dtype == "float64" and m["wall_seconds"].dtype == "float64"
    for c in ("method", "label"):
        kinds = {str(t[c].dtype.categories.tolist()) for t in (s, m, r.layers, r.comparison) if c in t.columns}
        assert len(kinds) == 1, (c, kinds)
    assert set(r.comparison["label"]) == set(s["label"]), "comparison.csv's arms are summary's labels"
    # values equal the CSVs, run by run
    for a in arms:
        folder = os.path.join(compare, a)
        raw = rows(os.path.join(folder, "summary.csv"))[0]
        got = s[s["run"] == a].iloc[0]
        assert int(raw["train_flops"]) == got["train_flops"] and raw["label"] == got["label"]
        assert float(raw["test_accuracy"]) == got["test_accuracy"]
        raw_metrics = rows(os.path.join(folder, "metrics.csv"))
        mine = m[m["run"] == a]
        assert len(mine) == len(raw_metrics)
        assert [int(x["train_flops"]) for x in raw_metrics] == mine["train_flops"].tolist()
        assert [float(x["value"]) for x in raw_metrics] == mine["value"].tolist()
        assert set(mine["label"]) == {raw["label"]}
    # a single run folder and a sweep-like parent folder load the same runs
    one = pl.load(os.path.join(compare, arms[0]))
    assert one.runs == [os.path.join(compare, arms[0])] and len(one.summary) == 1
    parent = pl.load(os.path.dirname(compare.rstrip("/")))
    assert len(parent.summary) >= len(arms)
    print("ok", len(arms), "runs", len(m), "metrics rows")


if __name__ == "__main__":
    check(sys.argv[1])
