#!/usr/bin/env bash
# The TensorBoard writer's cost on LeNet-300-100 (release build): the same run with
# tensorboard.enabled true and false, alternating, REPEATS times each; prints per run the wall
# seconds, the writer's own seconds (summary.csv tensorboard_seconds) and the event file's size.
# Usage: bash experiments/bench_tensorboard.sh [REPEATS] [EXTRA --set ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-2}; shift || true
bin=.build/release/prunelab
[ -x "$bin" ] || swift build -c release --product prunelab >/dev/null
out=$(mktemp -d /tmp/bench-tb.XXXXXX)
trap 'rm -rf "$out"' EXIT
col() { python3 -c "import csv,sys; r=next(csv.DictReader(open(sys.argv[1]))); print(r.get(sys.argv[2], '-'))" "$1" "$2"; }
echo "config,tensorboard,repeat,wall_seconds,tensorboard_seconds,tb_bytes"
for cfg in "dense:configs/mnist-lenet300-dense.json" "linear:configs/mnist-lenet300-compare.json --set pruning.method=dynamic"; do
  name=${cfg%%:*}; args=${cfg#*:}
  for r in $(seq 1 "$repeats"); do
    for tb in true false; do
      dir="$out/$name-$tb-$r"
      # shellcheck disable=SC2086
      $bin run $args --out "$dir" --no-progress --set tensorboard.enabled=$tb "$@" >/dev/null
      bytes=$(du -cb "$dir"/tb/* 2>/dev/null | tail -1 | cut -f1 || true)
      echo "$name,$tb,$r,$(col "$dir/summary.csv" wall_seconds),$(col "$dir/summary.csv" tensorboard_seconds),${bytes:-0}"
    done
  done
done
