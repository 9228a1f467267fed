"""Checks prunelab_io on a real compare folder: python3 python/test_prunelab_io.py COMPARE_DIR.

The Swift suite (PythonHelperTests) makes a small compare folder and runs this; every value is
checked against the CSV files read with Python's csv module, an independent reader.
``python3 python/test_prunelab_io.py --cli PRUNELAB_BINARY SCRATCH_DIR`` checks ``run`` and
``compare``, which call the binary, on short real runs.
"""

import contextlib
import csv
import io
import json
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


def tiny_config(scratch):
    """A config of a few optimizer steps on the repository's MNIST sample."""
    data = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "mnist")
    config = {
        "name": "tiny", "seed": 1,
        "data": {"format": "idx", "dir": data, "train_limit": 1000, "test_limit": 200},
        "model": {"preset": "lenet-300-100"},
        "training": {"epochs": 2, "batch_size": 50, "learning_rate": 0.05},
        "pruning": {"method": "dense", "target_sparsity": 0.5,
                    "dynamic": {"criterion": "magnitude", "cubic": {"start": "5it", "end": "15it", "every": "5it"}}},
    }
    path = os.path.join(scratch, "tiny.json")
    with open(path, "w") as f:
        json.dump(config, f)
    return path


def check_cli(binary, scratch):
    config = tiny_config(scratch)
    progress = io.StringIO()
    with contextlib.redirect_stderr(progress):
        r = pl.run(config, os.path.join(scratch, "one"), {"data.test_limit": 100}, binary=binary, training__epochs=1)
    # the overrides reached the run: one epoch of 1000 images in batches of 50, 100 test images
    assert len(r.summary) == 1 and r.summary["steps"].iloc[0] == 20, r.summary["steps"]
    with open(os.path.join(scratch, "one", "config.json")) as f:
        assert json.load(f)["data"]["test_limit"] == 100
    assert "ep 1 20/20" in progress.getvalue(), progress.getvalue()  # the CLI's progress, passed through
    # failures: the CLI's one-line error as the exception, and a clear error without a binary
    try:
        pl.run(config, os.path.join(scratch, "bad"), binary=binary, training__epochs=-1)
        raise AssertionError("a negative epoch count ran")
    except pl.PruneLabError as e:
        assert str(e).startswith("prunelab: error:") and "training.epochs" in str(e) and "\n" not in str(e), str(e)
        assert e.status == 1
    try:
        pl.run(config, os.path.join(scratch, "none"), binary=os.path.join(scratch, "no-such-prunelab"))
        raise AssertionError("ran without a binary")
    except FileNotFoundError as e:
        assert "no-such-prunelab" in str(e), str(e)
    c = pl.compare(config, os.path.join(scratch, "cmp"), methods=["dense", "magnitude"], seeds=[1, 2], binary=binary)
    assert sorted(zip(c.summary["label"].astype(str), c.summary["seed"])) == [
        ("dense", 1), ("dense", 2), ("magnitude", 1), ("magnitude", 2)
    ], c.summary[["label", "seed"]]
    assert len(c.comparison) > 0
    sparsity = c.summary.set_index(["label", "seed"])["sparsity"]
    assert sparsity[("magnitude", 1)] > 0.3 and sparsity[("dense", 1)] == 0, sparsity
    print("ok cli")


if __name__ == "__main__":
    if sys.argv[1] == "--cli":
        check_cli(sys.argv[2], sys.argv[3])
    else:
        check(sys.argv[1])
