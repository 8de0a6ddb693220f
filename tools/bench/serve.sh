#!/usr/bin/env bash
# Serving benchmark (issue 12): `trainbus serve` classifying a 28x28 PNG vs
# Flask + PyTorch behind gunicorn (2 workers) serving the same weights, and a
# trivial GET on our server, with wrk at 1, 8, 32 and 128 connections.
#
#   tools/bench/serve.sh                      # Markdown ratio table on stdout
#   OUT=/tmp/sb DURATION=10 CONNS="1 8 32 128" tools/bench/serve.sh
#   SERVE_BIN=/tmp/old/trainbus tools/bench/serve.sh   # serve with another build
#   SERVE_FLAGS=--http_threads=256 tools/bench/serve.sh  # extra serve flags
#
# 1. tools/setup.sh --bench (wrk, python3-flask, gunicorn, python3-pil, ...)
# 2. bazel build -c opt; the binaries are copied to $OUT/bin
# 3. a registry in $OUT/registry: a sweep over two MLPs ($TRAIN_LIMIT samples
#    each), whose winner gets the alias `best`
# 4. `trainbus serve` on a free loopback port; the peer (serve_peer/) loads
#    the checkpoint blob of the same model; both must give the same scores
#    for the PNG before anything is timed
# 5. wrk (1 thread, --latency, serve_wrk.lua) per connection count: our
#    :classify of labels/best, our GET /v2/health/live, the peer's :classify
# 6. serve_table.py: req/s, p50, p99, the server's CPU time per request
#    (/proc, less sensitive to the machine's other load than req/s) and the
#    ratios against the targets
# Everything started here is stopped on exit, failure included. The machine
# has 2 vCPUs: wrk, the server under test and (idle) the other server share
# them, so figures are noisy; the ratios come from one run.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=${OUT:-/tmp/trainbus-serve-bench}
DURATION=${DURATION:-10}
CONNS=${CONNS:-1 8 32 128}
TRAIN_LIMIT=${TRAIN_LIMIT:-3000}
BENCH_DIR=$PWD/tools/bench

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
fail() {
  echo "serve.sh: $*" >&2
  exit 1
}

# wait_for <file> <regex> <what>: up to 60 s for a line matching regex.
wait_for() {
  for _ in $(seq 600); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "$3 did not start within 60 s; see $1"
}

tools/setup.sh --bench
bazel build -c opt //tools:trainbus //experiments:sweep //data:idx_tool >&2
rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/png"
cp bazel-bin/tools/trainbus bazel-bin/experiments/sweep \
  bazel-bin/data/idx_tool "$OUT/bin/"
BIN=$OUT/bin
REG=$OUT/registry

"$BIN/idx_tool" --export_png="$OUT/png" --n=1 >&2
PNG=$(ls "$OUT"/png/*.png | head -1)
"$BIN/sweep" --registry_dir="$REG" --sweep=serve-bench \
  --grid='model=mlp;lr=0.01,0.02' --fixed='batch=16,hidden=128' \
  --train_limit="$TRAIN_LIMIT" --runners=1 >"$OUT/sweep.log" 2>&1 ||
  fail "the sweep failed; see $OUT/sweep.log"
BEST=$(sed -n "s/^best model aliased 'best': \([^ ]*\) v.*/\1/p" "$OUT/sweep.log")
[[ -n "$BEST" ]] || fail "no best model in $OUT/sweep.log"
MODEL=fashion-mnist/$BEST
"$BIN/trainbus" registry show --registry_dir="$REG" --project=fashion-mnist \
  --json "$BEST@best" \
  >"$OUT/best.json"
SHA=$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["checkpoint_sha256"])' \
  <"$OUT/best.json")
CHECKPOINT=$REG/blobs/$SHA
[[ -f "$CHECKPOINT" ]] || fail "no checkpoint blob $CHECKPOINT"

