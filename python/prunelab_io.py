"""Load PruneLab run, compare and sweep folders into pandas DataFrames.

One line in a notebook::

    import prunelab_io as pl; r = pl.load("runs/compare")   # r.summary, r.metrics, r.layers, ...

``load(path)`` finds every run folder (a folder holding ``run.json``) at or below ``path``, so a
single run, a compare folder (``<arm>-seed<k>/``) and a sweep of compares load the same way. Every
table gains a ``run`` column (the run folder relative to ``path``, ``.`` for ``path`` itself) and
the run's ``label``, ``method`` and ``seed``. Dtypes: counts (steps, weights, FLOPs, bytes, seeds)
are nullable integers (``Int64``, seeds ``UInt64``), measurements ``float64``, names ``string``;
``method``, ``criterion``, ``schedule`` and ``label`` are categoricals with one vocabulary over
every table (``label`` is the compare arm: ``han``, ``linear``, ``linear/adaptive``; compare's
``comparison.csv`` calls it ``method`` and is renamed to ``label`` here, so ``method`` is always
one of ``dense``, ``han``, ``dynamic``, ``structured``).

``run(config, out, **overrides)`` and ``compare(config, out, methods=..., seeds=..., **overrides)``
run the ``prunelab`` command and return ``load(out)``; overrides are config keys with ``__`` for
``.`` (``training__epochs=2``) or a dict spelled out (``overrides={"training.epochs": 2}``), each
passed as ``--set key=value`` with the value as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Runs", "load", "find_runs", "read_run", "run", "compare", "find_binary", "PruneLabError"]

# Integer-valued columns of PruneLab's CSVs (anything else numeric is float64).
INTEGER_COLUMNS = {
    "step", "epoch", "steps", "total_weights", "nonzero_weights", "train_flops", "dense_train_flops",
    "dense_bytes", "sparse_bytes", "checkpoints", "compact_weights", "compact_bytes", "dense_flops",
    "compact_flops", "weights", "nonzero", "sparse_flops", "round", "retrain_steps", "round_train_flops",
    "pruned", "index", "row", "col", "units_removed", "changed_since_last",
}
UNSIGNED_COLUMNS = {"seed"}
VOCABULARY_COLUMNS = ("method", "criterion", "schedule", "label")
TEXT_COLUMNS = {"name", "dataset", "model", "split", "metric", "layer", "shape", "scope"}

# The per-run tables, by attribute name and file.
RUN_TABLES = {
    "summary": "summary.csv",
    "metrics": "metrics.csv",
    "layers": "layers.csv",
    "rounds": "rounds.csv",
    "events": "events.csv",
    "prune_curve": "prune-curve.csv",
    "layer_trajectories": "layer-trajectories.csv",
    "kernels": "kernels.csv",
}


@dataclass
class Runs:
    """Every table of the runs found, concatenated over runs (empty where no run has it)."""

    root: str
    runs: list = field(default_factory=list)
    info: pd.DataFrame = None
    summary: pd.DataFrame = None
    metrics: pd.DataFrame = None
    layers: pd.DataFrame = None
    rounds: pd.DataFrame = None
    events: pd.DataFrame = None
    prune_curve: pd.DataFrame = None
    layer_trajectories: pd.DataFrame = None
    kernels: pd.DataFrame = None
    comparison: pd.DataFrame = None
    timing: pd.DataFrame = None


def find_runs(path: str) -> list[str]:
    """Every run folder (holding run.json) at or below ``path``, sorted."""
    found = []
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if "run.json" in files:
            found.append(folder)
    return sorted(found)


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with PruneLab's dtypes (see the module docstring); vocabulary columns stay text here."""
    for c in frame.columns:
        if c in INTEGER_COLUMNS or c in UNSIGNED_COLUMNS:
            numbers = pd.to_numeric(frame[c], errors="raise")
            if (numbers.dropna() % 1 != 0).any():
                raise ValueError(f"column {c}: non-integer values")
            frame[c] = numbers.astype("UInt64" if c in UNSIGNED_COLUMNS else "Int64")
        elif c in TEXT_COLUMNS or c in VOCABULARY_COLUMNS:
            frame[c] = frame[c].fillna("").astype("string")
        else:
            try:
                frame[c] = frame[c].astype("float64")
            except (TypeError, ValueError):
                frame[c] = frame[c].astype("string")
    return frame


def read_csv(path: str) -> pd.DataFrame:
    """A PruneLab CSV with its dtypes (``nan``/``inf`` are floats, empty cells missing)."""
    return typed(pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]))


def read_run(folder: str) -> dict[str, pd.DataFrame]:
    """The tables of one run folder, by ``RUN_TABLES`` name (absent files left out), plus ``info`` (run.json)."""
    tables = {}
    for name, file in RUN_TABLES.items():
        p = os.path.join(folder, file)
        if os.path.exists(p):
            tables[name] = read_csv(p)
    with open(os.path.join(folder, "run.json")) as f:
        info = json.load(f)
    tables["info"] = pd.DataFrame([{k: v for k, v in info.items() if not isinstance(v, (dict, list))}])
    return tables


