#!/usr/bin/env bash
# What watching costs a running parallel_models: samples/s without the
# gateway, and with it while a Prometheus-like scraper reads /metrics every
# second and an SSE client follows /v1/metrics/stream. Runs alternate (plain,
# watched, plain, ...) in one loop so that load from elsewhere hits both.
#
#   tools/bench/dashboard_overhead.sh             # 4 pairs, 20000 samples each
#   PAIRS=6 tools/bench/dashboard_overhead.sh --train_limit=30000
#
# Prints one line per run and the ratio of the medians (watched / plain).
set -euo pipefail
cd "$(dirname "$0")/../.."
PAIRS=${PAIRS:-4}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dashboard_bench.XXXXXX")
CHILDREN=()
cleanup() {
  for pid in "${CHILDREN[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

bazel build -c opt //tools:trainbus >&2
T=bazel-bin/tools/trainbus
FLAGS=(--out_dir= --quiet --registry_dir="$WORK/registry" --train_limit=20000 "$@")

# samples/s of a finished run from its JSON report (wall_seconds in full:
# the summary's "wall time 4.1 s" is too coarse to read 2% on a short run).
rate() {
  /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
samples = r["train_samples"] * r["epochs"]
print("%.1f" % (samples / r["wall_seconds"]))' "$1"
}

plain() {
  "$T" run experiments/parallel_models.yaml "${FLAGS[@]}" \
    --report_json="$WORK/plain_$1.json" >"$WORK/plain_$1.log" 2>&1
  rate "$WORK/plain_$1.json"
}

watched() {
  local log="$WORK/watched_$1.log"
  "$T" run experiments/parallel_models.yaml "${FLAGS[@]}" --dashboard=127.0.0.1:0 \
    --report_json="$WORK/watched_$1.json" >"$log" 2>&1 &
  local run=$!
  CHILDREN+=("$run")
  local url=""
  for _ in $(seq 1 600); do
    url=$(grep -o 'http://[^ ]*' "$log" | head -1 || true)
    [[ -n "$url" ]] && break
    kill -0 "$run" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n "$url" ]] || { echo "no dashboard address in $log" >&2; exit 1; }
  curl -sN "${url}v1/metrics/stream" >/dev/null 2>&1 &
  local sse=$!
  CHILDREN+=("$sse")
  ( while kill -0 "$run" 2>/dev/null; do
      curl -s "${url}metrics" >/dev/null 2>&1 || true
      sleep 1  # the scrape interval being measured
    done ) &
  local scraper=$!
  CHILDREN+=("$scraper")
  wait "$run"
  kill "$sse" "$scraper" 2>/dev/null || true
  wait "$sse" "$scraper" 2>/dev/null || true
  rate "$WORK/watched_$1.json"
}

P=(); W=()
for i in $(seq 1 "$PAIRS"); do
  p=$(plain "$i"); w=$(watched "$i")
  echo "pair $i: plain $p samples/s, watched (scrape 1 s + SSE) $w samples/s" \
       "(load $(cut -d' ' -f1 /proc/loadavg))"
  P+=("$p"); W+=("$w")
done
/usr/bin/python3 - "${P[*]}" "${W[*]}" <<'PY'
import statistics, sys
p = [float(x) for x in sys.argv[1].split()]
w = [float(x) for x in sys.argv[2].split()]
mp, mw = statistics.median(p), statistics.median(w)
print(f"median plain {mp:.1f} samples/s, watched {mw:.1f}: ratio {mw / mp:.3f} "
      f"(per pair: {', '.join(f'{b / a:.3f}' for a, b in zip(p, w))})")
PY
