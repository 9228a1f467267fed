"""Times LeNet-5 training epochs at fixed mask sparsities: PruneLab's dense and auto kernels and PyTorch's
masked conv net (nn.Conv2d/nn.Linear, weights multiplied by the mask after every step), side by side in
one run.

    python3 experiments/bench_sparse_lenet5.py [--sparsity 0,0.9,0.95] [--threads 2] [--repeats 3]
                                               [--out runs/bench-sparse-lenet5.md]
                                               [--prunelab .build/release/prunelab] [--skip-prunelab]

Workload (both tools): PruneLab's `lenet-5` preset, Caffe's LeNet: input [N, 1, 28, 28] float32 (all 60000
training images of data/mnist/*.gz scaled to [0, 1]) -> conv1 1->20 5x5 (stride 1, no padding, no
activation) -> max pool 2x2 stride 2 -> conv2 20->50 5x5 (no activation) -> max pool 2x2 stride 2 ->
flatten (50*4*4 = 800) -> fc1 800->500 -> ReLU -> fc2 500->10; softmax cross-entropy (mean over the
batch), batch 128 (the last partial batch of 96 included), SGD lr 0.05 with heavy-ball momentum 0.9
(PyTorch's form: v = 0.9 v + g, w -= lr v), no weight decay: what `prunelab bench --model lenet-5` trains
(BenchmarkSetup). One full epoch per repeat on a fresh model.
Masks: every weight tensor (conv1, conv2, fc1 and fc2) has exactly round(s * size) entries masked out,
chosen uniformly at random (fixed seed); biases are not masked. The masks stay fixed for the whole epoch
(no pruning decisions are timed; this measures the cost of training a network at that sparsity).
Initialisation: PruneLab draws its weights from a normal with std 1/sqrt(fan_in) (its `normal`
initializer, biases 0), PyTorch starts from its default Conv2d/Linear rule (U(-1/sqrt(fan_in),
1/sqrt(fan_in)) for weights and biases, drawn once in numpy); the start does not change the work of an
epoch, but the losses of the two tools differ.

- PruneLab: `prunelab bench --model lenet-5 --sparsity ... --kernels dense,auto --batch-size 128 --json`
  (its own random masks at the same sparsities, data-parallel over --threads workers, batches in its own
  shuffled order). `dense` runs every product as SGEMM on the masked weights (im2col for the convolutions);
  `auto` is what training runs use: at a density of at most 0.4 the direct sparse convolution over the
  live taps for the conv layers and the CSR kernels for the fc layers, SGEMM above it.
- PyTorch masked: torch.nn Conv2d / MaxPool2d / Flatten / Linear / ReLU, F.cross_entropy,
  torch.optim.SGD(lr, momentum), every weight multiplied by its mask after each optimizer step (the usual
  way to train a masked network in PyTorch); gradients and products are dense. Batches are gathered by
  index from the preloaded array in one fixed shuffled order (seed 0). One untimed warm-up epoch per
  sparsity, then --repeats timed epochs.

Threads: OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS are set to --threads before torch is
imported, torch.set_num_threads(--threads), and PruneLab gets --threads. OPENBLAS_CORETYPE is left as the
environment has it and printed; PruneLab's kernel choice (BLAS.selectCoreForCPU) is printed from its JSON.

Output: Markdown tables (medians of --repeats epochs per tool and sparsity, wall and process CPU seconds)
written to --out, with three ratios per sparsity: PruneLab auto / PruneLab dense at the same sparsity,
PruneLab auto / PruneLab dense at sparsity 0 (sparse epoch / dense epoch, the ratio the speed targets
use; needs 0 among the sparsities), and PyTorch masked / PruneLab auto (above 1: PruneLab is faster);
PruneLab's per-layer step timings and peak RSS from its JSON; the per-repeat times in the CSV beside it.
Exits non-zero when a tool fails, a loss is not finite, or a masked PyTorch weight came back to life.
"""
import argparse
import json
import math
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchcommon import (log, machine_busy_seconds, machine_lines, other_cpu_share,  # noqa: E402
                         own_cpu_seconds, run_header, write_epoch_report)
from bench_lenet5 import BATCH, LR, MOMENTUM, SEED, init_params, load_train, torch_model  # noqa: E402

