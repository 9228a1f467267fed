#!/usr/bin/env bash
# The main job: installs what is missing, builds release, runs the default experiment
# (dense LeNet-300-100 on the MNIST copy in data/mnist) and prints where the results went.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
swift build -c release --product prunelab
out=runs/mnist-lenet300-dense
.build/release/prunelab run configs/mnist-lenet300-dense.json --out "$out" --force
echo "results: $out/summary.csv, $out/layers.csv, $out/metrics.csv"
