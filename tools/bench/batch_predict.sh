#!/usr/bin/env bash
# Batch inference into a database, trainbus vs PyTorch, in one run:
#   tools/bench/batch_predict.sh            # Markdown table on stdout
#   BATCH=1000 REPS=3 INPUT=... tools/bench/batch_predict.sh
# Ours: //serving:batch_predict_benchmark (-c opt), the code path of
# `trainbus predict` into the registry's SQLite. Peer:
# tools/bench/torch_batch_predict.py (same architectures from
# torch_models.py, torch.no_grad(), rows into SQLite the same way), with
# /usr/bin/python3, 2 and 1 threads, OPENBLAS_NUM_THREADS=1. Both pinned to CPUs
# 0,1; every figure is the best of $REPS runs (the machine is shared).
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=${OUT:-/tmp/trainbus-bench}
REPS=${REPS:-3}
CPUS=${CPUS:-0,1}
BATCH=${BATCH:-1000}
INPUT=${INPUT:-/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz}
mkdir -p "$OUT"

bazel build -c opt //serving:batch_predict_benchmark >&2
taskset -c "$CPUS" bazel-bin/serving/batch_predict_benchmark \
  --input="$INPUT" --batch_size="$BATCH" --repeats="$REPS" \
  >"$OUT/batch_predict_ours.jsonl"
# As in compare.sh: torch at 2 threads and at 1 (its OpenMP workers stall
# when a shared CPU is taken); the peer is whichever was faster per figure.
for threads in 2 1; do
  OPENBLAS_NUM_THREADS=1 taskset -c "$CPUS" /usr/bin/python3 \
    tools/bench/torch_batch_predict.py --input="$INPUT" --batch_size="$BATCH" \
    --repeats="$REPS" --threads="$threads" \
    >"$OUT/batch_predict_torch$threads.jsonl"
done

python3 - "$OUT/batch_predict_ours.jsonl" "$OUT"/batch_predict_torch[12].jsonl <<'PY'
import json, sys
ours = {r["model"]: r for r in map(json.loads, open(sys.argv[1])) if "model" in r}
torch = {}
for path in sys.argv[2:]:
    for r in map(json.loads, open(path)):
        if "model" not in r:
            continue
        best = torch.setdefault(r["model"], dict(r))
        for key in ("predict_samples_per_s", "end_to_end_samples_per_s"):
            best[key] = max(best[key], r[key])
print("| model | batch | trainbus Predict samples/s | PyTorch forward samples/s | ratio "
      "| trainbus end to end | PyTorch end to end | ratio |")
print("|---|---|---|---|---|---|---|---|")
for m in ("softmax", "mlp", "cnn"):
    o, t = ours[m], torch[m]
    print(f"| {m} | {o['batch']} | {o['predict_samples_per_s']:,.0f} "
          f"| {t['predict_samples_per_s']:,.0f} "
          f"| {o['predict_samples_per_s'] / t['predict_samples_per_s']:.2f}x "
          f"| {o['end_to_end_samples_per_s']:,.0f} "
          f"| {t['end_to_end_samples_per_s']:,.0f} "
          f"| {o['end_to_end_samples_per_s'] / t['end_to_end_samples_per_s']:.2f}x |")
PY
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(nproc) CPUs; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
