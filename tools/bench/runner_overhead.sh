#!/usr/bin/env bash
# The spec runner's overhead: today's `bazel run //experiments:parallel_models`
# (trainbus run on experiments/parallel_models.yaml) against the C++
# parallel_models it replaced, same flags, alternating runs in one script
# run, one markdown table of wall-clock stream rates and their ratio.
#
#   tools/bench/runner_overhead.sh OLD_BINARY [--rounds=3] [flags...]
#
# OLD_BINARY is the C++ topology's binary, built -c opt from the commit
# before the runner replaced it, e.g.
#   git archive 6b5d74d | tar -x -C /tmp/old && \
#     (cd /tmp/old && bazel build -c opt //experiments:parallel_models)
#   tools/bench/runner_overhead.sh /tmp/old/bazel-bin/experiments/parallel_models
# Extra flags go to both (default: --train_limit=20000 --test_limit=2000).
set -euo pipefail
OLD=${1:?usage: $0 OLD_BINARY [--rounds=N] [flags...]}
shift
ROUNDS=3
if [[ "${1:-}" == --rounds=* ]]; then ROUNDS=${1#--rounds=}; shift; fi
FLAGS=("$@")
if [[ ${#FLAGS[@]} -eq 0 ]]; then FLAGS=(--train_limit=20000 --test_limit=2000); fi
cd "$(dirname "$0")/../.."
WORK=$(mktemp -d "${TMPDIR:-/tmp}/runner_overhead.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

bazel build -c opt //experiments:parallel_models >&2
NEW=bazel-bin/experiments/parallel_models
for ((i = 1; i <= ROUNDS; i++)); do
  for which in old new; do
    bin=$OLD
    [[ $which == new ]] && bin=$NEW
    echo "== round $i: $which" >&2
    "$bin" --out_dir= --report_json="$WORK/${which}_$i.json" "${FLAGS[@]}" \
      >"$WORK/${which}_$i.log"
  done
done

/usr/bin/env python3 - "$WORK" "$ROUNDS" "${FLAGS[*]}" <<'PY'
import json, os, statistics, sys
work, rounds, flags = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def load(which):
    runs = []
    for i in range(1, rounds + 1):
        r = json.load(open(os.path.join(work, f"{which}_{i}.json")))
        stream = r["train_samples"] * r["epochs"] / r["wall_seconds"]
        per_model = {m["name"]: m["train_samples_per_second"] for m in r["models"]}
        runs.append((stream, per_model, r["wall_seconds"]))
    return runs

old, new = load("old"), load("new")
print(f"flags: {flags}; {rounds} alternating rounds; "
      f"load average after: {os.getloadavg()[0]:.2f}")
print()
print("| figure | C++ parallel_models | trainbus run (spec) | spec / C++ |")
print("| --- | ---: | ---: | ---: |")
def row(name, a, b, fmt="{:.0f}"):
    print(f"| {name} | {fmt.format(a)} | {fmt.format(b)} | {b / a:.3f} |")
row("stream samples/s, best", max(r[0] for r in old), max(r[0] for r in new))
row("stream samples/s, median", statistics.median(r[0] for r in old),
    statistics.median(r[0] for r in new))
row("wall s, median", statistics.median(r[2] for r in old),
    statistics.median(r[2] for r in new), "{:.2f}")
for name in old[0][1]:
    row(f"{name} samples/s, median", statistics.median(r[1][name] for r in old),
        statistics.median(r[1][name] for r in new))
PY