# shellcheck disable=SC2086  # SERVE_FLAGS is a list of flags
"${SERVE_BIN:-$BIN/trainbus}" serve --registry_dir="$REG" --model="$MODEL" \
  --port=0 ${SERVE_FLAGS:-} >"$OUT/serve.log" 2>&1 &
pids+=($!)
OURS_PID=$!
wait_for "$OUT/serve.log" "on http://127.0.0.1:[0-9]+" "trainbus serve"
PORT=$(sed -n 's/.*on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$OUT/serve.log")
OURS=http://127.0.0.1:$PORT

PEER_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PEER_PORT=$PEER_PORT TRAINBUS_CHECKPOINT=$CHECKPOINT /usr/bin/gunicorn \
  --chdir "$BENCH_DIR/serve_peer" -c "$BENCH_DIR/serve_peer/gunicorn.conf.py" \
  app:app >"$OUT/peer.log" 2>&1 &
pids+=($!)
PEER_PID=$!
PEER=http://127.0.0.1:$PEER_PORT
for _ in $(seq 600); do
  curl -sf "$PEER/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "$PEER/health" >/dev/null || fail "the peer did not start; see $OUT/peer.log"

CLASSIFY=/v1/models/$BEST/labels/best:classify
curl -sf --data-binary @"$PNG" -H 'Content-Type: image/png' "$OURS$CLASSIFY" \
  >"$OUT/ours.json" || fail "our :classify failed"
curl -sf --data-binary @"$PNG" -H 'Content-Type: image/png' "$PEER$CLASSIFY" \
  >"$OUT/peer.json" || fail "the peer's :classify failed"
/usr/bin/python3 - "$OUT/ours.json" "$OUT/peer.json" <<'EOF' >&2 ||
import json, sys
ours, peer = ([p for _, p in json.load(open(f))["result"][0]] for f in sys.argv[1:])
diff = max(abs(a - b) for a, b in zip(ours, peer))
print(f"serve.sh: ours {ours.index(max(ours))}, peer {peer.index(max(peer))}, "
      f"max |score difference| {diff:.2e}")
sys.exit(0 if diff < 1e-4 else 1)
EOF
  fail "the peer's scores differ from ours: not the same model"

RESULTS=$OUT/results.jsonl
: >"$RESULTS"
CLK_TCK=$(getconf CLK_TCK)
# CPU time (user + system) used so far by process $1 and its children
# (gunicorn's workers), in clock ticks.
cpu_ticks() {
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    read -r -a stat <"/proc/$pid/stat" || continue
    total=$((total + stat[13] + stat[14]))
  done
  echo "$total"
}
# bench <name> <url> <connections> <server pid> [body file]
bench() {
  local line before after
  before=$(cpu_ticks "$4")
  line=$(BODY_FILE=${5:-} wrk -t1 -c"$3" -d"${DURATION}s" --timeout 10s \
    -s "$BENCH_DIR/serve_wrk.lua" "$2" | tail -1)
  after=$(cpu_ticks "$4")
  [[ "$line" == \{* ]] || fail "wrk printed no result for $1 at $3 connections"
  echo "{\"target\":\"$1\",\"connections\":$3,\"server_cpu_s\":$(awk -v t=$((after - before)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }'),${line:1}" >>"$RESULTS"
  echo "serve.sh: $1 c=$3 $line" >&2
}
for c in $CONNS; do
  bench classify "$OURS$CLASSIFY" "$c" "$OURS_PID" "$PNG"
  bench get "$OURS/v2/health/live" "$c" "$OURS_PID"
  bench peer "$PEER$CLASSIFY" "$c" "$PEER_PID" "$PNG"
done

echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(nproc) CPUs; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Model: $MODEL@best ($(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["arch"])' <"$OUT/best.json")); PNG $(basename "$PNG"), $(stat -c %s "$PNG") bytes; wrk -t1 -d${DURATION}s"
echo
/usr/bin/python3 "$BENCH_DIR/serve_table.py" "$RESULTS"
