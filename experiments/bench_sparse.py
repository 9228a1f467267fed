"""Times LeNet-300-100 training epochs at fixed mask sparsities: PruneLab's dense and sparse kernels,
PyTorch dense (masked nn.Linear) and PyTorch sparse CSR (torch.sparse.mm on to_sparse_csr weights),
side by side in one run.

    python3 experiments/bench_sparse.py [--sparsity 0,0.5,0.8,0.9,0.95,0.98] [--threads 2] [--repeats 5]
                                        [--out runs/bench-sparse.md] [--prunelab .build/release/prunelab]
                                        [--skip-prunelab] [--skip-torch-csr]

Workload (every tool): 784-300(ReLU)-100(ReLU)-10, softmax cross-entropy, float32, batch 128, SGD lr 0.05
with heavy-ball momentum 0.9, all 60000 MNIST training images, one epoch per repeat on a fresh model.
Masks: every weight matrix has exactly round(s * size) entries masked out, chosen uniformly at random
(fixed seed); biases are not masked. The mask stays fixed for the whole epoch (no pruning decisions are
timed; this measures the cost of training a network at that sparsity).

- PruneLab: `prunelab bench --sparsity ... --kernels dense,sparse,auto --json` (its own random masks at
  the same sparsities; data-parallel over --threads workers). `dense` runs SGEMM on the masked weights,
  `sparse` the CSR kernels on every masked layer, `auto` the measured per-layer choice used in training.
- PyTorch dense: nn.Linear layers, torch.optim.SGD, weights multiplied by the mask after every step
  (the usual way to train a masked network in PyTorch); gradients are dense.
- PyTorch sparse CSR: each weight is a leaf `W.to_sparse_csr()` tensor, the forward is
  `torch.sparse.mm(W, h.T).T + b`, autograd gives the weight gradient on the same CSR pattern, and the
  same momentum SGD updates `W.values()` in place. At sparsity 0 it runs CSR at density 1.

Threads: OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS are set to --threads before torch is
imported, torch.set_num_threads(--threads), and PruneLab gets --threads. OPENBLAS_CORETYPE is left as the
environment has it and printed; PruneLab's kernel choice (BLAS.selectCoreForCPU) is printed from its JSON.

Output: a Markdown table (medians of --repeats epochs per tool and sparsity, after one untimed warm-up
epoch per PyTorch configuration; ratios = other tool's median / PruneLab sparse median, so above 1 means
PruneLab's sparse epoch is faster) written to --out, the per-repeat times in the CSV beside it.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchcommon import (log, machine_busy_seconds, machine_lines, other_cpu_share,  # noqa: E402
                         own_cpu_seconds, run_header, write_epoch_report)
from bench_lenet300 import BATCH, LAYERS, LR, MOMENTUM, SEED, init_params, load_train  # noqa: E402

BUSY_SHARE = 0.1


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sparsity", default="0,0.5,0.8,0.9,0.95,0.98")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=os.path.join(ROOT, "runs/bench-sparse.md"))
    p.add_argument("--prunelab", default=os.path.join(ROOT, ".build/release/prunelab"))
    p.add_argument("--skip-prunelab", action="store_true")
    p.add_argument("--skip-torch-csr", action="store_true")
    p.add_argument("--data", default=os.path.join(ROOT, "data/mnist"))
    a = p.parse_args()
    a.levels = [float(s) for s in a.sparsity.split(",")]
    if a.threads < 1 or a.repeats < 1 or not all(0 <= s < 1 for s in a.levels):
        p.error("--threads and --repeats must be >= 1, sparsities in [0, 1)")
    return a


def masks_for(torch, sparsity, seed):
    """One {0,1} mask per layer, [out, in], exactly round(s * size) zeros."""
    g = torch.Generator().manual_seed(seed)
    masks = []
    for i, o in LAYERS:
        n = i * o
        m = torch.ones(n)
        m[torch.randperm(n, generator=g)[:round(sparsity * n)]] = 0
        masks.append(m.reshape(o, i))
    return masks


def torch_dense_epoch(torch, x, y, order, params, masks):
    import torch.nn.functional as F
    model = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(),
                                torch.nn.Linear(300, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for k, lin in enumerate(linears):
            lin.weight.copy_(torch.from_numpy(params[2 * k].T.copy()) * masks[k])
            lin.bias.copy_(torch.from_numpy(params[2 * k + 1]))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    total = torch.zeros((), dtype=torch.float64)
    t0, c0 = time.perf_counter(), time.process_time()
    for s in range(0, len(order), BATCH):
        idx = order[s:s + BATCH]
        loss = F.cross_entropy(model(x.index_select(0, idx)), y.index_select(0, idx))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for lin, m in zip(linears, masks):
                lin.weight.mul_(m)
        total += loss.detach() * len(idx)
    return time.perf_counter() - t0, float(total) / len(order), time.process_time() - c0


def torch_csr_epoch(torch, x, y, order, params, masks):
    import torch.nn.functional as F
    weights, biases, vel_w, vel_b = [], [], [], []
    for k in range(len(LAYERS)):
        dense = torch.from_numpy(params[2 * k].T.copy()) * masks[k]
        # keep the masked pattern even where a kept weight happens to be 0.0
        w = torch.sparse_csr_tensor(*_csr_pattern(torch, masks[k]), dense[masks[k] != 0], size=dense.shape)
        weights.append(w.requires_grad_(True))
        biases.append(torch.from_numpy(params[2 * k + 1].copy()).requires_grad_(True))
        vel_w.append(torch.zeros_like(w.values()))
        vel_b.append(torch.zeros_like(biases[-1]))
    total = torch.zeros((), dtype=torch.float64)
    t0, c0 = time.perf_counter(), time.process_time()
    for s in range(0, len(order), BATCH):
        idx = order[s:s + BATCH]
        h = x.index_select(0, idx)
        for k, (w, b) in enumerate(zip(weights, biases)):
            h = torch.sparse.mm(w, h.t()).t() + b
            if k < len(weights) - 1:
                h = torch.relu(h)
        loss = F.cross_entropy(h, y.index_select(0, idx))
        for w, b in zip(weights, biases):
            w.grad = None
            b.grad = None
        loss.backward()
        with torch.no_grad():
            for w, b, vw, vb in zip(weights, biases, vel_w, vel_b):
                vw.mul_(MOMENTUM).add_(w.grad.values())
                w.values().sub_(LR * vw)
                vb.mul_(MOMENTUM).add_(b.grad)
                b.sub_(LR * vb)
        total += loss.detach() * len(idx)
    return time.perf_counter() - t0, float(total) / len(order), time.process_time() - c0


def _csr_pattern(torch, mask):
    rows, cols = mask.nonzero(as_tuple=True)
    crow = torch.zeros(mask.shape[0] + 1, dtype=torch.int64)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=mask.shape[0]), 0)
    return crow, cols


def run_prunelab(args, env):
    cmd = [args.prunelab, "bench", "--sparsity", ",".join(str(s) for s in args.levels), "--kernels",
           "dense,sparse,auto", "--batch-size", str(BATCH), "--repeats", str(args.repeats),
           "--threads", str(args.threads), "--json"]
    log("prunelab:", shlex.join(cmd))
    r = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"prunelab bench failed (exit {r.returncode}):\n{r.stderr.strip()}")
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1]
    out = json.loads(line)
    for k in ("blas_core", "results"):
        if k not in out:
            sys.exit(f"prunelab bench JSON lacks {k}")
    return cmd, out


def main():
    args = parse_args()
    args.prunelab = os.path.abspath(args.prunelab)
    if not args.skip_prunelab and not os.access(args.prunelab, os.X_OK):
        sys.exit(f"{args.prunelab}: no such executable (swift build -c release, or --skip-prunelab)")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)

    idle_before = other_cpu_share(1.0)
    machine_start, own_start = machine_busy_seconds(), own_cpu_seconds()
    header = run_header(args.threads, torch)
    log(header)

    x, y = load_train(args.data, np)
    n = len(y)
    order = np.random.default_rng(SEED).permutation(n)
    params = init_params(np, SEED)
    tx, ty, torder = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(order)
    times = {}  # (tool, sparsity) -> [wall seconds]
    cpu = {}  # (tool, sparsity) -> [process CPU seconds, all threads]
    losses = {}

    prunelab = None
    if not args.skip_prunelab:
        cmd, prunelab = run_prunelab(args, dict(os.environ))
        for r in prunelab["results"]:
            key = (f"PruneLab {r['kernel']}", round(float(r["sparsity"]), 6))
            times[key] = [float(t) for t in r["epoch_seconds"]]
            cpu[key] = [float(t) for t in r.get("epoch_cpu_seconds", [])]
            losses[key] = r.get("final_train_loss")

    tools = [("PyTorch dense", torch_dense_epoch)]
    if not args.skip_torch_csr:
        tools.append(("PyTorch CSR", torch_csr_epoch))
    for s in args.levels:
        masks = masks_for(torch, s, SEED)
        for name, fn in tools:
            sec, _, _ = fn(torch, tx, ty, torder, params, masks)
            log(f"{name} sparsity {s}: warm-up {sec:.3f} s")
            ts, cs = [], []
            for r in range(args.repeats):
                sec, loss, c = fn(torch, tx, ty, torder, params, masks)
                ts.append(sec)
                cs.append(c)
            times[(name, round(s, 6))] = ts
            cpu[(name, round(s, 6))] = cs
            losses[(name, round(s, 6))] = loss
            log(f"{name} sparsity {s}: median {statistics.median(ts):.3f} s, loss {loss:.4f}")

    def med(tool, s, table=None):
        t = (times if table is None else table).get((tool, round(s, 6)))
        return statistics.median(t) if t else None

    def fmt(v, spec=".3f"):
        return "n/a" if v is None else format(v, spec)

    lines = ["# LeNet-300-100 training epochs at fixed mask sparsity", "", header, ""]
    if prunelab:
        lines.append(f"PruneLab BLAS: {prunelab.get('blas_core_choice', prunelab['blas_core'])}; sparse kernels: "
                     f"{prunelab.get('sparse_isa', 'n/a')}; {prunelab.get('threads')} data-parallel workers; "
                     f"peak RSS {float(prunelab.get('peak_rss_mb', float('nan'))):.0f} MiB; "
                     f"command `{shlex.join(cmd)}`.")
        lines.append("")
    for title, table in (("Median epoch wall seconds", times), ("Median epoch CPU seconds (process time, all "
                                                                 "threads; does not count waiting for a core)", cpu)):
        lines += [f"{title}:", "",
                  "| sparsity | PruneLab dense | PruneLab sparse | PruneLab auto | PyTorch dense | PyTorch CSR "
                  "| sparse vs PruneLab dense | sparse vs PyTorch dense | sparse vs PyTorch CSR |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for s in args.levels:
            pd, ps, pa = med("PruneLab dense", s, table), med("PruneLab sparse", s, table), med("PruneLab auto", s, table)
            td, tc = med("PyTorch dense", s, table), med("PyTorch CSR", s, table)
            r = lambda other: f"{other / ps:.2f}x" if other is not None and ps else "n/a"
            lines.append(f"| {s:g} | {fmt(pd)} | {fmt(ps)} | {fmt(pa)} | {fmt(td)} | {fmt(tc)} | {r(pd)} | {r(td)} "
                         f"| {r(tc)} |")
        lines.append("")
    lines += ["", "Ratios: the other tool's median epoch / PruneLab sparse median epoch (above 1: PruneLab's sparse "
              "epoch is faster). `auto` is what training runs use (sparse only where measured faster per layer).",
              f"{args.repeats} timed epochs per tool and sparsity (PyTorch after one untimed warm-up epoch); "
              f"every epoch is {n} samples, batch {BATCH}."]
    if prunelab and prunelab.get("layers"):
        lines += ["", "PruneLab per layer, one forward + backward step at the workers' batch (best of 5):", "",
                  "| layer | shape | batch | sparsity | dense ms | sparse ms | speed-up |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for l in prunelab["layers"]:
            lines.append(f"| {l['layer']} | {l['shape'][0]}x{l['shape'][1]} | {l['batch']} | {l['sparsity']:g} | "
                         f"{l['dense_seconds'] * 1e3:.3f} | {l['sparse_seconds'] * 1e3:.3f} | "
                         f"{l['dense_seconds'] / l['sparse_seconds']:.2f}x |")
    # numerics: PyTorch's dense and CSR paths train the same masked network, so their epoch losses agree
    bad = []
    for lv in args.levels:
        a, b = losses.get(("PyTorch dense", round(lv, 6))), losses.get(("PyTorch CSR", round(lv, 6)))
        if a is not None and b is not None and not abs(a - b) <= 1e-2 * max(1.0, abs(a)):
            bad.append(f"sparsity {lv:g}: PyTorch dense loss {a:.4f} vs CSR {b:.4f}")
    lines += ["", "Mean training loss of the last timed epoch: " + "; ".join(
        f"{t} {lv:g}: {v:.3f}" for (t, lv), v in sorted(losses.items()) if v is not None) + ". PruneLab starts "
        "from He initialisation and its own masks, PyTorch from its default Linear initialisation, so losses "
        "differ between the tools; PyTorch dense and CSR must agree (same masks, same start)."]
    if bad:
        lines.append("**Numerics check failed:** " + "; ".join(bad))
    lines += machine_lines(idle_before, machine_start, own_start, sum(sum(t) for t in times.values()), BUSY_SHARE)
    write_epoch_report(args.out, "\n".join(lines) + "\n", times, cpu, args.threads)
    if bad:
        sys.exit("numerics check failed: " + "; ".join(bad))


if __name__ == "__main__":
    main()
