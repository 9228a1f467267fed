#!/usr/bin/env bash
# The carvnocar course project's "photos before and after pruning", on the 50 cat-vs-non-cat test images
# exported as photo files. Two pipelines, each before and after pruning:
# - the carvnocar course pipeline (configs/carvnocar-course-han.json: 4000 full-batch steps, then 39
#   prune ▶ retrain rounds to 86% sparsity) and the same config without pruning (the network
#   before pruning: the same seed, initial weights and 4000 steps);
# - the course's [12288, 20, 7, 5, 1] net (configs/catvnoncat-4layer.json, test accuracy 0.80) and
#   the same run followed by 3 Han rounds to 86% sparsity of the hidden layers (500 steps of
#   retraining each).
# It writes the test images
# of its data file as PNG (lossless) and JPEG (quality 95) with Pillow, classifies them with
# `prunelab predict` and counts the correct ones into results/data/catvnoncat-photos.csv.
#   nice -n 10 bash experiments/catvnoncat_photos.sh
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product prunelab
bin=.build/release/prunelab
root=runs/photos
mkdir -p "$root" results/data
train() {  # train NAME CONFIG [--set ...]
  local name=$1 config=$2; shift 2
  if ! grep -q '"status" : "completed"' "$root/$name/run.json" 2>/dev/null; then
    "$bin" run "$config" --out "$root/$name" --force --no-progress "$@"
  fi
}
train carvnocar-dense configs/carvnocar-course-han.json --set pruning.method=dense
train carvnocar-han configs/carvnocar-course-han.json
train course-dense configs/catvnoncat-4layer.json
train course-han configs/catvnoncat-4layer.json --set pruning.method=han --set pruning.target_sparsity=0.86 \
  --set pruning.exclude_output=true --set pruning.han.rule=sparsity --set pruning.han.rounds=3 --set pruning.han.retrain=500it
h5=data/carvnocar-layout/catvnoncat-carvnocar-layout.h5
python3 experiments/export_photos.py "$h5" X_test y_test "$root/png"
python3 experiments/export_photos.py "$h5" X_test y_test "$root/jpeg" --format jpeg
for run in carvnocar-dense carvnocar-han course-dense course-han; do
  for fmt in png jpeg; do
    "$bin" predict "$root/$run" "$root/$fmt" --csv "$root/$run-$fmt.csv" > /dev/null
  done
done
python3 - "$root" <<'PY'
import csv, sys
root = sys.argv[1]
rows = []
for run, what in [("carvnocar-dense", "before pruning"), ("carvnocar-han", "after pruning"),
                  ("course-dense", "before pruning"), ("course-han", "after pruning")]:
    summary = next(csv.DictReader(open(f"{root}/{run}/summary.csv")))
    for fmt in ["png", "jpeg"]:
        labels = {r["file"]: int(r["label"]) for r in csv.DictReader(open(f"{root}/{fmt}-labels.csv"))}
        preds = list(csv.DictReader(open(f"{root}/{run}-{fmt}.csv")))
        correct = sum(int(p["class"]) == labels[p["path"].split("/")[-1]] for p in preds)
        rows.append({"model": what, "run": run, "photos": fmt, "correct": correct, "total": len(preds),
                     "sparsity": f"{float(summary['sparsity']):.4f}", "test_accuracy_h5": summary["test_accuracy"]})
with open("results/data/catvnoncat-photos.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
for r in rows:
    print(f"{r['model']:15s} {r['photos']:4s} {r['correct']} of {r['total']} correct (sparsity {r['sparsity']}, test accuracy on the HDF5 arrays {r['test_accuracy_h5']})")
PY
