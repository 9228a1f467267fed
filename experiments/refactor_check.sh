#!/usr/bin/env bash
# Runs every config in a configs folder with one prunelab binary, for checking that a refactor
# changes no result: run it before (old binary, old configs) and after (new binary, new configs),
# then compare the two output folders with experiments/refactor_compare.py.
#
#   bash experiments/refactor_check.sh BIN CONFIG_DIR OUT_DIR [THREADS]
#
# Compare configs run as `prunelab compare --seeds 1` (every default method); the others as
# `prunelab run`. Threads are fixed (default 2) because results depend on the thread count.
set -euo pipefail
bin=$1; configs=$2; out=$3; threads=${4:-2}
mkdir -p "$out"
for f in "$configs"/*.json; do
  name=$(basename "$f" .json)
  if [ -e "$out/$name" ]; then echo "skip $name (exists)"; continue; fi
  echo "== $name $(date +%T)"
  if [[ $name == *compare* ]]; then
    "$bin" compare "$f" --out "$out/$name" --seeds 1 --set training.threads="$threads" 2>&1 | tail -2
  else
    "$bin" run "$f" --out "$out/$name" --set training.threads="$threads" --no-progress 2>&1 | tail -2
  fi
done
echo "done $(date +%T)"
