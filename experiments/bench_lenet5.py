"""Times one epoch of dense LeNet-5 (Caffe variant) training on MNIST in numpy, PyTorch (CPU) and PruneLab.

    python3 experiments/bench_lenet5.py [--threads 2] [--repeats 5] [--out runs/bench-lenet5.md]
                                        [--prunelab .build/release/prunelab] [--parallelism data|blas]
                                        [--skip-prunelab] [--skip-numpy]

Workload (the same for the three tools): input [N, 1, 28, 28] float32, all 60000 training images of
data/mnist/*.gz scaled to [0, 1]; conv1 1->20 5x5 (stride 1, no padding, no activation, as in Caffe's
LeNet) -> max pool 2x2 stride 2 -> conv2 20->50 5x5 -> max pool 2x2 -> flatten channel-major (50*4*4 =
800) -> fc 800->500 -> ReLU -> fc 500->10; softmax cross-entropy (mean over the batch), batch 128 in one
fixed shuffled order (seed 0; the last partial batch of 96 included), SGD lr 0.05 with heavy-ball
momentum 0.9 (PyTorch's form: v = 0.9 v + g, w -= lr v), no weight decay. Initialisation is PyTorch's
default for Conv2d and Linear (weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = inC*k*k or
in), drawn once in numpy and copied into the numpy and PyTorch models; PruneLab draws its own weights from
a normal with std 1/sqrt(fan_in) (its `normal` initializer; biases 0), which trains stably at this learning
rate; the initialization does not change the work of an epoch. Each repeat trains a fresh model (same seed) for one full epoch; the table reports the median,
min and max over repeats (numpy and PyTorch after one untimed warm-up epoch). Batches are gathered by
index from the preloaded float32 array every step in numpy and PyTorch.

numpy: hand-written forward and backward, activations kept channels-last ([B, H, W, C]) inside; each conv
is im2col (a sliding_window_view copied into a [B*outH*outW, k*k*inC] buffer) times the weight matrix by
np.matmul (OpenBLAS sgemm), the input gradient of conv2 is dy W as 25 [B*8*8, 20] blocks (one batched
np.matmul) folded back by col2im (25 shifted adds), bias gradients are ones-vector products,
max pooling is a reshape with the gradient routed to the first maximum of each window (PyTorch's rule).
PyTorch: torch.nn Conv2d / MaxPool2d / Flatten / Linear / ReLU, F.cross_entropy, torch.optim.SGD.
PruneLab: `prunelab bench --model lenet-5 --data DIR --batch-size 128 --epochs 1 --repeats R
--threads T [--parallelism P] --json` (one JSON object: epoch_seconds, median_epoch_seconds, ...).

FLOPs of an epoch, counted analytically over the four weight layers and N = 60000 samples; bias,
activation, pooling, loss and optimiser terms are ignored:
    conv  forward 2 N outC inC k k outH outW; backward the same again for the weight gradient and again
          for the input gradient, except conv1 (no gradient for the input images)
          conv1 1->20, 24x24 out: 576,000 per sample forward;  conv2 20->50, 8x8 out: 3,200,000
    fc    forward 2 N in out; backward 4 N in out (weight gradient + input gradient)
          fc1 800x500: 800,000 per sample forward;  fc2 500x10: 10,000
    forward 4,586,000 + backward (576,000 + 6,400,000 + 1,600,000 + 20,000 =) 8,596,000
    total = 60000 * 13,182,000 = 790.9 GFLOP.
GFLOP/s = that total / median epoch seconds, for every tool (PruneLab's own count is printed beside it).

Threads: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS are set to --threads before numpy is
imported (numpy's OpenBLAS reads them at load time) and for the PruneLab process; PyTorch also gets
torch.set_num_threads. All tools run at the same thread count. OPENBLAS_CORETYPE (which OpenBLAS kernel
numpy and PruneLab use; PyTorch's MKL/oneDNN ignores it) is taken from the environment as it is and
printed. --parallelism is passed to PruneLab only when given (otherwise PruneLab chooses).

Target: PruneLab's median epoch <= 0.8x PyTorch's; the report says whether this run met it (informational,
it does not change the exit code).

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
from benchcommon import (cpu_model, log, machine_busy_seconds, numpy_sgemm_peak, other_cpu_share,  # noqa: E402
                         own_cpu_seconds, read_idx, total_seconds)
# (name, inC, outC, kernel, input height = width); each conv is followed by a 2x2 stride-2 max pool.
CONVS = [("conv1", 1, 20, 5, 28), ("conv2", 20, 50, 5, 12)]
FCS = [("fc1", 800, 500), ("fc2", 500, 10)]
BATCH = 128
LR = 0.05
MOMENTUM = 0.9
SEED = 0
MAX_LOSS = 0.5
TARGET_RATIO = 0.8  # PruneLab median epoch / PyTorch median epoch must be <= this
BUSY_SHARE = 0.1  # other processes' share of the CPUs above which the report warns


def epoch_flops(n):
    total = 0
    for k, (_, cin, cout, ks, hw) in enumerate(CONVS):
        o = hw - ks + 1
        f = 2 * n * cout * cin * ks * ks * o * o
        total += f + f + (f if k > 0 else 0)  # forward, weight gradient, input gradient
    for _, i, o in FCS:
        total += 2 * n * i * o + 4 * n * i * o
    return total


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2, help="threads for every tool (default 2)")
    p.add_argument("--repeats", type=int, default=5, help="timed epochs per tool, fresh model each (default 5)")
    p.add_argument("--out", default=os.path.join(ROOT, "runs/bench-lenet5.md"),
                   help="Markdown report; the CSV goes beside it (default runs/bench-lenet5.md "
                        "in the package root; a relative path is taken from the current folder)")
    p.add_argument("--prunelab", default=os.path.join(ROOT, ".build/release/prunelab"),
                   help="the prunelab executable (default .build/release/prunelab)")
    p.add_argument("--parallelism", default=None,
                   help="passed to `prunelab bench --parallelism` (e.g. data or blas); default: not passed, "
                        "PruneLab chooses")
    p.add_argument("--skip-prunelab", action="store_true", help="do not time PruneLab")
    p.add_argument("--skip-numpy", action="store_true", help="do not time numpy")
    p.add_argument("--data", default=os.path.join(ROOT, "data/mnist"), help="MNIST folder (default data/mnist)")
    a = p.parse_args()
    if a.threads < 1:
        p.error("--threads must be >= 1")
    if a.repeats < 1:
        p.error("--repeats must be >= 1")
    return a


# ---------------------------------------------------------------------------------------------- data

def load_train(data_dir, np):
    """Training images as [N, 1, 28, 28] float32 in [0, 1] and labels as int64."""
    def find(stem):
        for name in (stem + ".gz", stem):
            path = os.path.join(data_dir, name)
            if os.path.exists(path):
                return path
        sys.exit(f"{data_dir}: no {stem}(.gz)")
    images = read_idx(find("train-images-idx3-ubyte"), np)
    labels = read_idx(find("train-labels-idx1-ubyte"), np).astype(np.int64)
    if images.shape[1:] != (28, 28):
        sys.exit(f"{data_dir}: images are {images.shape[1:]}, LeNet-5 needs 28x28")
    x = images.reshape(len(images), 1, 28, 28).astype(np.float32) / np.float32(255)
    return np.ascontiguousarray(x), labels


def init_params(np, seed):
    """PyTorch's Conv2d/Linear default: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    PyTorch layouts: conv weight [outC, inC, k, k], fc weight [out, in]; fc1's inputs are the
    channel-major flattening of conv2's pooled [50, 4, 4] output."""
    rng = np.random.default_rng(seed)
    params = []
    shapes = [((co, ci, k, k), ci * k * k) for _, ci, co, k, _ in CONVS] + [((o, i), i) for _, i, o in FCS]
    for shape, fan_in in shapes:
        bound = 1 / fan_in ** 0.5
        params.append(rng.uniform(-bound, bound, size=shape).astype(np.float32))
        params.append(rng.uniform(-bound, bound, size=(shape[0],)).astype(np.float32))
    return params


