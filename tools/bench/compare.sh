#!/usr/bin/env bash
# Peer comparison in one command: our kernels and models vs OpenBLAS sgemm and
# PyTorch CPU on this machine, then ratio tables (Markdown) on stdout.
#
#   tools/bench/compare.sh            # results also kept in $OUT
#   OUT=/tmp/bench REPS=5 tools/bench/compare.sh
#   ONLY=gemm REPS=3 tools/bench/compare.sh   # FMA peak + the GEMM tables only
#
# 1. tools/setup.sh --bench   (libopenblas-dev, python3-torch, ...)
# 2. our benchmarks, -c opt: FMA peak, GEMM (+ OpenBLAS, oneDNN and libxsmm
#    in the same binary, 1 and 2 threads, repetitions randomly interleaved so
#    that load changes hit every side alike), conv, model training at batch
#    1 and 64
# 3. PyTorch: tools/bench/torch_models.py with /usr/bin/python3,
#    torch.set_num_threads(2) (and 1, see below), OPENBLAS_NUM_THREADS=1,
#    pinned to CPUs 0,1 with taskset
# 4. tools/bench/ratio_table.py, then the convolution peer table
#    (tools/bench/conv_peer_table.py: ours vs oneDNN, see "Convolution vs
#    oneDNN" below)
# Every number is the best of $REPS repetitions (the machine is shared).
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=${OUT:-/tmp/trainbus-bench}
REPS=${REPS:-3}
CPUS=${CPUS:-0,1}
mkdir -p "$OUT"

tools/setup.sh --bench
run() {  # run <binary> <json> [filter] [extra flags...]
  local bin=$1 json=$2 filter=${3:-}
  shift $(( $# < 3 ? $# : 3 ))
  taskset -c "$CPUS" "bazel-bin/$bin" --benchmark_format=json \
    --benchmark_repetitions="$REPS" --benchmark_min_time="${MIN_TIME:-0.3}" \
    ${filter:+--benchmark_filter="$filter"} "$@" >"$OUT/$json" 2>"$OUT/$json.log"
  echo "compare.sh: $bin -> $OUT/$json" >&2
}
machine() {
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
    "$(nproc) CPUs; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# GEMM: ours and the three peers shape by shape, repetitions interleaved.
run_gemm() {
  bazel build -c opt //kernels:peak_benchmark //kernels:gemm_benchmark >&2
  run kernels/peak_benchmark peak.json
  run kernels/gemm_benchmark gemm.json "" --benchmark_enable_random_interleaving=true
}
if [[ "${ONLY:-}" == "gemm" ]]; then
  run_gemm
  machine
  echo
  /usr/bin/python3 tools/bench/ratio_table.py --peak "$OUT/peak.json" --gemm "$OUT/gemm.json"
  exit 0
fi

run_gemm
bazel build -c opt //kernels:conv_benchmark //kernels/nn:model_benchmark \
  //kernels:conv_peer_benchmark >&2
run kernels/conv_benchmark conv.json
run kernels/nn/model_benchmark models.json BM_Train

# Convolution vs oneDNN (issue 14): ours and oneDNN's forward, backward data
# and backward weights, interleaved in one binary. 2 threads as the issue
# asks; OMP_WAIT_POLICY=passive because oneDNN's spinning OpenMP workers
# stall for a whole time slice on a shared machine (see BENCHMARKS.md). Then
# 1 thread, ranked by CPU time: the kernels' own efficiency, which a loaded
# machine distorts least.
OMP_WAIT_POLICY=passive run kernels/conv_peer_benchmark conv_peer2.json B:64
OMP_NUM_THREADS=1 CPUS=0 run kernels/conv_peer_benchmark conv_peer1.json B:64

# The issue's setting is 2 threads. On a shared machine torch's OpenMP
# workers spin and stall when a CPU is taken, so we also run 1 thread and
# compare against whichever torch setting was faster (the honest baseline).
for threads in 2 1; do
  OPENBLAS_NUM_THREADS=1 taskset -c "$CPUS" /usr/bin/python3 \
    tools/bench/torch_models.py --threads "$threads" --repeats "$REPS" \
    --seconds "${TORCH_SECONDS:-1}" >"$OUT/torch$threads.jsonl"
  echo "compare.sh: PyTorch ($threads threads) -> $OUT/torch$threads.jsonl" >&2
done

machine
echo "PyTorch: $(head -1 "$OUT/torch2.jsonl")"
echo
/usr/bin/python3 tools/bench/ratio_table.py --peak "$OUT/peak.json" \
  --gemm "$OUT/gemm.json" --conv "$OUT/conv.json" \
  --models "$OUT/models.json" --torch "$OUT/torch2.jsonl" \
  --torch1 "$OUT/torch1.jsonl"
echo
echo "### Convolution vs oneDNN (2 threads: wall time; 1 thread: CPU time)"
echo
/usr/bin/python3 tools/bench/conv_peer_table.py \
  --run "2 threads=$OUT/conv_peer2.json"
echo
/usr/bin/python3 tools/bench/conv_peer_table.py --cpu \
  --run "1 thread=$OUT/conv_peer1.json"
