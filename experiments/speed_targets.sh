#!/usr/bin/env bash
# Every measurement behind the pruned-training speed table of results/speed.md, one after the
# other (run it on an otherwise idle machine; about 35 minutes on 2 cores), then the table:
#
#   bash experiments/speed_targets.sh [OUT]          (default OUT: runs/speed-targets)
#   PRUNELAB=path/to/prunelab SEEDS="1 2 3" PARTS="fixed lenet300 lenet5 runs rss" bash experiments/speed_targets.sh OUT
#
# PARTS (default all five) picks the measurements: fixed (1), lenet300 and lenet5 (2), runs (3),
# rss (4); with `runs`, MODELS="lenet5 lenet300" picks the models of 3.
#
# 1. Fixed-mask epochs side by side with PyTorch in one run each: LeNet-300-100
#    (experiments/bench_sparse.py) and LeNet-5 (experiments/bench_sparse_lenet5.py).
# 2. End to end, one `prunelab compare` per seed (a seed's arms back to back): LeNet-300-100 with
#    dense, Han, magnitude and linear; LeNet-5 at 0.92 sparsity with dense, magnitude and linear.
# 3. Structured runs per seed, each its own process under /usr/bin/time (peak RSS): LeNet-5 dense,
#    FPGM (the full-size network trains on), FPGM compacted during training; LeNet-300-100 dense and
#    the `units` method (half of the hidden neurons).
# 4. Peak RSS of a dense and a magnitude run of each compare config, seed 1, one process each.
# Every default as a user gets it (kernel `auto`, threads = cores, TensorBoard and checkpoints on).
# experiments/speed_targets_table.py then writes OUT/targets.md from the folders.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${PRUNELAB:-.build/release/prunelab}
OUT=${1:-runs/speed-targets}
SEEDS=${SEEDS:-"1 2 3"}
PARTS=${PARTS:-"fixed lenet300 lenet5 runs rss"}
MODELS=${MODELS:-"lenet5 lenet300"}
want() { [[ " $PARTS " == *" $1 "* ]]; }
for p in $PARTS; do
    case $p in fixed | lenet300 | lenet5 | runs | rss) ;;
    *) echo "speed_targets.sh: PARTS: unknown part '$p' (fixed, lenet300, lenet5, runs, rss)" >&2; exit 1 ;;
    esac
done
for m in $MODELS; do
    case $m in lenet5 | lenet300) ;;
    *) echo "speed_targets.sh: MODELS: unknown model '$m' (lenet5, lenet300)" >&2; exit 1 ;;
    esac
done
if [ -e "$OUT" ]; then
    echo "speed_targets.sh: $OUT exists; give a new folder" >&2
    exit 1
fi
mkdir -p "$OUT/runs" "$OUT/rss"
log() { echo "[$(date -u +%H:%M:%S)] $*"; }

if want fixed; then
    log "fixed-mask epochs"
    python3 experiments/bench_sparse.py --sparsity 0,0.9,0.95 --threads 2 --repeats 5 \
        --out "$OUT/bench-sparse.md" --prunelab "$BIN"
    python3 experiments/bench_sparse_lenet5.py --sparsity 0,0.9,0.92,0.95 --threads 2 --repeats 3 \
        --out "$OUT/bench-sparse-lenet5.md" --prunelab "$BIN"
fi

for s in $SEEDS; do
    want lenet300 || break
    log "LeNet-300-100 compare, seed $s"
    "$BIN" compare configs/mnist-lenet300-compare.json --seeds "$s" --methods dense,han,magnitude,linear \
        --out "$OUT/lenet300/seed$s" --no-progress > /dev/null
done
for s in $SEEDS; do
    want lenet5 || break
    log "LeNet-5 compare, seed $s"
    "$BIN" compare configs/mnist-lenet5-compare.json --seeds "$s" --methods dense,magnitude,linear \
        --out "$OUT/lenet5/seed$s" --no-progress > /dev/null
done
RUNS=""
[[ " $MODELS " == *" lenet5 "* ]] && RUNS="$RUNS lenet5-dense lenet5-fpgm lenet5-fpgm-compact"
[[ " $MODELS " == *" lenet300 "* ]] && RUNS="$RUNS lenet300-dense lenet300-units"
for s in $SEEDS; do
    want runs || break
    for c in $RUNS; do
        log "$c, seed $s"
        /usr/bin/time -f "%M" -o "$OUT/runs/$c-seed$s.rss" \
            "$BIN" run "configs/mnist-$c.json" --set "seed=$s" --out "$OUT/runs/$c-seed$s" --no-progress > /dev/null
    done
done
for c in $MODELS; do
    want rss || break
    log "$c peak memory"
    /usr/bin/time -f "%M" -o "$OUT/rss/$c-dense.rss" \
        "$BIN" run "configs/mnist-$c-compare.json" --out "$OUT/rss/$c-dense" --no-progress > /dev/null
    /usr/bin/time -f "%M" -o "$OUT/rss/$c-magnitude.rss" \
        "$BIN" run "configs/mnist-$c-compare.json" --set pruning.method=dynamic \
        --set pruning.dynamic.criterion=magnitude --out "$OUT/rss/$c-magnitude" --no-progress > /dev/null
done
log "table"
python3 experiments/speed_targets_table.py "$OUT"
