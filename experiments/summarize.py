"""Turns the run CSVs copied into results/ by experiments/reproduce.sh into results/reproduction.md.

    python3 experiments/summarize.py results > results/reproduction.md
Only the standard library: every number printed is read from a CSV a run wrote.
"""
import csv
import os
import statistics
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "results"


def rows(name, file):
    path = os.path.join(root, name, file)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summary(name):
    r = rows(name, "summary.csv")
    return r[0] if r else None


def rss(name):
    p = os.path.join(root, name, "peak_rss_kb.txt")
    return int(open(p).read().strip()) / 1024 if os.path.exists(p) else float("nan")


def ms(xs):
    return (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)


out = []
p = out.append


def curve_table(name, source):
    """The accuracy-vs-sparsity curve of a run at a few sparsities, one row per scope."""
    curve = rows(name, "prune-curve.csv")
    if not curve:
        return
    p(f"Accuracy vs sparsity **without retraining**, from {source}:\n")
    keys = []
    for r in curve:
        k = (r["scope"], r["layer"])
        if k not in keys:
            keys.append(k)
    picks = ["0.5", "0.7", "0.8", "0.9", "0.95", "0.98", "0.99"]
    p("| scope | " + " | ".join(picks) + " |")
    p("| --- |" + " --- |" * len(picks))
    for k in keys:
        vals = {r["sparsity"]: float(r["test_accuracy"]) for r in curve if (r["scope"], r["layer"]) == k}
        label = k[0] if k[0] != "only" else f"only {k[1]}"
        p(f"| {label} | " + " | ".join(f"{vals[x]:.4f}" if x in vals else "" for x in picks) + " |")
    p("")


p("# Reproduction: Han et al. 2015's tables, the course nets, and every method on the same seeds\n")
p("Every number here was read from a run folder written by a release build; regenerate all of it with")
p("`bash experiments/reproduce.sh` (LeNet-300-100, cat vs non-cat, carvnocar) and `bash experiments/reproduce_lenet5.sh`")
p("(LeNet-5: about 50 minutes on 2 cores, most of it the 24 runs of the comparison). Per-run CSVs sit in the folders beside")
p("this file. Machine: a shared 2-core AMD EPYC, OpenBLAS 0.3.21 with `OPENBLAS_CORETYPE=Haswell`; wall times: compare")
p("them within a table, not across days. These runs predate the sparse kernels (every product on SGEMM); with the default")
p("`training.kernel: auto` a pruned run now sums in another order and differs in the last bits, and")
p("`--set training.kernel=dense` reproduces the SGEMM path.\n")

dense = [(s, summary(f"mnist-lenet300-dense-seed{s}")) for s in (1, 2, 3)]
dense = [(s, d) for s, d in dense if d]
if dense:
    p("## LeNet-300-100 on MNIST, dense (`configs/mnist-lenet300-dense.json`, 20 epochs)\n")
    p("| seed | test accuracy | test loss | train accuracy | wall s | peak RSS MiB |")
    p("| --- | --- | --- | --- | --- | --- |")
    for s, d in dense:
        p(f"| {s} | {float(d['test_accuracy']):.4f} | {float(d['test_loss']):.4f} | {float(d['train_accuracy']):.4f} | {float(d['wall_seconds']):.1f} | {rss(f'mnist-lenet300-dense-seed{s}'):.0f} |")
    m, sd = ms([float(d["test_accuracy"]) for _, d in dense])
    p(f"\nMean test accuracy {m:.4f} ± {sd:.4f} (std over {len(dense)} seeds).\n")

