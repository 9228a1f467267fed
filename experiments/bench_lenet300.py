"""Times one epoch of dense LeNet-300-100 training on MNIST in numpy, PyTorch (CPU) and PruneLab.

    python3 experiments/bench_lenet300.py [--threads 2] [--repeats 5] [--out runs/bench-lenet300.md]
                                          [--prunelab .build/release/prunelab] [--skip-prunelab]

Workload (the same for the three tools): 784-300(ReLU)-100(ReLU)-10, softmax cross-entropy (mean over
the batch), float32, batch 128, SGD lr 0.05 with heavy-ball momentum 0.9 (PyTorch's form: v = 0.9 v + g,
w -= lr v), no weight decay, all 60000 training images of data/mnist/*.gz scaled to [0, 1], one fixed
shuffled order (seed 0; the last partial batch of 96 included), PyTorch's default Linear initialisation.
Each repeat trains a fresh model (same seed) for one full epoch; the table reports the median, min and
max over repeats (numpy and PyTorch after one untimed warm-up epoch). Batches are gathered by index from
the preloaded float32 array every step in numpy and PyTorch.

FLOPs of an epoch, counted analytically over the three weight matrices (in x out: 784x300, 300x100,
100x10) and N = 60000 samples; bias, activation, loss and optimiser terms are ignored:
    forward   2 N in out  per layer
    backward  4 N in out  per layer (weight gradient + input gradient), 2 N in out for the first layer
              (no gradient for the input images)
    total = N * (2*266200 + 2*235200 + 4*31000) = 60000 * 1126800 = 67.6 GFLOP.
GFLOP/s = that total / median epoch seconds, for every tool (PruneLab's own count is printed beside it).

Threads: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS are set to --threads before numpy is
imported (numpy's OpenBLAS reads them at load time) and for the PruneLab process; PyTorch also gets
torch.set_num_threads. OPENBLAS_CORETYPE (which OpenBLAS kernel numpy and PruneLab use; PyTorch's MKL
ignores it) is taken from the environment as it is and printed.

Output: a Markdown table printed and written to --out, and the raw per-repeat times in the CSV beside it
(same name, .csv). Exits non-zero when a tool fails or its mean training loss over the epoch is >= 0.5.
"""
import argparse
import datetime
import gzip
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchcommon import (cpu_model, log, machine_busy_seconds, numpy_blas_kernel, numpy_sgemm_peak,  # noqa: E402
                         other_cpu_share, own_cpu_seconds, read_idx, torch_kernel, total_seconds)
LAYERS = [(784, 300), (300, 100), (100, 10)]
BATCH = 128
LR = 0.05
MOMENTUM = 0.9
SEED = 0
MAX_LOSS = 0.5
BUSY_SHARE = 0.1  # other processes' share of the CPUs above which the report warns


def epoch_flops(n):
    forward = sum(2 * n * i * o for i, o in LAYERS)
    backward = sum((2 if k == 0 else 4) * n * i * o for k, (i, o) in enumerate(LAYERS))
    return forward + backward


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2, help="threads for every tool (default 2)")
    p.add_argument("--repeats", type=int, default=5, help="timed epochs per tool, fresh model each (default 5)")
    p.add_argument("--out", default=os.path.join(ROOT, "runs/bench-lenet300.md"),
                   help="Markdown report; the CSV goes beside it (default runs/bench-lenet300.md "
                        "in the package root; a relative path is taken from the current folder)")
    p.add_argument("--prunelab", default=os.path.join(ROOT, ".build/release/prunelab"),
                   help="the prunelab executable (default .build/release/prunelab)")
    p.add_argument("--skip-prunelab", action="store_true", help="time numpy and PyTorch only")
    p.add_argument("--data", default=os.path.join(ROOT, "data/mnist"), help="MNIST folder (default data/mnist)")
    a = p.parse_args()
    if a.threads < 1:
        p.error("--threads must be >= 1")
    if a.repeats < 1:
        p.error("--repeats must be >= 1")
    return a


# ---------------------------------------------------------------------------------------------- data