# --------------------------------------------------------------------------------------------- numpy

class NumpyLeNet5:
    """Hand-written forward/backward with preallocated buffers per batch size; all float32.

    Activations are channels-last ([B, H, W, C]) so that im2col rows are (kh, kw, c) with c
    contiguous; the conv weights are kept as [outC, k*k*inC] matrices in that order (converted
    from and to PyTorch's [outC, inC, k, k] layout), fc weights as [in, out]."""

    def __init__(self, np, params):
        self.np = np
        w1, b1, w2, b2, w3, b3, w4, b4 = params
        conv_matrix = lambda w: np.ascontiguousarray(w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1))
        self.params = [conv_matrix(w1), b1.copy(), conv_matrix(w2), b2.copy(),
                       np.ascontiguousarray(w3.T), b3.copy(), np.ascontiguousarray(w4.T), b4.copy()]
        self.velocity = [np.zeros_like(p) for p in self.params]
        self.grads = [np.empty_like(p) for p in self.params]
        self.scratch = [np.empty_like(p) for p in self.params]
        self.w2_blocks = np.empty((25, 50, 20), dtype=np.float32)  # conv2 weight as [kh*kw, outC, inC]
        self.buffers = {}

    def _buffers(self, b):
        if b not in self.buffers:
            np = self.np
            e = lambda *s: np.empty(s, dtype=np.float32)
            self.buffers[b] = dict(
                x=e(b, 28, 28),
                cols1=e(b * 576, 25), y1=e(b * 576, 20), p1=e(b, 12, 12, 20),
                cols2=e(b * 64, 500), y2=e(b * 64, 50), p2=e(b, 4, 4, 50),
                flat=e(b, 800), h3=e(b, 500), z=e(b, 10),
                dflat=e(b, 800), dp2=e(b, 4, 4, 50), dy2=e(b * 64, 50), dcols2=e(25, b * 64, 20),
                dp1=e(b, 12, 12, 20), dy1=e(b * 576, 20), dh3=e(b, 500),
                eq1=np.empty((b, 12, 12, 20), bool), taken1=np.empty((b, 12, 12, 20), bool),
                eq2=np.empty((b, 4, 4, 50), bool), taken2=np.empty((b, 4, 4, 50), bool),
                relu=np.empty((b, 500), bool),
                rows=np.arange(b), zmax=e(b, 1), zsum=e(b, 1), ones=np.ones(b * 576, dtype=np.float32))
        return self.buffers[b]

    @staticmethod
    def _windows(a):
        """The four [B, H/2, W/2, C] views of a [B, H, W, C] array, one per 2x2 window position, in
        PyTorch's scan order (0,0), (0,1), (1,0), (1,1)."""
        b, h, w, c = a.shape
        v = a.reshape(b, h // 2, 2, w // 2, 2, c)
        return [v[:, :, i, :, j, :] for i in (0, 1) for j in (0, 1)]

    def _pool(self, a, out):
        np = self.np
        s = self._windows(a)
        np.maximum(s[0], s[1], out=out)
        np.maximum(out, s[2], out=out)
        np.maximum(out, s[3], out=out)

    def _pool_backward(self, a, pooled, dpooled, da, eq, taken):
        """da (same shape as a) gets dpooled at the first maximum of each window and 0 elsewhere."""
        np = self.np
        for k, (s, d) in enumerate(zip(self._windows(a), self._windows(da))):
            np.equal(s, pooled, out=eq)
            if k == 0:
                np.copyto(taken, eq)
            else:
                np.greater(eq, taken, out=eq)  # eq and not yet taken
                np.logical_or(taken, eq, out=taken)
            np.multiply(dpooled, eq, out=d)

    def step(self, x_all, y_all, idx):
        """One SGD step on samples `idx`; returns the batch's mean loss."""
        np = self.np
        w1, b1, w2, b2, w3, b3, w4, b4 = self.params
        g = self.grads
        n = len(idx)
        buf = self._buffers(n)
        x = buf["x"]
        np.take(x_all, idx, axis=0, out=x)
        y = y_all[idx]
        rows = buf["rows"]
        swv = np.lib.stride_tricks.sliding_window_view

        # conv1 (im2col; one input channel, so columns are (kh, kw)), no activation, pool1.
        cols1 = buf["cols1"]
        np.copyto(cols1.reshape(n, 24, 24, 5, 5), swv(x, (5, 5), axis=(1, 2)))
        y1 = buf["y1"]
        np.matmul(cols1, w1.T, out=y1)
        y1 += b1
        y1_4d = y1.reshape(n, 24, 24, 20)
        p1 = buf["p1"]
        self._pool(y1_4d, p1)

        # conv2 (im2col columns (kh, kw, c)), pool2, channel-major flatten.
        cols2 = buf["cols2"]
        np.copyto(cols2.reshape(n, 8, 8, 5, 5, 20), swv(p1, (5, 5), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3))
        y2 = buf["y2"]
        np.matmul(cols2, w2.T, out=y2)
        y2 += b2
        y2_4d = y2.reshape(n, 8, 8, 50)
        p2 = buf["p2"]
        self._pool(y2_4d, p2)
        flat = buf["flat"]
        np.copyto(flat.reshape(n, 50, 4, 4), p2.transpose(0, 3, 1, 2))

        # fc1, ReLU, fc2.
        h3 = buf["h3"]
        np.matmul(flat, w3, out=h3)
        h3 += b3
        np.maximum(h3, 0, out=h3)
        z = buf["z"]
        np.matmul(h3, w4, out=z)
        z += b4

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

        # Backward through fc2, ReLU, fc1.
        np.matmul(h3.T, z, out=g[6])
        np.sum(z, axis=0, out=g[7])
        dh3 = buf["dh3"]
        np.matmul(z, w4.T, out=dh3)
        np.greater(h3, 0, out=buf["relu"])
        np.multiply(dh3, buf["relu"], out=dh3)
        np.matmul(flat.T, dh3, out=g[4])
        np.sum(dh3, axis=0, out=g[5])
        dflat = buf["dflat"]
        np.matmul(dh3, w3.T, out=dflat)

        # Un-flatten, pool2 backward, conv2 backward (weights, bias, input by col2im).
        dp2 = buf["dp2"]
        np.copyto(dp2, dflat.reshape(n, 50, 4, 4).transpose(0, 2, 3, 1))
        dy2 = buf["dy2"]
        self._pool_backward(y2_4d, p2, dp2, dy2.reshape(n, 8, 8, 50), buf["eq2"], buf["taken2"])
        ones = buf["ones"]
        np.matmul(dy2.T, cols2, out=g[2])
        np.matmul(ones[:n * 64], dy2, out=g[3])  # bias gradient: column sums (BLAS; faster than np.sum)
        # dcols = dy W2 as 25 [B*64, inC] blocks, one per (kh, kw), each contiguous for col2im.
        np.copyto(self.w2_blocks, w2.reshape(50, 25, 20).transpose(1, 0, 2))
        dcols2 = buf["dcols2"]
        np.matmul(dy2, self.w2_blocks, out=dcols2)
        d6 = dcols2.reshape(5, 5, n, 8, 8, 20)
        dp1 = buf["dp1"]
        dp1.fill(0)
        for kh in range(5):
            for kw in range(5):
                dp1[:, kh:kh + 8, kw:kw + 8, :] += d6[kh, kw]

        # pool1 backward, conv1 backward (no gradient for the images).
        dy1 = buf["dy1"]
        self._pool_backward(y1_4d, p1, dp1, dy1.reshape(n, 24, 24, 20), buf["eq1"], buf["taken1"])
        np.matmul(dy1.T, cols1, out=g[0])
        np.matmul(ones, dy1, out=g[1])

        # SGD with momentum: v = m v + g; w -= lr v.
        for p, v, gr, s in zip(self.params, self.velocity, g, self.scratch):
            v *= np.float32(MOMENTUM)
            v += gr
            np.multiply(v, np.float32(LR), out=s)
            p -= s
        return loss


def numpy_epoch(np, x, y, order, params):
    model = NumpyLeNet5(np, params)
    total = 0.0
    t0 = time.perf_counter()
    for s in range(0, len(order), BATCH):
        idx = order[s:s + BATCH]
        total += model.step(x, y, idx) * len(idx)
    return time.perf_counter() - t0, total / len(order)


# --------------------------------------------------------------------------------------------- torch

def torch_model(torch, params):
    """LeNet-5 as nn.Sequential, initialised from `params` (numpy, PyTorch layouts)."""
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2),
                          nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
    with torch.no_grad():
        layers = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
        for k, layer in enumerate(layers):
            layer.weight.copy_(torch.from_numpy(params[2 * k]))
            layer.bias.copy_(torch.from_numpy(params[2 * k + 1]))
    return model