han = [(s, summary(f"mnist-lenet300-han-seed{s}")) for s in (1, 2, 3)]
han = [(s, h) for s, h in han if h]
if han:
    p("## Han et al. 2015 baseline, LeNet-300-100 (`configs/mnist-lenet300-han.json`)\n")
    p("Dense training as above, then 6 rounds of per-layer magnitude pruning (geometric schedule to fc1 92%,")
    p("fc2 91%, fc3 74% sparsity) each followed by 5 epochs of retraining (cosine from 0.03).\n")
    p("| seed | test error | sparsity | weights kept | fc1 kept | fc2 kept | fc3 kept | train GFLOP | of which retraining | wall s |")
    p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for s, h in han:
        layers = {r["layer"]: r for r in rows(f"mnist-lenet300-han-seed{s}", "layers.csv")}
        kept = {k: int(v["nonzero"]) / int(v["weights"]) for k, v in layers.items()}
        rounds = rows(f"mnist-lenet300-han-seed{s}", "rounds.csv")
        rf = sum(int(r["round_train_flops"]) for r in rounds)
        p(f"| {s} | {100 * (1 - float(h['test_accuracy'])):.2f}% | {float(h['sparsity']):.4f} | {1 - float(h['sparsity']):.2%} | "
          f"{kept.get('fc1', 0):.1%} | {kept.get('fc2', 0):.1%} | {kept.get('fc3', 0):.1%} | {int(h['train_flops']) / 1e9:.0f} | {rf / 1e9:.0f} | {float(h['wall_seconds']):.1f} |")
    p("| paper | 1.59% | 0.92 | 8% | 8% | 9% | 26% | | | |")
    m, sd = ms([1 - float(h["test_accuracy"]) for _, h in han])
    p(f"\nMean test error {100 * m:.2f}% ± {100 * sd:.2f}% over {len(han)} seeds.\n")
    name = "mnist-lenet300-han-seed1"
    layers = rows(name, "layers.csv")
    if layers:
        p("Per-layer table of seed 1 (`prunelab inspect runs/mnist-lenet300-han-seed1`; FLOPs per sample, forward):\n")
        p("| layer | weights | nonzero | sparsity | dense FLOPs | sparse FLOPs |")
        p("| --- | --- | --- | --- | --- | --- |")
        for r in layers:
            p(f"| {r['layer']} | {r['weights']} | {r['nonzero']} | {float(r['sparsity']):.4f} | {r['dense_flops']} | {r['sparse_flops']} |")
        h = summary(name)
        p(f"\nModel on disk: `model.h5` (dense weights + masks) {int(h['dense_bytes']):,} bytes, "
          f"`model-sparse.h5` (CSR) {int(h['sparse_bytes']):,} bytes ({int(h['dense_bytes']) / int(h['sparse_bytes']):.1f}x smaller).\n")
    rounds = rows(name, "rounds.csv")
    if rounds:
        p("Rounds of seed 1 (`rounds.csv`):\n")
        p("| round | sparsity after | test acc. after pruning | after retraining |")
        p("| --- | --- | --- | --- |")
        for r in rounds:
            p(f"| {r['round']} | {float(r['sparsity_after']):.4f} | {float(r['test_accuracy_pruned']):.4f} | {float(r['test_accuracy_retrained']):.4f} |")
        p("")
    curve_table(name, "the dense model of seed 1 (`prune-curve.csv`, 0 to 0.99 by 0.01)")

cat = summary("catvnoncat-4layer")
if cat:
    p("## Cat vs non-cat, [12288, 20, 7, 5, 1] (`configs/catvnoncat-4layer.json`)\n")
    p("Full-batch gradient descent, 2500 steps at 0.0075, as in the course exercise. The config starts from the")
    p("course's own initial weights (`experiments/course_init.py`: numpy seed 1), so it re-runs the course's")
    p("experiment in PruneLab; the course reports train 0.986, test 0.80.\n")
    p("| initial weights | train accuracy | test accuracy (50 images) |")
    p("| --- | --- | --- |")
    p(f"| course (numpy seed 1) | {float(cat['train_accuracy']):.4f} | {float(cat['test_accuracy']):.2f} |")
    accs = []
    for s in range(1, 6):
        d = summary(f"catvnoncat-4layer-rng-seed{s}")
        if d:
            accs.append(float(d["test_accuracy"]))
            p(f"| PruneLab RNG, seed {s} | {float(d['train_accuracy']):.4f} | {float(d['test_accuracy']):.2f} |")
    if accs:
        m, sd = ms(accs)
        p(f"\nWith PruneLab's own initialization (`--set model.init_file=null`, same 1/sqrt(fan_in) normal) the test")
        p(f"accuracy is {m:.3f} ± {sd:.3f} over {len(accs)} seeds: 50 test images make it a noisy number (one image is 0.02).\n")

