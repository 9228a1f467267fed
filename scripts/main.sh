#!/usr/bin/env bash
# The main job: installs what is missing, builds release, and runs a head-to-head on the MNIST
# copy in data/mnist (LeNet-300-100, 20 epochs, seed 1): dense training, Han et al. 2015
# (train, prune, retrain x6), gradual magnitude pruning and the trajectory criteria linear and
# lrtime, all pruning to fc1 92%, fc2 91%, fc3 74%. Ends with the comparison table (accuracy,
# sparsity, training FLOPs and seconds against the dense and Han arms) and the HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
swift build -c release --product prunelab
out=runs/quickstart
bin=.build/release/prunelab
"$bin" compare configs/mnist-lenet300-compare.json --seeds 1 --methods dense,han,magnitude,linear,lrtime --out "$out" --force
"$bin" report "$out" --out "$out/report.html" >/dev/null
python3 - "$out/comparison.csv" "$out/timing.csv" <<'PY'
import csv, sys
rows = {r["method"]: r for r in csv.DictReader(open(sys.argv[1]))}
times = {r["method"]: r for r in csv.DictReader(open(sys.argv[2]))}
print(f"\n{'method':<10} {'test acc':>8} {'sparsity':>8} {'train GFLOP':>11} {'FLOPs/dense':>11} {'FLOPs/Han':>9} {'wall s':>7} {'s/dense':>7}")
for m, r in rows.items():
    t = times[m]
    f = lambda k, d: f"{float(d[k]):.3f}" if d.get(k) else "-"
    print(f"{m:<10} {float(r['test_accuracy']):>8.4f} {float(r['sparsity']):>8.3f} {float(r['train_flops']) / 1e9:>11.1f} "
          f"{f('train_flops_vs_dense', r):>11} {f('train_flops_vs_han', r):>9} {float(t['wall_seconds']):>7.1f} {f('wall_seconds_vs_dense', t):>7}")
PY
echo
echo "tables: $out/comparison.md   report: $out/report.html"