def load_train(data_dir, np):
    def find(stem):
        for name in (stem + ".gz", stem):
            path = os.path.join(data_dir, name)
            if os.path.exists(path):
                return path
        sys.exit(f"{data_dir}: no {stem}(.gz)")
    images = read_idx(find("train-images-idx3-ubyte"), np)
    labels = read_idx(find("train-labels-idx1-ubyte"), np).astype(np.int64)
    x = (images.reshape(len(images), -1).astype(np.float32) / np.float32(255))
    return np.ascontiguousarray(x), labels


def init_params(np, seed):
    """PyTorch's Linear default: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)); weights stored [in, out]."""
    rng = np.random.default_rng(seed)
    params = []
    for i, o in LAYERS:
        bound = 1 / i ** 0.5
        params.append(rng.uniform(-bound, bound, size=(i, o)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, size=(o,)).astype(np.float32))
    return params


# --------------------------------------------------------------------------------------------- numpy

class NumpyMLP:
    """Hand-written forward/backward with preallocated buffers per batch size; all float32."""

    def __init__(self, np, params):
        self.np = np
        self.params = [p.copy() for p in params]
        self.velocity = [np.zeros_like(p) for p in params]
        self.grads = [np.empty_like(p) for p in params]
        self.scratch = [np.empty_like(p) for p in params]
        self.buffers = {}

    def _buffers(self, b):
        if b not in self.buffers:
            np = self.np
            e = lambda *s: np.empty(s, dtype=np.float32)
            self.buffers[b] = dict(x=e(b, 784), h1=e(b, 300), h2=e(b, 100), z=e(b, 10),
                                   dh1=e(b, 300), dh2=e(b, 100), rows=np.arange(b), zmax=e(b, 1), zsum=e(b, 1))
        return self.buffers[b]

    def step(self, x_all, y_all, idx):
        """One SGD step on samples `idx`; returns the batch's mean loss."""
        np = self.np
        w1, b1, w2, b2, w3, b3 = self.params
        g = self.grads
        n = len(idx)
        buf = self._buffers(n)
        x, h1, h2, z, dh1, dh2 = buf["x"], buf["h1"], buf["h2"], buf["z"], buf["dh1"], buf["dh2"]
        np.take(x_all, idx, axis=0, out=x)
        y = y_all[idx]
        rows = buf["rows"]

        # Forward.
        np.matmul(x, w1, out=h1)
        h1 += b1
        np.maximum(h1, 0, out=h1)
        np.matmul(h1, w2, out=h2)
        h2 += b2
        np.maximum(h2, 0, out=h2)
        np.matmul(h2, w3, out=z)
        z += b3

        # Softmax cross-entropy: z becomes dL/dz = (softmax(z) - onehot(y)) / n.
        np.max(z, axis=1, keepdims=True, out=buf["zmax"])
        z -= buf["zmax"]
        picked = z[rows, y]
        np.exp(z, out=z)
        np.sum(z, axis=1, keepdims=True, out=buf["zsum"])
        loss = float(np.mean(np.log(buf["zsum"][:, 0]) - picked))
        z /= buf["zsum"]
        z[rows, y] -= 1
        z *= np.float32(1.0 / n)

        # Backward (no gradient for x).
        np.matmul(h2.T, z, out=g[4])
        np.sum(z, axis=0, out=g[5])
        np.matmul(z, w3.T, out=dh2)
        dh2[h2 <= 0] = 0
        np.matmul(h1.T, dh2, out=g[2])
        np.sum(dh2, axis=0, out=g[3])
        np.matmul(dh2, w2.T, out=dh1)
        dh1[h1 <= 0] = 0
        np.matmul(x.T, dh1, out=g[0])
        np.sum(dh1, axis=0, out=g[1])

        # SGD with momentum: v = m v + g; w -= lr v.
        for p, v, gr, s in zip(self.params, self.velocity, g, self.scratch):
            v *= np.float32(MOMENTUM)
            v += gr
            np.multiply(v, np.float32(LR), out=s)
            p -= s
        return loss


def numpy_epoch(np, x, y, order, params):
    model = NumpyMLP(np, params)
    total = 0.0
    t0 = time.perf_counter()
    for s in range(0, len(order), BATCH):
        idx = order[s:s + BATCH]
        total += model.step(x, y, idx) * len(idx)
    return time.perf_counter() - t0, total / len(order)


# --------------------------------------------------------------------------------------------- torch