seed = summary("carvnocar-course-han")
if seed:
    p("## The carvnocar course pipeline (`configs/carvnocar-course-han.json`)\n")
    p("The `seed-carvnocar` net (hidden 5-4-3-2, sigmoid output), full-batch GD at 0.035 for 4000 steps, then 39")
    p("rounds of pruning below the 5th percentile of each hidden layer's surviving |w| with 220 retraining steps")
    p("at 0.05. Run on the cat-vs-non-cat images in carvnocar's layout (the real file is private).\n")
    p("| | value |")
    p("| --- | --- |")
    p(f"| sparsity of the pruned layers (all but the output) after 39 rounds | {float(seed['pruned_sparsity']):.5f} |")
    p("| the carvnocar course pipeline's own figure | 0.86406 |")
    p(f"| test accuracy | {float(seed['test_accuracy']):.2f} |")
    p(f"| train FLOPs (dense + 39 retrainings) | {int(seed['train_flops']) / 1e9:.1f} G (dense equivalent {int(seed['dense_train_flops']) / 1e9:.1f} G) |")
    p("\nThe surviving counts are fixed by the rule (each round removes the `floor(0.05 (n-1)) + 1` smallest of n")
    p("survivors when values are distinct), so the sparsity does not depend on the data; a layer down to one")
    p("weight keeps it (the course pipeline's code crashed on an empty percentile there). This 5-4-3-2 network is fragile on")
    p("cat-vs-non-cat at this learning rate: it often collapses to predicting one class (see the test accuracy).\n")

cmp_md = os.path.join(root, "compare-lenet300", "comparison.md")
if os.path.exists(cmp_md):
    p("## Pruning during training vs Han (`prunelab compare configs/mnist-lenet300-compare.json --seeds 1,2,3`)\n")
    p("Same data order and initial weights per seed for every method. Dynamic methods prune on one cubic schedule")
    p("(epoch 1 to 10, checks every 50 steps, max 10% of a layer per check) to fc1 92%, fc2 91%, fc3 74% inside a")
    p("single 20-epoch run; Han trains 20 epochs dense, then 6 rounds x 5 epochs of retraining. All methods of one")
    p("schedule share `train_flops` (the schedule fixes how many weights are live at each step; the criterion only")
    p("picks which). Wall times per seed are in `compare-lenet300/timing.csv`; `events-linear-seed1.csv` lists")
    p("every pruning check of the linear criterion.\n")
    with open(cmp_md) as f:
        body = f.read().split("\n")
    for line in body[1:]:
        p(line.replace("## ", "### ", 1) if line.startswith("## ") else line)

# ---- LeNet-5: experiments/reproduce_lenet5.sh ----
PAPER_KEPT = {"conv1": 0.66, "conv2": 0.12, "fc1": 0.08, "fc2": 0.19}
d5, h5, f5 = summary("mnist-lenet5-dense"), summary("mnist-lenet5-han"), summary("mnist-lenet5-fpgm")
if d5 or h5:
    p("## LeNet-5 on MNIST (`configs/mnist-lenet5-*.json`, `bash experiments/reproduce_lenet5.sh`)\n")
    p("Caffe's LeNet-5 (conv 20@5x5, pool 2, conv 50@5x5, pool 2, fc 500 ReLU, fc 10; 430,500 weights), 15 epochs")
    p("of SGD (lr 0.02 cosine, momentum 0.9, weight decay 5e-4, batch 128), seed 1.\n")
    p("| run | test accuracy | test error | sparsity | train GFLOP | wall s | peak RSS MiB |")
    p("| --- | --- | --- | --- | --- | --- | --- |")
    for name, r in (("mnist-lenet5-dense", d5), ("mnist-lenet5-han", h5), ("mnist-lenet5-fpgm", f5)):
        if r:
            p(f"| `{name}` | {float(r['test_accuracy']):.4f} | {100 * (1 - float(r['test_accuracy'])):.2f}% | {float(r['sparsity']):.4f} | "
              f"{int(r['train_flops']) / 1e9:.0f} | {float(r['wall_seconds']):.1f} | {rss(name):.0f} |")
    p("")
