#!/usr/bin/env bash
# Runs one `trainbus run` and prints its VmRSS (MB) once a second, for a quick
# look at where a run's memory goes without the whole soak (BENCHMARKS.md,
# "Why drop_oldest rises after 1M samples").
#
#   tools/soak/rss_probe.sh BIN [SPEC] -- RUN_FLAGS...
#     BIN   a trainbus binary (bazel build -c opt //tools:trainbus)
#     SPEC  default experiments/parallel_models.yaml
#   tools/soak/rss_probe.sh /tmp/trainbus -- --epochs=167 --policy=drop_oldest
#
# Prints "SECONDS RSS_MB" lines until the run ends; the run's own output goes
# to /dev/null (add --report_json=... to keep its report).
set -euo pipefail
[[ $# -ge 1 ]] || { sed -n '2,12p' "$0" >&2; exit 2; }
bin=$1; shift
spec="$(cd "$(dirname "$0")/../.." && pwd)/experiments/parallel_models.yaml"
if [[ $# -gt 0 && "$1" != "--" ]]; then spec=$1; shift; fi
[[ "${1:-}" == "--" ]] && shift
"$bin" run "$spec" --quiet --out_dir= "$@" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
t=0
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status" 2>/dev/null || true)
  [[ -n "$rss" ]] && echo "$t $rss"
  sleep 1
  t=$((t + 1))
done
wait "$pid"