def torch_epoch(torch, x, y, order, params):
    """One epoch with torch.nn/SGD/F.cross_entropy; x is [N, 1, 28, 28]."""
    import torch.nn.functional as F
    model = torch_model(torch, params)
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

def prunelab_command(args):
    cmd = [args.prunelab, "bench", "--model", "lenet-5", "--data", os.path.abspath(args.data),
           "--batch-size", str(BATCH), "--epochs", "1", "--repeats", str(args.repeats),
           "--threads", str(args.threads)]
    if args.parallelism is not None:
        cmd += ["--parallelism", args.parallelism]
    return cmd + ["--json"]


def check_prunelab(args, env):
    """Fail before the long numpy/PyTorch runs when the executable is missing or lacks `bench --model`."""
    if not (os.path.isfile(args.prunelab) and os.access(args.prunelab, os.X_OK)):
        sys.exit(f"{args.prunelab}: no such executable (build it with `swift build -c release`, "
                 "or pass --skip-prunelab)")
    try:
        r = subprocess.run([args.prunelab, "bench", "--help"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as e:
        sys.exit(f"{args.prunelab}: cannot run it ({e})")
    if r.returncode != 0:
        sys.exit(f"`{args.prunelab} bench --help` failed (exit {r.returncode}):\n{r.stdout.strip()}")
    if "--model" not in r.stdout:
        sys.exit(f"{args.prunelab}: `prunelab bench` has no --model option (rebuild it, or pass --skip-prunelab)")
    if args.parallelism is not None and "--parallelism" not in r.stdout:
        sys.exit(f"{args.prunelab}: `prunelab bench` has no --parallelism option")


def run_prunelab(args, env):
    cmd = prunelab_command(args)
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
            if not result["epoch_seconds"]:
                sys.exit(f"prunelab bench JSON has no epoch times: {line[:200]}")
            return cmd, result
    sys.exit(f"prunelab bench printed no JSON object on stdout:\n{r.stdout[-500:]}")


def main():
    args = parse_args()
    args.prunelab = os.path.abspath(args.prunelab)  # it runs from the package root
    t = str(args.threads)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = t
    if not args.skip_prunelab:
        check_prunelab(args, dict(os.environ))
    import numpy as np  # after the thread variables: OpenBLAS reads them when it loads
    import torch
    torch.set_num_threads(args.threads)

    idle_before = other_cpu_share(1.0)
    machine_start, own_start = machine_busy_seconds(), own_cpu_seconds()
    coretype = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    command = shlex.join([os.path.basename(sys.executable)] + sys.argv)
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    header = (f"{date}; CPU {cpu_model()}; {args.threads} threads; OPENBLAS_CORETYPE={coretype}; "
              f"numpy {np.__version__}; torch {torch.__version__}; "
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
    if not args.skip_numpy:
        xn = x.reshape(n, 28, 28)  # one channel: the numpy model takes [N, 28, 28]
        sec, _ = numpy_epoch(np, xn, y, order, params)
        log(f"numpy warm-up epoch: {sec:.3f} s")
        times, loss = [], float("nan")
        for r in range(args.repeats):
            sec, loss = numpy_epoch(np, xn, y, order, params)
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
    lines = ["# Dense LeNet-5 (Caffe variant), one MNIST epoch", "", header, "",
             "| tool | median epoch s | min s | max s | GFLOP/s | ratio PruneLab/tool | train loss |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for tool, (times, loss) in rows.items():
        med = statistics.median(times)
        ratio = f"{pl_median / med:.2f}" if pl_median is not None else "n/a"
        loss_text = f"{loss:.4f}" if loss is not None else "n/a"
        lines.append(f"| {tool} | {med:.3f} | {min(times):.3f} | {max(times):.3f} | {flops / med / 1e9:.1f} "
                     f"| {ratio} | {loss_text} |")
    torch_median = statistics.median(rows["PyTorch"][0])
    lines.append("")
    if pl_median is not None:
        ratio = pl_median / torch_median
        lines.append(f"**Target PruneLab <= {TARGET_RATIO}x PyTorch: {'met' if ratio <= TARGET_RATIO else 'not met'}** "
                     f"(PruneLab/PyTorch {ratio:.2f}"
                     + (f", PruneLab/numpy {pl_median / statistics.median(rows['numpy'][0]):.2f}"
                        if "numpy" in rows else "") + ").")
    else:
        lines.append(f"Target PruneLab <= {TARGET_RATIO}x PyTorch: not checked (PruneLab skipped).")
    lines += ["",
              f"{args.repeats} repeats per tool, each one full epoch of {n} samples (batch {BATCH}, "
              f"{-(-n // BATCH)} steps) on a fresh model; ratio = PruneLab median / tool median "
              f"(above 1: PruneLab is slower); train loss = mean loss over the last timed epoch.",
              f"Network: conv1 1->20 5x5 -> maxpool 2 -> conv2 20->50 5x5 -> maxpool 2 -> fc 800->500 -> ReLU "
              f"-> fc 500->10, softmax cross-entropy; SGD lr {LR} momentum {MOMENTUM}.",
              f"FLOPs per epoch (analytic): {flops:,} = N * (conv: 2*outC*inC*k*k*outH*outW forward, the same "
              f"for the weight gradient and for the input gradient except conv1; fc: 2*in*out forward "
              f"+ 4*in*out backward); bias, activation, pooling and optimiser terms ignored.",
              f"SGEMM reference, 2048x2048 float32, {args.threads} threads: numpy np.matmul "
              f"{numpy_peak:.1f} GFLOP/s"
              + (f"; PruneLab OpenBLAS ({prunelab['blas_core']}) {float(prunelab['sgemm_peak_gflops']):.1f} GFLOP/s"
                 if prunelab else "") + ".",
              f"Threads: {args.threads} for every tool (PyTorch reports {torch_threads}). "
              f"OPENBLAS_CORETYPE={coretype} applies to numpy and PruneLab (both OpenBLAS); "
              f"PyTorch's MKL/oneDNN ignores it."]
    if not args.skip_numpy:
        lines.append("numpy: im2col (sliding_window_view copy) + np.matmul per conv, reshape max pool, "
                     "hand-written backward; elementwise work is single-threaded.")
    else:
        lines.append("numpy: skipped (--skip-numpy).")
    if prunelab:
        lines.append(f"PruneLab: own FLOP count {int(prunelab['flops_per_epoch']):,} per epoch, "
                     f"{float(prunelab['gflops']):.1f} GFLOP/s by it; {prunelab['threads']} threads; "
                     + (f"parallelism {prunelab['parallelism']}; " if "parallelism" in prunelab else "")
                     + f"peak RSS {float(prunelab['peak_rss_mb']):.0f} MiB; command `{shlex.join(cmd)}`.")
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
