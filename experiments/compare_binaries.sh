#!/usr/bin/env bash
# Two release binaries on the same short runs: are their results bit-identical, and how long do
# they take? (A change that should change no result, e.g. a faster reduction, checked this way.)
#
#   bash experiments/compare_binaries.sh OLD_BIN NEW_BIN bits    # 6 configs, summary/metrics/model.h5 compared
#   bash experiments/compare_binaries.sh OLD_BIN NEW_BIN time    # 20-epoch magnitude and linear, alternated 3 times
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1 new=$2 mode=${3:-bits}
out=$(mktemp -d /tmp/prunelab-binaries.XXXXXX)
run() {  # run BIN DIR CONFIG ARGS...
  local bin=$1 dir=$2 cfg=$3; shift 3
  "$bin" run "configs/$cfg.json" --out "$dir" --no-progress --set data.dir="$PWD/data/mnist" "$@" >/dev/null
}
if [ "$mode" = bits ]; then
  dyn=(--set pruning.method=dynamic --set pruning.dynamic.cubic.end=3ep --set training.epochs=4)
  cases=(
    "lin2|mnist-lenet300-compare|${dyn[*]} --set pruning.dynamic.criterion=linear --set training.threads=2"
    "mov1|mnist-lenet300-compare|${dyn[*]} --set pruning.dynamic.criterion=movement --set training.threads=1"
    "stall2|mnist-lenet300-compare|${dyn[*]} --set pruning.dynamic.criterion=stalled --set training.threads=2"
    "han2|mnist-lenet300-compare|--set training.epochs=2 --set pruning.method=han --set pruning.han.retrain=1ep --set pruning.han.rounds=2 --set training.threads=2"
    "dense2|mnist-lenet300-compare|--set training.epochs=2 --set training.threads=2"
    "conv2|mnist-lenet5-compare|--set training.epochs=2 --set data.train_limit=3000 --set pruning.method=dynamic --set pruning.dynamic.criterion=magnitude --set pruning.dynamic.cubic.start=0ep --set pruning.dynamic.cubic.end=1ep --set pruning.dynamic.cubic.every=5it --set pruning.dynamic.cubic.max_per_check=0.5 --set training.threads=2 --set training.kernel=sparse"
  )
  for c in "${cases[@]}"; do
    IFS='|' read -r name cfg args <<<"$c"
    # shellcheck disable=SC2086
    run "$old" "$out/$name-old" "$cfg" $args
    # shellcheck disable=SC2086
    run "$new" "$out/$name-new" "$cfg" $args
    python3 - "$out/$name-old" "$out/$name-new" "$name" <<'PY'
import csv, sys
import h5py, numpy as np
a, b, name = sys.argv[1:]
rows = lambda p: list(csv.DictReader(open(p)))
sa, sb = rows(a + "/summary.csv")[0], rows(b + "/summary.csv")[0]
bad = [k for k in sa if not k.endswith("seconds") and not k.startswith("infer_ms") and sa[k] != sb.get(k)]
strip = lambda rs: [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rs]
same_metrics = strip(rows(a + "/metrics.csv")) == strip(rows(b + "/metrics.csv"))
fa, fb = h5py.File(a + "/model.h5"), h5py.File(b + "/model.h5")
names = []
fa.visititems(lambda k, v: names.append(k) if isinstance(v, h5py.Dataset) else None)
diff = [k for k in names if not np.array_equal(fa[k][()], fb[k][()])]
import os
same = lambda f: not os.path.exists(f"{a}/{f}") or open(f"{a}/{f}").read() == open(f"{b}/{f}").read()
others = {f: same(f) for f in ["events.csv", "kernels.csv"]}
# TensorBoard: every scalar and histogram value (wall times excluded)
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
def tb(d):
    acc = EventAccumulator(d + "/tb", size_guidance={"scalars": 0, "histograms": 0}); acc.Reload()
    t = acc.Tags()
    return ({k: [(e.step, e.value) for e in acc.Scalars(k)] for k in t["scalars"] if "seconds" not in k},
            {k: [(e.step, e.histogram_value) for e in acc.Histograms(k)] for k in t["histograms"]})
others["tb"] = not os.path.isdir(a + "/tb") or tb(a) == tb(b)
print(f"{name} (sparsity {sa['sparsity'][:6]}): summary columns differing {bad}, metrics.csv identical {same_metrics}, model.h5 arrays differing {diff}, identical {others}")
PY
  done
else
  for rep in 1 2 3; do
    for m in magnitude linear; do
      for b in old new; do
        bin=$old; [ "$b" = new ] && bin=$new
        run "$bin" "$out/$b-$m-$rep" mnist-lenet300-compare --set pruning.method=dynamic --set pruning.dynamic.criterion=$m
        python3 -c "import csv,sys; r=list(csv.DictReader(open(sys.argv[1])))[0]; print(sys.argv[2], r['wall_seconds'], r['test_accuracy'])" \
          "$out/$b-$m-$rep/summary.csv" "$rep $m $b"
      done
    done
  done
fi
echo "run folders: $out (written by this script; remove when done)"