BUSY_SHARE = 0.1  # other processes' share of the CPUs above which the report warns
KERNELS = ["dense", "auto"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sparsity", default="0,0.9,0.95", help="comma-separated mask sparsities in [0, 1)")
    p.add_argument("--threads", type=int, default=2, help="threads for both tools (default 2)")
    p.add_argument("--repeats", type=int, default=3, help="timed epochs per tool and sparsity (default 3)")
    p.add_argument("--out", default=os.path.join(ROOT, "runs/bench-sparse-lenet5.md"),
                   help="Markdown report; the CSV goes beside it (default runs/bench-sparse-lenet5.md)")
    p.add_argument("--prunelab", default=os.path.join(ROOT, ".build/release/prunelab"),
                   help="the prunelab executable (default .build/release/prunelab)")
    p.add_argument("--skip-prunelab", action="store_true", help="time PyTorch only")
    p.add_argument("--data", default=os.path.join(ROOT, "data/mnist"), help="MNIST folder (default data/mnist)")
    a = p.parse_args()
    try:
        a.levels = [float(s) for s in a.sparsity.split(",")]
    except ValueError:
        p.error(f"--sparsity: not a comma-separated list of numbers: {a.sparsity!r}")
    if a.threads < 1 or a.repeats < 1 or not all(0 <= s < 1 for s in a.levels):
        p.error("--threads and --repeats must be >= 1, sparsities in [0, 1)")
    return a


def masks_for(torch, model, sparsity, seed):
    """One {0,1} mask per weight tensor (conv [out, in, k, k], fc [out, in]), exactly round(s * size)
    zeros chosen uniformly at random."""
    g = torch.Generator().manual_seed(seed)
    masks = []
    for layer in weighted(torch, model):
        n = layer.weight.numel()
        m = torch.ones(n)
        m[torch.randperm(n, generator=g)[:round(sparsity * n)]] = 0
        masks.append(m.reshape(layer.weight.shape))
    return masks


def weighted(torch, model):
    return [m for m in model if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]


def torch_masked_epoch(torch, x, y, order, params, sparsity):
    """One epoch of the masked network from `params`; returns wall seconds, mean loss, CPU seconds and
    the number of masked weights that are nonzero at the end (must be 0)."""
    import torch.nn.functional as F
    model = torch_model(torch, params)
    layers = weighted(torch, model)
    masks = masks_for(torch, model, sparsity, SEED)
    with torch.no_grad():
        for layer, m in zip(layers, masks):
            layer.weight.mul_(m)
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
            for layer, m in zip(layers, masks):
                layer.weight.mul_(m)
        total += loss.detach() * len(idx)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    alive = sum(int(((layer.weight != 0) & (m == 0)).sum()) for layer, m in zip(layers, masks))
    return seconds, float(total) / len(order), cpu, alive


def prunelab_command(args):
    return [args.prunelab, "bench", "--model", "lenet-5", "--data", os.path.abspath(args.data),
            "--sparsity", ",".join(f"{s:g}" for s in args.levels), "--kernels", ",".join(KERNELS),
            "--batch-size", str(BATCH), "--repeats", str(args.repeats), "--threads", str(args.threads), "--json"]


def check_prunelab(args, env):
    """Fail before the long runs when the executable is missing or its `bench` lacks the options."""
    if not (os.path.isfile(args.prunelab) and os.access(args.prunelab, os.X_OK)):
        sys.exit(f"{args.prunelab}: no such executable (swift build -c release, or --skip-prunelab)")
    try:
        r = subprocess.run([args.prunelab, "bench", "--help"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as e:
        sys.exit(f"{args.prunelab}: cannot run it ({e})")
    missing = [o for o in ("--model", "--sparsity", "--kernels") if o not in r.stdout]
    if r.returncode != 0 or missing:
        sys.exit(f"{args.prunelab}: `prunelab bench` lacks {', '.join(missing) or 'a working --help'} "
                 "(rebuild it, or pass --skip-prunelab)")


def run_prunelab(args, env):
    cmd = prunelab_command(args)
    log("prunelab:", shlex.join(cmd))
    r = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"prunelab bench failed (exit {r.returncode}):\n{r.stderr.strip()}")
    lines = [ln for ln in r.stdout.splitlines() if ln.strip().startswith("{")]
    if not lines:
        sys.exit(f"prunelab bench printed no JSON object on stdout:\n{r.stdout[-500:]}")
    try:
        out = json.loads(lines[-1])
    except json.JSONDecodeError as e:
        sys.exit(f"prunelab bench printed bad JSON ({e}): {lines[-1][:200]}")
    missing = [k for k in ("blas_core", "results", "layers", "peak_rss_mb") if k not in out]
    if missing:
        sys.exit(f"prunelab bench JSON lacks {', '.join(missing)}")
    return cmd, out


def main():
    args = parse_args()
    args.prunelab = os.path.abspath(args.prunelab)  # it runs from the package root
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    if not args.skip_prunelab:
        check_prunelab(args, dict(os.environ))
    import numpy as np  # after the thread variables: the BLAS libraries read them when they load
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
    times, cpu, losses = {}, {}, {}  # (tool, sparsity) -> [wall s], [process CPU s], last epoch's loss
    failures = []

    prunelab, cmd = None, None
    if not args.skip_prunelab:
        cmd, prunelab = run_prunelab(args, dict(os.environ))
        for r in prunelab["results"]:
            key = (f"PruneLab {r['kernel']}", round(float(r["sparsity"]), 6))
            times[key] = [float(t) for t in r["epoch_seconds"]]
            cpu[key] = [float(t) for t in r.get("epoch_cpu_seconds", [])]
            losses[key] = r.get("final_train_loss")

    for s in args.levels:
        sec, _, _, _ = torch_masked_epoch(torch, tx, ty, torder, params, s)
        log(f"PyTorch masked sparsity {s:g}: warm-up {sec:.3f} s")
        ts, cs = [], []
        for _ in range(args.repeats):
            sec, loss, c, alive = torch_masked_epoch(torch, tx, ty, torder, params, s)
            ts.append(sec)
            cs.append(c)
            if alive:
                failures.append(f"PyTorch masked sparsity {s:g}: {alive} masked weights nonzero after the epoch")
        key = ("PyTorch masked", round(s, 6))
        times[key], cpu[key], losses[key] = ts, cs, loss
        log(f"PyTorch masked sparsity {s:g}: median {statistics.median(ts):.3f} s, loss {loss:.4f}")
    for (tool, s), loss in losses.items():
        if loss is None or not math.isfinite(float(loss)):
            failures.append(f"{tool} sparsity {s:g}: training loss {loss}")

    lines = report_lines(args, header, prunelab, cmd, times, cpu, losses, n)
    lines += ["", f"PyTorch process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
              "(the whole script, the training set included)."]
    lines += machine_lines(idle_before, machine_start, own_start, sum(sum(t) for t in times.values()), BUSY_SHARE)
    if failures:
        lines.append("**Checks failed:** " + "; ".join(failures))
    out, csv_path = write_epoch_report(args.out, "\n".join(lines) + "\n", times, cpu, args.threads)
    log(f"wrote {out} and {csv_path}")
    if failures:
        sys.exit("checks failed: " + "; ".join(failures))


def report_lines(args, header, prunelab, cmd, times, cpu, losses, n):
    def med(table, tool, s):
        t = table.get((tool, round(s, 6)))
        return statistics.median(t) if t else None

    def fmt(v, spec=".3f"):
        return "n/a" if v is None else format(v, spec)

    def ratio(a, b):
        return f"{a / b:.3f}x" if a is not None and b else "n/a"

    lines = ["# LeNet-5 training epochs at fixed mask sparsity", "", header, ""]
    if prunelab:
        lines += [f"PruneLab BLAS: {prunelab.get('blas_core_choice', prunelab['blas_core'])}; sparse kernels: "
                  f"{prunelab.get('sparse_isa', 'n/a')}; {prunelab.get('threads')} data-parallel workers; "
                  f"peak RSS {float(prunelab['peak_rss_mb']):.0f} MiB; command `{shlex.join(cmd)}`.", ""]
    else:
        lines += ["PruneLab: skipped (--skip-prunelab).", ""]
    for title, table in (("Median epoch wall seconds", times),
                         ("Median epoch CPU seconds (process time, all threads; does not count waiting for a core)",
                          cpu)):
        lines += [f"{title}:", "",
                  "| sparsity | PruneLab dense | PruneLab auto | PyTorch masked | auto / dense (same sparsity) "
                  "| auto / dense at sparsity 0 | PyTorch masked / PruneLab auto |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        dense0 = med(table, "PruneLab dense", 0.0)
        for s in args.levels:
            pd, pa, tm = med(table, "PruneLab dense", s), med(table, "PruneLab auto", s), med(table, "PyTorch masked", s)
            lines.append(f"| {s:g} | {fmt(pd)} | {fmt(pa)} | {fmt(tm)} | {ratio(pa, pd)} | {ratio(pa, dense0)} "
                         f"| {ratio(tm, pa)} |")
        lines.append("")
    lines += [f"{args.repeats} timed epochs per tool and sparsity (PyTorch after one untimed warm-up epoch); every "
              f"epoch is {n} samples, batch {BATCH}, SGD lr {LR} momentum {MOMENTUM}. `auto / dense at sparsity 0` "
              "is the epoch at that sparsity over PruneLab's own dense epoch at sparsity 0 (n/a without 0 in --sparsity); "
              "`PyTorch masked / PruneLab auto` above 1 means PruneLab's epoch is faster."]
    if prunelab:
        used = [f"{r['sparsity']:g}: " + ", ".join(f"{k} {v}" for k, v in sorted(r.get("layer_kernels", {}).items()))
                for r in prunelab["results"] if r["kernel"] == "auto"]
        lines += ["", "Kernels `auto` ran per layer (last step): " + "; ".join(used) + "."]
    if prunelab and prunelab["layers"]:
        lines += ["", "PruneLab per layer, one forward + backward step at the workers' batch (best of 5; conv "
                  "layers: im2col + SGEMM against the direct sparse convolution, shape outC x inC*k*k):", "",
                  "| layer | shape | batch | sparsity | dense ms | sparse ms | speed-up |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for l in prunelab["layers"]:
            lines.append(f"| {l['layer']} | {l['shape'][0]}x{l['shape'][1]} | {l['batch']} | {l['sparsity']:g} | "
                         f"{l['dense_seconds'] * 1e3:.3f} | {l['sparse_seconds'] * 1e3:.3f} | "
                         f"{l['dense_seconds'] / l['sparse_seconds']:.2f}x |")
    lines += ["", "Mean training loss of the last timed epoch: " + "; ".join(
        f"{t} {s:g}: {float(v):.3f}" for (t, s), v in sorted(losses.items()) if v is not None) + ". PruneLab "
        "starts from its `normal` initialisation and its own masks and batch order, PyTorch from its default "
        "Conv2d/Linear initialisation, so the losses differ between the tools."]
    return lines


if __name__ == "__main__":
    main()
