#!/usr/bin/env bash
# Measurements that need a quiet machine (run nothing else meanwhile), release build, defaults:
# 1. the compare whose comparison.md states costs against the dense and Han arms (seed 1);
# 2. wall seconds of the early-decision runs (ramp ending at epoch 1, sparsity 0.9, MNIST), one
#    compare per seed so each seed's arms run back to back, table by bench_e2e_table.py.
#   bash experiments/trajectory-study/quiet.sh [BIN]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-.build/release/prunelab}
out=results/trajectory-study
"$bin" compare configs/mnist-lenet300-compare.json --seeds 1 --methods dense,han,magnitude,linear \
  --out runs/ts-cost --force --no-progress
mkdir -p "$out/compare-cost"
cp runs/ts-cost/comparison.md runs/ts-cost/comparison.csv runs/ts-cost/timing.csv "$out/compare-cost/"
early=(--set pruning.layer_sparsity=null --set pruning.exclude_output=true --set pruning.target_sparsity=0.9
       --set pruning.dynamic.cubic.start=0ep --set pruning.dynamic.cubic.end=1ep --set pruning.dynamic.cubic.max_per_check=1.0)
dirs=()
for s in 1 2 3; do
  "$bin" compare configs/mnist-lenet300-compare.json --seeds $s --methods dense,magnitude,linear,lrtime,plateau,movement \
    --out runs/ts-quiet/seed$s --force --no-progress "${early[@]}"
  dirs+=(runs/ts-quiet/seed$s)
done
python3 experiments/bench_e2e_table.py --label "early-epoch1=$(IFS=,; echo "${dirs[*]}")" \
  --command "bash experiments/trajectory-study/quiet.sh" --out "$out/early-seconds.md"
