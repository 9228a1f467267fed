#!/usr/bin/env bash
# Reproduces the LeNet-5 numbers in README.md and results/: builds release, runs the
# dense, Han and FPGM configs (seed 1), `prunelab compare` of every method including L1 and FPGM
# filter pruning on seeds 1-3, and copies the small files into results/. The epoch benchmark
# against PyTorch and numpy is separate: python3 experiments/bench_lenet5.py.
#   bash experiments/reproduce_lenet5.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
swift build -c release --product prunelab
bin=.build/release/prunelab
mkdir -p runs results
for name in mnist-lenet5-dense mnist-lenet5-han mnist-lenet5-fpgm; do
  /usr/bin/time -f "%M" -o "runs/$name.maxrss" "$bin" run "configs/$name.json" --out "runs/$name" --force --no-progress
  mkdir -p "results/$name"
  for f in summary.csv layers.csv layers-compact.csv rounds.csv prune-curve.csv events.csv config.json; do
    [ -f "runs/$name/$f" ] && cp "runs/$name/$f" "results/$name/$f"
  done
  cat "runs/$name.maxrss" > "results/$name/peak_rss_kb.txt"
done
"$bin" compare configs/mnist-lenet5-compare.json --seeds 1,2,3 --out runs/compare-lenet5 --force
mkdir -p results/compare-lenet5
cp runs/compare-lenet5/comparison.md runs/compare-lenet5/comparison.csv runs/compare-lenet5/timing.csv results/compare-lenet5/
python3 experiments/summarize.py results > results/reproduction.md
echo "results: results/reproduction.md"