def torch_epoch(torch, x, y, order, params):
    """One epoch with nn.Sequential/SGD/F.cross_entropy, initialised from `params` (numpy, [in, out])."""
    import torch.nn.functional as F
    model = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(),
                                torch.nn.Linear(300, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
    with torch.no_grad():
        linears = [m for m in model if isinstance(m, torch.nn.Linear)]
        for k, lin in enumerate(linears):
            lin.weight.copy_(torch.from_numpy(params[2 * k].T.copy()))
            lin.bias.copy_(torch.from_numpy(params[2 * k + 1]))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    total = torch.zeros((), dtype=torch.float64)
    t0 = time.perf_counter()
    for s in range(0, len(order), BATCH):
        idx = order[s:s + BATCH]
        xb = x.index_select(0, idx)
        yb = y.index_select(0, idx)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach() * len(idx)
    seconds = time.perf_counter() - t0
    return seconds, float(total) / len(order)


# ------------------------------------------------------------------------------------------- helpers

def run_prunelab(args, env):
    cmd = [args.prunelab, "bench", "--batch-size", str(BATCH), "--epochs", "1", "--repeats", str(args.repeats),
           "--threads", str(args.threads), "--json"]
    log("prunelab:", shlex.join(cmd))
    r = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"prunelab bench failed (exit {r.returncode}):\n{r.stderr.strip()}")
    for line in reversed(r.stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                result = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"prunelab bench printed bad JSON ({e}): {line[:200]}")
            missing = [k for k in ("epoch_seconds", "median_epoch_seconds", "flops_per_epoch", "gflops",
                                   "sgemm_peak_gflops", "blas_core", "threads", "peak_rss_mb") if k not in result]
            if missing:
                sys.exit(f"prunelab bench JSON lacks {', '.join(missing)}: {line[:200]}")
            return cmd, result
    sys.exit(f"prunelab bench printed no JSON object on stdout:\n{r.stdout[-500:]}")


