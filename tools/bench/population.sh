#!/usr/bin/env bash
# Population training (ASHA) against the same 16 configurations trained to
# the end, on one Fashion-MNIST epoch, as one markdown table for
# BENCHMARKS.md.
#
#   tools/bench/population.sh              # 3 pairs; ~5 min on 2 loaded cores
#   tools/bench/population.sh 2 --train_limit=30000   # pairs, then run flags
#
# The runs alternate (full, population, full, ...) so that both sides of a
# pair see the same machine load; each pair's wall-time ratio is reported.
# "best" is the best final test accuracy (whole test split) of a model that
# trained to the end of the stream: on the population side, the survivors.
set -euo pipefail
cd "$(dirname "$0")/../.."
PAIRS=${1:-3}
shift || true
WORK=$(mktemp -d "${TMPDIR:-/tmp}/population_bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

bazel build -c opt //experiments:population >&2
BIN=bazel-bin/experiments/population

for i in $(seq 1 "$PAIRS"); do
  echo "== pair $i: all 16 to the end" >&2
  "$BIN" --quiet --no_population --out_dir= --report_json="$WORK/full_$i.json" \
    "$@" >"$WORK/full_$i.log"
  echo "== pair $i: population (ASHA)" >&2
  "$BIN" --quiet --out_dir= --report_json="$WORK/pop_$i.json" "$@" \
    >"$WORK/pop_$i.log"
done

/usr/bin/env python3 - "$WORK" "$PAIRS" <<'PY'
import json, os, sys
work, pairs = sys.argv[1], int(sys.argv[2])
def load(name):
    return json.load(open(os.path.join(work, name)))
def best(report):
    done = [m for m in report["models"] if not m.get("stopped")]
    top = max(done, key=lambda m: m["test_accuracy"])
    return top["name"], top["test_accuracy"]
print(f"load average after the runs: {os.getloadavg()[0]:.2f}")
print()
print("| pair | full: wall s | population: wall s | ratio | full: best (model) | population: best (model) | gap |")
print("| --- | --- | --- | --- | --- | --- | --- |")
fates = []
for i in range(1, pairs + 1):
    full, pop = load(f"full_{i}.json"), load(f"pop_{i}.json")
    (fn, fa), (pn, pa) = best(full), best(pop)
    print(f"| {i} | {full['wall_seconds']:.1f} | {pop['wall_seconds']:.1f} | "
          f"**{pop['wall_seconds'] / full['wall_seconds']:.2f}x** | {fa:.4f} ({fn}) | "
          f"{pa:.4f} ({pn}) | {fa - pa:+.4f} |")
    fates.append(json.dumps(pop["population"], sort_keys=True))
print()
print("same fates in every population run:", "yes" if len(set(fates)) == 1 else "NO")
print()
print("| model | fate | final test accuracy (population) | full run |")
print("| --- | --- | --- | --- |")
full = {m["name"]: m for m in load("full_1.json")["models"]}
pop = {m["name"]: m for m in load("pop_1.json")["models"]}
for f in load("pop_1.json")["population"]:
    fate = "survived" if f["pruned_at"] is None else f"pruned at {f['pruned_at']} (acc {f['pruned_accuracy']:.4f})"
    print(f"| {f['model']} | {fate} | {pop[f['model']]['test_accuracy']:.4f} | "
          f"{full[f['model']]['test_accuracy']:.4f} |")
PY