if h5:
    layers = rows("mnist-lenet5-han", "layers.csv")
    p("Han et al. 2015's LeNet-5 table (their table 2), from `mnist-lenet5-han/layers.csv`: weights, forward")
    p("FLOPs per sample (2 per multiply-add; a conv weight is used once per output position; bias adds included),")
    p("and what pruning kept:\n")
    p("| layer | shape | weights | dense FLOPs | nonzero | kept | paper kept | sparse FLOPs | FLOPs kept |")
    p("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    tw = tn = tdf = tsf = 0
    for r in layers:
        w, nz, df, sf = int(r["weights"]), int(r["nonzero"]), int(r["dense_flops"]), int(r["sparse_flops"])
        tw += w; tn += nz; tdf += df; tsf += sf
        pk = PAPER_KEPT.get(r["layer"])
        p(f"| {r['layer']} | {r['shape']} | {w:,} | {df:,} | {nz:,} | {nz / w:.1%} | {f'{pk:.0%}' if pk else ''} | {sf:,} | {sf / df:.1%} |")
    p(f"| total | | {tw:,} | {tdf:,} | {tn:,} | {tn / tw:.1%} | 8% | {tsf:,} | {tsf / tdf:.1%} |")
    p(f"\nTest error {100 * (1 - float(h5['test_accuracy'])):.2f}% at sparsity {float(h5['sparsity']):.4f} (the paper: 0.77% at 8% kept,"
      f" from a 0.80% baseline). `model-sparse.h5` {int(h5['sparse_bytes']):,} bytes vs `model.h5` {int(h5['dense_bytes']):,}.\n")
    rounds = rows("mnist-lenet5-han", "rounds.csv")
    if rounds:
        p("| round | sparsity after | test acc. after pruning | after retraining |")
        p("| --- | --- | --- | --- |")
        for r in rounds:
            p(f"| {r['round']} | {float(r['sparsity_after']):.4f} | {float(r['test_accuracy_pruned']):.4f} | {float(r['test_accuracy_retrained']):.4f} |")
        p("")
    curve_table("mnist-lenet5-han", "the dense LeNet-5 (`prune-curve.csv`)")
if f5:
    p("### FPGM filter pruning, compacted (`configs/mnist-lenet5-fpgm.json`)\n")
    p("Half of conv1's and conv2's filters, those nearest their layer's geometric median, are zeroed at the end of")
    p("every epoch (soft pruning: they keep training), removed for good after epoch 15, then 2 epochs of")
    p("fine-tuning with the masks held. The pruned model is compacted into a smaller network (conv1 10 filters,")
    p("conv2 25 filters on 10 input channels, fc1 400 inputs) that gives the masked network's outputs")
    p(f"(largest logit difference on 1000 test images: {float(f5['compact_max_abs_diff']):.1e}). Inference is one forward pass on")
    p("one thread, median of 200 (batch 1) or 30 (batch 128) repeats.\n")
    p("| model | test accuracy | weights | file bytes | forward FLOPs / sample | ms, batch 1 | ms, batch 128 |")
    p("| --- | --- | --- | --- | --- | --- | --- |")
    if d5:
        p(f"| dense LeNet-5 (`mnist-lenet5-dense`) | {float(d5['test_accuracy']):.4f} | {int(d5['total_weights']):,} | {int(d5['dense_bytes']):,} | "
          f"{int(f5['dense_flops']):,} | {float(d5['infer_ms_b1']):.3f} | {float(d5['infer_ms_b128']):.2f} |")
    p(f"| FPGM, masked (full size) | {float(f5['test_accuracy']):.4f} | {int(f5['total_weights']):,} | {int(f5['dense_bytes']):,} | "
      f"{int(f5['dense_flops']):,} | {float(f5['infer_ms_b1']):.3f} | {float(f5['infer_ms_b128']):.2f} |")
    p(f"| FPGM, compacted (`model-compact.h5`) | {float(f5['compact_test_accuracy']):.4f} | {int(f5['compact_weights']):,} | {int(f5['compact_bytes']):,} | "
      f"{int(f5['compact_flops']):,} | {float(f5['compact_infer_ms_b1']):.3f} | {float(f5['compact_infer_ms_b128']):.2f} |")
    p("")
cmp5 = os.path.join(root, "compare-lenet5", "comparison.md")
if os.path.exists(cmp5):
    p("### LeNet-5: every method on the same seeds (`prunelab compare configs/mnist-lenet5-compare.json --seeds 1,2,3`)\n")
    p("10 training epochs per run. Han: 3 rounds x 2 epochs of retraining to conv1 34%, conv2 88%, fc1 92.5%, fc2 81%")
    p("sparsity; the dynamic criteria reach the same targets in-training (cubic ramp, epoch 1 to 7); `l1` and `fpgm`")
    p("remove half of the conv filters (soft, every epoch) and fine-tune 1 epoch. Inference and wall times per seed")
    p("are in `compare-lenet5/timing.csv`.\n")
    with open(cmp5) as f:
        body = f.read().split("\n")
    for line in body[1:]:
        p(line.replace("## ", "#### ", 1) if line.startswith("## ") else line)
bench_runs = []
for i in range(1, 10):
    f = os.path.join(root, "data", f"dense-epoch-lenet5-zen5-run{i}.csv")
    if os.path.exists(f):
        with open(f, newline="") as fh:
            times = {}
            for r in csv.DictReader(fh):
                times.setdefault(r["tool"], []).append(float(r["epoch_seconds"]))
        bench_runs.append((i, {t: statistics.median(v) for t, v in times.items()}))
if bench_runs:
    p("### LeNet-5 training epoch: PruneLab vs PyTorch vs numpy (`python3 experiments/bench_lenet5.py --repeats 5`)\n")
    p("Median epoch seconds of 5 repeats per tool, all at 2 threads in one run; `OPENBLAS_CORETYPE=Haswell` applies to")
    p("numpy and PruneLab (OpenBLAS), PyTorch's MKL/oneDNN ignores it. Data: `data/dense-epoch-lenet5-zen5-run*.csv`; machine: speed.md.\n")
    p("| run | PruneLab s | numpy s | PyTorch s | PruneLab / numpy | PruneLab / PyTorch |")
    p("| --- | --- | --- | --- | --- | --- |")
    cols = {"PruneLab": [], "numpy": [], "PyTorch": []}
    for i, m in bench_runs:
        pl, npy, pt = m.get("PruneLab"), m.get("numpy"), m.get("PyTorch")
        if None in (pl, npy, pt):
            continue
        cols["PruneLab"].append(pl); cols["numpy"].append(npy); cols["PyTorch"].append(pt)
        p(f"| {i} | {pl:.3f} | {npy:.3f} | {pt:.3f} | {pl / npy:.2f} | {pl / pt:.2f} |")
    if cols["PruneLab"]:
        med = {k: statistics.median(v) for k, v in cols.items()}
        rn = statistics.median([a / b for a, b in zip(cols["PruneLab"], cols["numpy"])])
        rt = statistics.median([a / b for a, b in zip(cols["PruneLab"], cols["PyTorch"])])
        p(f"| median | {med['PruneLab']:.3f} | {med['numpy']:.3f} | {med['PyTorch']:.3f} | {rn:.2f} | {rt:.2f} |")
    p("")

print("\n".join(out))
