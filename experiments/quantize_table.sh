#!/usr/bin/env bash
# The quantization table of results/quantization.md: LeNet-300-100 and LeNet-5 on MNIST, seed 1,
# dense, Han and the best in-training criterion of the comparisons (linear on LeNet-300-100,
# movement on LeNet-5; results/compare-lenet300, results/compare-lenet5), each quantized at 8, 4,
# 2 and 1 bits per output channel, post-training and after 1 epoch of quantization-aware
# fine-tuning (straight-through estimator) at a tenth of the config's base learning rate.
# Trains the six runs into runs/quantize-table/ (kept when already completed), then quantizes
# each into its own --out folder, and writes results/data/quantize-lenet.csv and the Markdown
# table $root/quantize-lenet.table.md.
#   nice -n 10 bash experiments/quantize_table.sh
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product prunelab
bin=.build/release/prunelab
root=runs/quantize-table
mkdir -p "$root" results/data
train() {  # train NAME CONFIG [--set ...]
  local name=$1 config=$2; shift 2
  if ! grep -q '"status" : "completed"' "$root/$name/run.json" 2>/dev/null; then
    "$bin" run "$config" --out "$root/$name" --force --no-progress "$@"
  fi
}
train lenet300-dense configs/mnist-lenet300-compare.json
train lenet300-han configs/mnist-lenet300-compare.json --set pruning.method=han
train lenet300-linear configs/mnist-lenet300-compare.json --set pruning.method=dynamic --set pruning.dynamic.criterion=linear
train lenet5-dense configs/mnist-lenet5-compare.json
train lenet5-han configs/mnist-lenet5-compare.json --set pruning.method=han
train lenet5-movement configs/mnist-lenet5-compare.json --set pruning.method=dynamic --set pruning.dynamic.criterion=movement
for run in lenet300-dense lenet300-han lenet300-linear lenet5-dense lenet5-han lenet5-movement; do
  case $run in lenet300-*) lr=0.01 ;; lenet5-*) lr=0.002 ;; esac
  for bits in 8 4 2 1; do
    "$bin" quantize "$root/$run" --bits "$bits" --out "$root/$run-q$bits"
    "$bin" quantize "$root/$run" --bits "$bits" --finetune-epochs 1 --finetune-lr "$lr" --out "$root/$run-q$bits-ft"
  done
done
python3 - "$root" <<'PY'
import csv, sys, os
root = sys.argv[1]
rows = []
for run in ["lenet300-dense", "lenet300-han", "lenet300-linear", "lenet5-dense", "lenet5-han", "lenet5-movement"]:
    summary = next(csv.DictReader(open(f"{root}/{run}/summary.csv")))
    for bits in [8, 4, 2, 1]:
        ptq = next(csv.DictReader(open(f"{root}/{run}-q{bits}/quantize.csv")))
        ft = next(csv.DictReader(open(f"{root}/{run}-q{bits}-ft/quantize.csv")))
        rows.append({
            "run": run, "sparsity": f"{float(summary['sparsity']):.4f}", "bits": bits,
            "float_accuracy": ptq["test_accuracy_before"], "ptq_accuracy": ptq["test_accuracy_after"],
            "finetuned_accuracy": ft["test_accuracy_after"], "finetune_lr": ft["finetune_learning_rate"],
            "model_h5_bytes": ptq["dense_bytes"], "sparse_h5_bytes": ptq["sparse_bytes"],
            "quantized_payload_bytes": ptq["quantized_payload_bytes"], "quantized_file_bytes": ptq["quantized_file_bytes"],
        })
with open("results/data/quantize-lenet.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
cols = ["run", "sparsity", "bits", "float_accuracy", "ptq_accuracy", "finetuned_accuracy", "sparse_h5_bytes", "quantized_file_bytes", "quantized_payload_bytes"]
with open(f"{root}/quantize-lenet.table.md", "w") as f:
    f.write("| " + " | ".join(cols) + " |\n| " + " | ".join("---" for _ in cols) + " |\n")
    for r in rows:
        f.write("| " + " | ".join(str(r[c]) for c in cols) + " |\n")
print(f"results/data/quantize-lenet.csv, {root}/quantize-lenet.table.md")
PY
