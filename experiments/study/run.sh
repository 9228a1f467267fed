#!/usr/bin/env bash
# The pruning-during-training study, as sweeps (release build, from the repo root).
#
#   bash experiments/study/run.sh reduced            # 32 runs, --jobs 1: results/study-reduced/
#   bash experiments/study/run.sh full [FLAGS...]    # 304 runs; FLAGS go to every `prunelab sweep`,
#                                                    # e.g. --jobs 2, or --backend slurm --partition cpu
#   bash experiments/study/run.sh equal-flops [FLAGS...]  # 40 runs: GMP and linear at Han's FLOPs (MNIST)
#   bash experiments/study/run.sh tables             # the Markdown tables of results/study.md
#
# full: LeNet-300-100 on MNIST and on Fashion-MNIST at target sparsity 0.8/0.9/0.95/0.98 with
# han, magnitude (GMP), linear, stalled, movement, random and snip/init, 5 seeds, every method
# at Han's 50 epochs (20 + 6 rounds x 5 retraining); LeNet-5 on MNIST at 0.9/0.95 with han,
# magnitude, linear and movement, 3 seeds, at Han's 16 epochs. Re-run the same command after an
# interruption: completed points are kept. Each sweep folder gets runs.csv, aggregate.csv,
# curve.csv and aggregate.md (baseline han; `prunelab aggregate DIR --baseline magnitude` for GMP).
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-reduced}
shift || true
swift build -c release --product prunelab >/dev/null
bin=.build/release/prunelab
# aggregate.md/.csv, curve.csv, runs.csv (baseline han) and the GMP-baseline versions into results/
collect() {
  local out=results/study-$1
  mkdir -p "$out"
  "$bin" aggregate "runs/study-$1" --baseline magnitude >/dev/null
  cp "runs/study-$1/aggregate.md" "$out/aggregate-vs-magnitude.md"
  cp "runs/study-$1/curve.csv" "$out/curve-vs-magnitude.csv"
  "$bin" aggregate "runs/study-$1" >/dev/null
  cp "runs/study-$1"/{runs.csv,aggregate.csv,curve.csv,aggregate.md} "$out/"
  "$bin" report "runs/study-$1" >/dev/null
  cp "runs/study-$1/report.html" "$out/"
}
case "$mode" in
  reduced)
    start=$(date +%s)
    nice -n 10 "$bin" sweep experiments/study/reduced-lenet300.json --out runs/study-reduced --jobs 1 "$@"
    echo "wall time: $(( $(date +%s) - start )) s"
    mkdir -p results/study-reduced
    "$bin" aggregate runs/study-reduced --baseline magnitude >/dev/null
    cp runs/study-reduced/aggregate.csv results/study-reduced/aggregate-vs-magnitude.csv
    cp runs/study-reduced/aggregate.md results/study-reduced/aggregate-vs-magnitude.md
    "$bin" aggregate runs/study-reduced >/dev/null
    cp runs/study-reduced/{runs.csv,aggregate.csv,curve.csv,aggregate.md} results/study-reduced/
    ;;
  full)
    # every sweep, then its aggregates (baseline han, and GMP) copied to results/study-NAME/
    for n in mnist-lenet300 fashion-lenet300 mnist-lenet5; do
      start=$(date +%s)
      "$bin" sweep "experiments/study/$n.json" --out "runs/study-$n" "$@"
      echo "study-$n: wall time $(( $(date +%s) - start )) s"
      collect "$n"
    done
    ;;
  equal-flops)
    # the in-training methods at Han's training FLOPs (needs the full MNIST sweep): the sweep
    # file is solved from that sweep's FLOP counts, its han points copied in (same configs)
    python3 experiments/study/equal_flops.py plan
    python3 experiments/study/equal_flops.py seed "$bin" mnist
    start=$(date +%s)
    "$bin" sweep experiments/study/mnist-lenet300-equal-flops.json --out runs/study-mnist-lenet300-equal-flops "$@"
    echo "study-mnist-lenet300-equal-flops: wall time $(( $(date +%s) - start )) s"
    collect mnist-lenet300-equal-flops
    ;;
  tables)
    python3 experiments/study/tables.py results/study-mnist-lenet300 results/study-fashion-lenet300 results/study-mnist-lenet5
    python3 experiments/study/tables.py results/study-mnist-lenet300-equal-flops
    ;;
  *) echo "usage: $0 reduced|full [prunelab sweep flags]" >&2; exit 2 ;;
esac
