"""Helpers shared by the epoch benchmarks (bench_lenet300.py, bench_lenet5.py, bench_sparse*.py): logging, the CPU
model, how busy the machine was (from /proc/stat), the IDX reader, numpy's SGEMM reference, and a
report's first line, closing lines on the machine and files (Markdown and per-repeat CSV).
Only the standard library; numpy is passed in by the caller (it must be imported after the
thread variables are set).
"""
import gzip
import os
import platform
import statistics
import sys
import time


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_busy_seconds():
    """Non-idle CPU time of the whole machine so far (all CPUs, seconds), from /proc/stat; None if unreadable."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal (guest times are already in user/nice)
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def other_cpu_share(seconds):
    """Share of all CPUs that other processes used over the next `seconds` (this one sleeps)."""
    a = machine_busy_seconds()
    time.sleep(seconds)
    b = machine_busy_seconds()
    if a is None or b is None:
        return 0.0
    return max(0.0, (b - a) / (seconds * (os.cpu_count() or 1)))


def total_seconds(rows):
    return sum(sum(times) for times, _ in rows.values())


def read_idx(path, np):
    """An IDX file (gzip or raw) as a numpy array; only the uint8 type MNIST uses."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        sys.exit(f"{path}: not a uint8 IDX file (magic {raw[:4].hex()})")
    rank = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * d: 8 + 4 * d], "big") for d in range(rank))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
    if data.size != int(np.prod(shape)):
        sys.exit(f"{path}: shape {shape} needs {int(np.prod(shape))} bytes, has {data.size}")
    return data.reshape(shape)


def numpy_sgemm_peak(np, n=2048, repeats=7):
    rng = np.random.default_rng(1)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=c)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def numpy_blas_kernel(np):
    """The OpenBLAS kernel numpy's bundled OpenBLAS runs (e.g. 'Haswell'), read through ctypes from the
    library in numpy.libs; 'unknown' when it cannot be found (threadpoolctl reports the same)."""
    import ctypes
    import glob
    libs = glob.glob(os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs", "*openblas*"))
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename"):
            f = getattr(lib, name, None)
            if f is not None:
                f.restype = ctypes.c_char_p
                return f().decode()
    return "unknown"


def torch_kernel(torch):
    """PyTorch's CPU math: BLAS library and the vector ISA its kernels dispatch to."""
    blas = "MKL" if torch.backends.mkl.is_available() else "no MKL"
    return f"{blas}, CPU capability {torch.backends.cpu.get_cpu_capability()}"


def cpu_description():
    """`cpu_model()` with the cpuid family/model and the widest vector extension, e.g.
    'AMD EPYC (family 26 model 2, AVX-512)': the model name alone does not tell Zen 4 from Zen 5."""
    fam = mod = None
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key = line.split(":", 1)[0].strip()
                if key == "cpu family" and fam is None:
                    fam = line.split(":", 1)[1].strip()
                elif key == "model" and mod is None:
                    mod = line.split(":", 1)[1].strip()
                elif key == "flags" and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "AVX" if "avx" in flags else "SSE"
    return f"{cpu_model()} (family {fam} model {mod}, {isa})"


def run_header(threads, torch):
    """The first line of a report: date, CPU, threads, OPENBLAS_CORETYPE, PyTorch and its kernel, the command."""
    import datetime
    import shlex
    coretype = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    command = shlex.join([os.path.basename(sys.executable)] + sys.argv)
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (f"{date}; CPU {cpu_description()}; {threads} threads; OPENBLAS_CORETYPE={coretype}; "
            f"torch {torch.__version__} ({torch_kernel(torch)}); command: `{command}`")


def machine_lines(idle_before, machine_start, own_start, timed_seconds, busy_share):
    """The report's closing lines on the machine: load average, what other processes used during the
    run (from /proc/stat minus this process and its children), and a warning when that was more than
    `busy_share` of the CPUs before the run or of the timed seconds during it."""
    others = None
    if machine_start is not None:
        others = max(0.0, (machine_busy_seconds() - machine_start) - (own_cpu_seconds() - own_start))
    lines = ["", f"Load average at the end: {open('/proc/loadavg').read().split()[:3]} on {os.cpu_count()} CPUs.",
             "", f"Other processes: {idle_before * 100:.0f}% of the CPUs in the second before the run, "
             f"{'unknown' if others is None else format(others, '.1f')} CPU-seconds during it."]
    if idle_before > busy_share or (others is not None and others > busy_share * timed_seconds):
        lines.append("**Warning:** other processes used the CPUs during this run; numbers are noisy.")
    return lines


def write_epoch_report(out, report, times, cpu, threads):
    """Prints `report`, writes it to `out` and the per-repeat epoch seconds ({(tool, sparsity): [s]}, with
    `cpu` the process CPU seconds alike) to the CSV beside it; returns (report path, CSV path)."""
    print(report, end="")
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(report)
    csv_path = os.path.splitext(out)[0] + ".csv"
    with open(csv_path, "w") as f:
        f.write("tool,sparsity,repeat,epoch_seconds,epoch_cpu_seconds,threads\n")
        for (tool, s), ts in times.items():
            cs = cpu.get((tool, s), [])
            for i, t in enumerate(ts):
                c = f"{cs[i]:.6f}" if i < len(cs) else ""
                f.write(f"{tool},{s:g},{i + 1},{t:.6f},{c},{threads}\n")
    return out, csv_path
