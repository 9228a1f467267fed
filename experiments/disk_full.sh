#!/usr/bin/env bash
# A disk that fills while a run writes its model files: mounts tiny tmpfs file systems (needs
# root; exits 2 without) and runs the cat-vs-non-cat config into each, at sizes that make
# model.h5, then model-sparse.h5, run out of space. Each run must exit 1 with one
# `prunelab: error: ... No space left on device` line (not a segfault, exit status 139),
# leave run.json `failed` with that error and no temporary file behind.
#
#   bash experiments/disk_full.sh [BIN]     (default .build/debug/prunelab)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/debug/prunelab}
mnt=$(mktemp -d /tmp/prunelab-disk-full.XXXXXX)
cleanup() { umount "$mnt" 2>/dev/null; rmdir "$mnt"; }
trap cleanup EXIT
if ! mount -t tmpfs -o size=64k tmpfs "$mnt" 2>/dev/null; then
  echo "cannot mount a tmpfs (needs root): skipped"; exit 2
fi
umount "$mnt"
fail=0
for size in 1200k 2200k 2600k; do
  mount -t tmpfs -o size=$size tmpfs "$mnt"
  err=$("$bin" run configs/catvnoncat-4layer.json --out "$mnt/run" --set training.steps=10 --no-progress 2>&1 >/dev/null)
  status=$?
  lines=$(printf '%s\n' "$err" | wc -l)
  run_status=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['status'], '|', d.get('error',''))" "$mnt/run/run.json" 2>&1)
  leftovers=$(find "$mnt/run" -name '.*tmp*' | wc -l)
  ok=yes
  [ "$status" = 1 ] || ok=no
  [ "$lines" = 1 ] || ok=no
  [[ $err == "prunelab: error: "*"No space left on device"* ]] || ok=no
  [[ $run_status == "failed | "*"No space left on device"* ]] || ok=no
  [ "$leftovers" = 0 ] || ok=no
  echo "tmpfs $size: exit $status, $lines stderr line(s), run.json: ${run_status:0:60}..., temp files left: $leftovers, ok: $ok"
  echo "  $err"
  [ $ok = yes ] || fail=1
  umount "$mnt"
done
exit $fail
