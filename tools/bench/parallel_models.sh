#!/usr/bin/env bash
# parallel_models figures for BENCHMARKS.md: each default model alone on one
# epoch, then all four together, as one markdown table.
#
#   tools/bench/parallel_models.sh              # ~1-2 min on 2 cores
#   tools/bench/parallel_models.sh --epochs=2   # extra flags go to every run
#
# "alone" is the model's own training rate with nothing beside it; "together"
# is its rate while it shares the stream (and the 2 cores) with the other
# three. Under the default block policy the stream moves at the pace of the
# slowest model, so "together" is close to the same figure for all four.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=$(mktemp -d "${TMPDIR:-/tmp}/parallel_models_bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# PARALLEL_MODELS_BIN=FILE: run that binary as it is (no build).
BIN=${PARALLEL_MODELS_BIN:-}
if [[ -z "$BIN" ]]; then
  bazel build -c opt //experiments:parallel_models >&2
  BIN=bazel-bin/experiments/parallel_models
fi

echo "== all four together" >&2
"$BIN" --out_dir= --report_json="$WORK/together.json" "$@" >"$WORK/together.log"
# The default specs, as the run reports them.
SPECS=$(/usr/bin/env python3 -c '
import json, sys
for m in json.load(open(sys.argv[1]))["models"]:
    print(m["name"] + "=" + m["spec"])
' "$WORK/together.json")
while IFS= read -r named; do
  name=${named%%=*}
  echo "== $name alone" >&2
  "$BIN" --out_dir= --models="$named" --report_json="$WORK/alone_$name.json" \
    "$@" >"$WORK/alone_$name.log"
done <<<"$SPECS"

/usr/bin/env python3 - "$WORK" <<'PY'
import json, os, sys
work = sys.argv[1]
together = json.load(open(os.path.join(work, "together.json")))
print(f"load average before the table: {os.getloadavg()[0]:.2f}")
print()
print("| model | spec | alone: samples/s | together: samples/s | test accuracy (together) | alone |")
print("| --- | --- | --- | --- | --- | --- |")
for m in together["models"]:
    alone = json.load(open(os.path.join(work, f"alone_{m['name']}.json")))["models"][0]
    print(f"| {m['name']} | `{m['spec']}` | {alone['train_samples_per_second']:,.0f} | "
          f"{m['train_samples_per_second']:,.0f} | {m['test_accuracy']:.4f} | "
          f"{alone['test_accuracy']:.4f} |")
print()
print(f"all four together: {together['wall_seconds']:.1f} s wall for "
      f"{together['train_samples']} samples x {together['epochs']} epoch(s)")
walls = {m["name"]: json.load(open(os.path.join(work, f"alone_{m['name']}.json")))["wall_seconds"]
         for m in together["models"]}
slowest = max(walls, key=walls.get)
print(f"slowest alone: {slowest}, {walls[slowest]:.1f} s wall; together / slowest alone: "
      f"{together['wall_seconds'] / walls[slowest]:.2f}x (target <= 1.1x)")
PY
