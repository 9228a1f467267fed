#!/usr/bin/env bash
# Extrapolate-and-freeze on LeNet-300-100 / MNIST, 20 epochs, seeds 1-5 (release build):
# plain training, freezing alone (nothing pruned), GMP at 0.9, GMP at 0.9 with freezing; then
# plain training and GMP cut to the training FLOPs of their freezing counterparts (same seeds,
# `training.steps` from the FLOP counts). Tables: python3 experiments/trajectory-study/freeze_table.py
#   bash experiments/trajectory-study/freeze.sh [BIN]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-.build/release/prunelab}
"$bin" sweep experiments/trajectory-study/freeze.json --out runs/ts-freeze --jobs 2
python3 experiments/trajectory-study/freeze_table.py plan runs/ts-freeze > runs/ts-freeze-equal.txt
while read -r name target steps seed; do
  dir=runs/ts-freeze-equal/$name-seed$seed
  [ -f "$dir/summary.csv" ] && continue
  if [ "$target" = "0.0" ]; then
    "$bin" run configs/mnist-lenet300-compare.json --out "$dir" --force --no-progress --set seed=$seed \
      --set training.threads=1 --set training.steps=$steps --set pruning.method=dense
  else
    "$bin" run configs/mnist-lenet300-compare.json --out "$dir" --force --no-progress --set seed=$seed \
      --set training.threads=1 --set training.steps=$steps --set pruning.method=dynamic \
      --set pruning.dynamic.criterion=magnitude --set pruning.layer_sparsity=null --set pruning.exclude_output=true \
      --set pruning.target_sparsity=$target
  fi
done < runs/ts-freeze-equal.txt
python3 experiments/trajectory-study/freeze_table.py table runs/ts-freeze runs/ts-freeze-equal