def main():
    args = parse_args()
    args.prunelab = os.path.abspath(args.prunelab)  # it runs from the package root
    if not args.skip_prunelab and not os.access(args.prunelab, os.X_OK):
        sys.exit(f"{args.prunelab}: no such executable (build it with `swift build -c release`, "
                 "or pass --skip-prunelab)")
    t = str(args.threads)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = t
    import numpy as np  # after the thread variables: OpenBLAS reads them when it loads
    import torch
    torch.set_num_threads(args.threads)

    idle_before = other_cpu_share(1.0)
    machine_start, own_start = machine_busy_seconds(), own_cpu_seconds()
    coretype = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    command = shlex.join([os.path.basename(sys.executable)] + sys.argv)
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    header = (f"{date}; CPU {cpu_model()}; {args.threads} threads; OPENBLAS_CORETYPE={coretype}; "
              f"numpy {np.__version__} (OpenBLAS kernel {numpy_blas_kernel(np)}); "
              f"torch {torch.__version__} ({torch_kernel(torch)}); "
              f"command: `{command}`")
    log(header)

    x, y = load_train(args.data, np)
    n = len(y)
    order = np.random.default_rng(SEED).permutation(n)
    params = init_params(np, SEED)
    flops = epoch_flops(n)
    rows = {}  # tool -> (times, loss)
    failures = []

    def check_loss(tool, loss):
        log(f"{tool}: mean training loss over the epoch {loss:.4f}")
        if not loss < MAX_LOSS:
            failures.append(f"{tool}: training loss {loss:.4f} is not < {MAX_LOSS}")

    # numpy: one untimed warm-up epoch (first touch of the data, BLAS threads), then full epochs.
    sec, _ = numpy_epoch(np, x, y, order, params)
    log(f"numpy warm-up epoch: {sec:.3f} s")
    times, loss = [], float("nan")
    for r in range(args.repeats):
        sec, loss = numpy_epoch(np, x, y, order, params)
        times.append(sec)
        log(f"numpy repeat {r + 1}/{args.repeats}: {sec:.3f} s")
    rows["numpy"] = (times, loss)
    check_loss("numpy", loss)

    # PyTorch: one untimed warm-up epoch, then full epochs.
    tx, ty, torder = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(order)
    sec, _ = torch_epoch(torch, tx, ty, torder, params)
    log(f"torch warm-up epoch: {sec:.3f} s")
    times = []
    for r in range(args.repeats):
        sec, loss = torch_epoch(torch, tx, ty, torder, params)
        times.append(sec)
        log(f"torch repeat {r + 1}/{args.repeats}: {sec:.3f} s")
    rows["PyTorch"] = (times, loss)
    check_loss("PyTorch", loss)

    numpy_peak = numpy_sgemm_peak(np)
    torch_threads = torch.get_num_threads()

    prunelab = None
    if not args.skip_prunelab:
        env = dict(os.environ)
        cmd, prunelab = run_prunelab(args, env)
        loss = prunelab.get("final_train_loss")
        rows["PruneLab"] = (list(map(float, prunelab["epoch_seconds"])), loss)
        if loss is None:
            log("PruneLab: no final_train_loss in its JSON; loss not checked")
        else:
            check_loss("PruneLab", float(loss))

    # Report.
    pl_median = statistics.median(rows["PruneLab"][0]) if "PruneLab" in rows else None
    lines = [f"# Dense LeNet-300-100, one MNIST epoch", "", header, "",
             "| tool | median epoch s | min s | max s | GFLOP/s | ratio PruneLab/tool | train loss |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for tool, (times, loss) in rows.items():
        med = statistics.median(times)
        ratio = f"{pl_median / med:.2f}" if pl_median is not None else "n/a"
        loss_text = f"{loss:.4f}" if loss is not None else "n/a"
        lines.append(f"| {tool} | {med:.3f} | {min(times):.3f} | {max(times):.3f} | {flops / med / 1e9:.1f} "
                     f"| {ratio} | {loss_text} |")
    lines += ["",
              f"{args.repeats} repeats per tool, each one full epoch of {n} samples (batch {BATCH}, "
              f"{-(-n // BATCH)} steps) on a fresh model; ratio = PruneLab median / tool median "
              f"(above 1: PruneLab is slower); train loss = mean loss over the last timed epoch.",
              f"FLOPs per epoch (analytic): {flops:,} = N * sum over layers of 2*in*out forward "
              f"+ 4*in*out backward (2*in*out for the first layer); bias, activation and optimiser "
              f"terms ignored.",
              f"SGEMM reference, 2048x2048 float32, {args.threads} threads: numpy np.matmul "
              f"{numpy_peak:.1f} GFLOP/s"
              + (f"; PruneLab OpenBLAS ({prunelab.get('blas_core_choice', prunelab['blas_core'])}) "
                 f"{float(prunelab['sgemm_peak_gflops']):.1f} GFLOP/s" if prunelab else "") + ".",
              f"PyTorch threads: {torch_threads} (its BLAS ignores OPENBLAS_CORETYPE)."]
    if prunelab:
        lines.append(f"PruneLab: own FLOP count {int(prunelab['flops_per_epoch']):,} per epoch, "
                     f"{float(prunelab['gflops']):.1f} GFLOP/s by it; {prunelab['threads']} threads; "
                     f"peak RSS {float(prunelab['peak_rss_mb']):.0f} MiB; command `{shlex.join(cmd)}`.")
    else:
        lines.append("PruneLab: skipped (--skip-prunelab).")
    others = None
    if machine_start is not None:
        others = max(0.0, (machine_busy_seconds() - machine_start) - (own_cpu_seconds() - own_start))
    others_text = f"{others:.1f} CPU-seconds" if others is not None else "unknown"
    lines.append(f"Other processes: {idle_before * 100:.0f}% of the CPUs in the second before the run, "
                 f"{others_text} during it (from /proc/stat minus this process and its children).")
    if idle_before > BUSY_SHARE or (others is not None and others > BUSY_SHARE * total_seconds(rows)):
        lines.append("**Warning:** other processes used the CPUs during this run; OpenMP and OpenBLAS threads "
                     "that spin-wait slow down sharply when they share cores. Rerun on an idle machine.")
    report = "\n".join(lines) + "\n"
    print(report, end="")

    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(report)
    csv_path = os.path.splitext(out)[0] + ".csv"
    with open(csv_path, "w") as f:
        f.write("tool,repeat,epoch_seconds,threads\n")
        for tool, (times, _) in rows.items():
            for r, sec in enumerate(times):
                f.write(f"{tool},{r + 1},{sec:.6f},{args.threads}\n")
    log(f"wrote {out} and {csv_path}")
    if failures:
        sys.exit("numerics check failed: " + "; ".join(failures))


if __name__ == "__main__":
    main()
