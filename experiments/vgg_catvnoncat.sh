#!/usr/bin/env bash
# The carvnocar course project's VGG analysis on the colour cat-vs-non-cat images: one VGG-11-style net
# (`vgg11-cat64`), trained 20 epochs, pruned without retraining from 0 to 99% (global and
# layer-wise, with and without re-estimated batch norm statistics), zooms into 80-90% and
# 90-95% (same seed and threads: the same trained model, checked by the summaries), and the
# bytes of the pruned model (global and layer-wise scope). Release build, 2 threads, nice.
#
#   bash experiments/vgg_catvnoncat.sh [OUT_DIR]     (default runs/vgg-catvnoncat)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/prunelab
cfg=configs/catvnoncat-vgg11.json
out=${1:-runs/vgg-catvnoncat}
run() { nice -n 10 "$bin" run "$cfg" --set training.threads=2 --no-progress "$@"; }
run --out "$out/full"
run --out "$out/zoom80-90" --set pruning.han.curve.from=0.8 --set pruning.han.curve.to=0.9 \
  --set pruning.han.curve.step=0.0025 --set 'pruning.han.curve.footprint=[]'
run --out "$out/zoom90-95" --set pruning.han.curve.from=0.9 --set pruning.han.curve.to=0.95 \
  --set pruning.han.curve.step=0.0025 --set 'pruning.han.curve.footprint=[]'
run --out "$out/layer-footprint" --set pruning.han.scope=layer --set pruning.han.curve.enabled=true \
  --set pruning.han.curve.step=0.33 --set pruning.han.curve.recalibrate_bn=false
