#!/usr/bin/env bash
# What trajectories predict: dense 20-epoch runs of LeNet-300-100 (MNIST, Fashion-MNIST) and
# LeNet-5 (MNIST), seeds 1-3, recorded every 10 steps into trajectories.h5 (4000 weights per
# layer, a seeded uniform sample), then `prunelab predictability` over the seeds of each pair.
# Outputs: results/trajectory-study/predictability-<pair>/ (CSV, Markdown, one SVG per layer).
#   bash experiments/trajectory-study/predictability.sh [BIN]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-.build/release/prunelab}
rec=(--set pruning.method=dense --set recording.enabled=true --set recording.format=hdf5
     --set recording.every=10it --set recording.store_samples=4000 --set training.epochs=20 --no-progress)
for pair in mnist-lenet300 fashion-lenet300 mnist-lenet5; do
  case $pair in
    mnist-lenet300) cfg=configs/mnist-lenet300-compare.json ;;
    fashion-lenet300) cfg=configs/fashion-lenet300-compare.json ;;
    mnist-lenet5) cfg=configs/mnist-lenet5-compare.json ;;
  esac
  runs=()
  for s in 1 2 3; do
    dir=runs/predictability/$pair-seed$s
    [ -f "$dir/trajectories.h5" ] || "$bin" run "$cfg" --out "$dir" --force --set seed=$s "${rec[@]}"
    runs+=("$dir")
  done
  "$bin" predictability "${runs[@]}" --out "results/trajectory-study/predictability-$pair"
done