def load(path: str) -> Runs:
    """Every run at or below ``path`` (a run, compare or sweep folder), and a compare's own tables."""
    runs = Runs(root=path, runs=find_runs(path))
    if not runs.runs and not os.path.exists(os.path.join(path, "comparison.csv")):
        raise FileNotFoundError(f"{path}: no PruneLab run folder (run.json) at or below it")
    parts: dict[str, list[pd.DataFrame]] = {}
    for folder in runs.runs:
        tables = read_run(folder)
        rel = os.path.relpath(folder, path)
        keys = tables["summary"][["label", "method", "seed"]].iloc[0] if "summary" in tables else None
        for name, t in tables.items():
            t.insert(0, "run", rel)
            if keys is not None and name != "summary":
                for k in ("label", "method", "seed"):
                    if k not in t.columns:
                        t.insert(1, k, keys[k])
            parts.setdefault(name, []).append(t)
    for name in list(RUN_TABLES) + ["info"]:
        frames = parts.get(name, [])
        setattr(runs, name, pd.concat(frames, ignore_index=True) if frames else pd.DataFrame())
    for name, file in (("comparison", "comparison.csv"), ("timing", "timing.csv")):
        frames = [read_csv(os.path.join(d, file)).rename(columns={"method": "label"}) for d in compare_folders(path)]
        setattr(runs, name, pd.concat(frames, ignore_index=True) if frames else pd.DataFrame())
    apply_vocabulary(runs)
    return runs


def compare_folders(path: str) -> list[str]:
    """Every folder at or below ``path`` holding a comparison.csv."""
    return sorted(d for d, _, files in os.walk(path) if "comparison.csv" in files)


def apply_vocabulary(runs: Runs) -> None:
    """One categorical per vocabulary column, with the same categories in every table."""
    tables = [getattr(runs, n) for n in list(RUN_TABLES) + ["comparison", "timing"]]
    for column in VOCABULARY_COLUMNS:
        values = set()
        for t in tables:
            if column in t.columns:
                values |= set(t[column].dropna().astype(str))
        kind = pd.CategoricalDtype(sorted(values))
        for t in tables:
            if column in t.columns:
                t[column] = t[column].astype(str).astype(kind)


class PruneLabError(RuntimeError):
    """The ``prunelab`` command failed: its one-line error (``prunelab: error: ...``) and exit status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def find_binary(binary: str | None = None) -> str:
    """The ``prunelab`` executable: ``binary``, else $PRUNELAB_BIN, else ``prunelab`` on PATH, else
    this checkout's ``.build/release/prunelab``."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    built = os.path.join(here, ".build", "release", "prunelab")
    for source, candidate in (
        ("binary=", binary),
        ("PRUNELAB_BIN", os.environ.get("PRUNELAB_BIN")),
        ("PATH", shutil.which("prunelab")),
        (built, built),
    ):
        if not candidate:
            continue
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
        if source in ("binary=", "PRUNELAB_BIN"):
            raise FileNotFoundError(f"{source} {candidate}: no executable prunelab there")
    raise FileNotFoundError(
        f"no prunelab executable: pass binary=, set PRUNELAB_BIN, put prunelab on PATH, or build {built} "
        "with `swift build -c release`"
    )


def set_arguments(overrides: dict | None, keywords: dict) -> list[str]:
    """``--set key=value`` per override (the dict's, then the keywords'); ``__`` in a keyword
    stands for ``.``; values are written as JSON."""
    items = list((overrides or {}).items()) + [(k.replace("__", "."), v) for k, v in keywords.items()]
    out = []
    for key, value in items:
        out += ["--set", f"{key}={json.dumps(value)}"]
    return out


def run(
    config: str, out: str, overrides: dict | None = None, *, binary: str | None = None, force: bool = False, **keywords
) -> Runs:
    """``prunelab run CONFIG --out OUT [--set ...]``, then ``load(out)``; raises ``PruneLabError``."""
    flags = ["--force"] if force else []
    call(find_binary(binary), ["run", config, "--out", out] + flags + set_arguments(overrides, keywords))
    return load(out)


def compare(
    config: str, out: str, methods=None, seeds=None, overrides: dict | None = None, *,
    binary: str | None = None, jobs: int | None = None, **keywords
) -> Runs:
    """``prunelab compare CONFIG --out OUT [--methods ...] [--seeds ...] [--set ...]``, then ``load(out)``.

    ``methods`` and ``seeds`` are lists or comma-separated strings."""
    args = ["compare", config, "--out", out]
    for flag, v in (("--methods", methods), ("--seeds", seeds), ("--jobs", jobs)):
        if v is not None:
            args += [flag, ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)]
    call(find_binary(binary), args + set_arguments(overrides, keywords))
    return load(out)


def call(binary: str, args: list[str]) -> None:
    """Runs ``binary args``, copying its standard output and error (progress, one line per epoch)
    to this process's ``sys.stdout`` and ``sys.stderr`` as they come; on a non-zero exit raises
    ``PruneLabError`` with the command's last error line."""
    process = subprocess.Popen([binary] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    errors: list[str] = []

    def copy(source, target, keep):
        for line in source:
            target.write(line)
            target.flush()
            if keep is not None and line.startswith("prunelab: error:"):
                keep.append(line.strip())

    thread = threading.Thread(target=copy, args=(process.stderr, sys.stderr, errors))
    thread.start()
    copy(process.stdout, sys.stdout, None)
    thread.join()
    status = process.wait()
    if status != 0:
        raise PruneLabError(errors[-1] if errors else f"{binary} {' '.join(args)}: exit status {status}", status)
