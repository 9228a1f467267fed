#!/usr/bin/env bash
# Reproduces every number quoted in README.md and results/: builds release, runs each shipped
# config (dense and Han for LeNet-300-100 with seeds 1-3, the cat-vs-non-cat course net, the
# carvnocar course pipeline, `prunelab compare` of every method on seeds 1-3), and
# copies the small CSVs into results/. Benchmarks are separate: experiments/bench_lenet300.py and
# experiments/bench_recording.py.
#   bash experiments/reproduce.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
swift build -c release --product prunelab
bin=.build/release/prunelab
run() {  # run NAME CONFIG [--set ...]
  local name=$1 config=$2; shift 2
  /usr/bin/time -f "%M" -o "runs/$name.maxrss" "$bin" run "$config" --out "runs/$name" --force --no-progress "$@"
  mkdir -p "results/$name"
  for f in summary.csv layers.csv rounds.csv prune-curve.csv config.json; do
    [ -f "runs/$name/$f" ] && cp "runs/$name/$f" "results/$name/$f"
  done
  echo "$(cat "runs/$name.maxrss")" > "results/$name/peak_rss_kb.txt"
}
mkdir -p runs results
for seed in 1 2 3; do
  run "mnist-lenet300-dense-seed$seed" configs/mnist-lenet300-dense.json --set seed=$seed
  extra=()
  [ "$seed" = 1 ] || extra=(--set pruning.han.curve.enabled=false)
  run "mnist-lenet300-han-seed$seed" configs/mnist-lenet300-han.json --set seed=$seed "${extra[@]}"
done
run catvnoncat-4layer configs/catvnoncat-4layer.json
for seed in 1 2 3 4 5; do
  run "catvnoncat-4layer-rng-seed$seed" configs/catvnoncat-4layer.json --set seed=$seed --set 'model.init_file=null'
done
run carvnocar-course-han configs/carvnocar-course-han.json
# Dynamic pruning during training against Han, GMP and dense, same seeds and initial weights.
"$bin" compare configs/mnist-lenet300-compare.json --seeds 1,2,3 --out runs/compare --force
mkdir -p results/compare-lenet300
cp runs/compare/comparison.md runs/compare/comparison.csv runs/compare/timing.csv results/compare-lenet300/
cp runs/compare/linear-seed1/events.csv results/compare-lenet300/events-linear-seed1.csv
python3 experiments/summarize.py results > results/reproduction.md
echo "results: results/reproduction.md"
