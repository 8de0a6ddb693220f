#!/usr/bin/env bash
# The bus against its peers (issue 14 item 5), as ratios from the same runs:
#   - bus fan-out at batch 1 (//bus:fanout_benchmark BM_FanOut) against raw
#     CAF 1->N fan-out of a shared message (BM_RawFanOut) in the same binary;
#   - one model through the bus (//actors/model:model_actor_benchmark
#     BM_ThroughBus) against the same model in a plain loop (BM_PlainLoop).
# Each binary runs every benchmark REPS times in a random interleaving
# (Google Benchmark's --benchmark_enable_random_interleaving), so a load
# change on a shared machine hits peers alike; figures are medians over the
# repetitions and ratios are ratios of medians.
#
#   tools/bench/bus_path.sh                  # REPS=10, ~5 min on 2 loaded cores
#   REPS=20 MIN_TIME=0.5 tools/bench/bus_path.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
REPS=${REPS:-10}
MIN_TIME=${MIN_TIME:-0.2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bus_path_bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# BIN_DIR=DIR: use DIR/fanout_benchmark and DIR/model_actor_benchmark as
# they are (no build), e.g. binaries copied aside while bazel is busy.
if [[ -n "${BIN_DIR:-}" ]]; then
  FANOUT=$BIN_DIR/fanout_benchmark MODEL=$BIN_DIR/model_actor_benchmark
else
  bazel build -c opt //bus:fanout_benchmark //actors/model:model_actor_benchmark >&2
  FANOUT=bazel-bin/bus/fanout_benchmark
  MODEL=bazel-bin/actors/model/model_actor_benchmark
fi
FLAGS=(--benchmark_repetitions="$REPS" --benchmark_enable_random_interleaving=true
       --benchmark_min_time="$MIN_TIME" --benchmark_out_format=json)
echo "== fan-out (load $(cut -d' ' -f1 /proc/loadavg))" >&2
"$FANOUT" "${FLAGS[@]}" \
  --benchmark_filter='BM_(FanOut|RawFanOut|RawMailbox)/.*batch:1/' \
  --benchmark_out="$WORK/fanout.json" >&2
echo "== whole path (load $(cut -d' ' -f1 /proc/loadavg))" >&2
"$MODEL" "${FLAGS[@]}" --benchmark_out="$WORK/model.json" >&2

/usr/bin/python3 - "$WORK" <<'PY'
import collections, json, os, statistics, sys
work = sys.argv[1]

def medians(path):
    runs = collections.defaultdict(list)
    for b in json.load(open(path))["benchmarks"]:
        if b.get("run_type", "iteration") == "iteration":
            name = b["run_name"].replace("/real_time", "").replace("/manual_time", "")
            runs[name].append(b["items_per_second"])
    return {k: statistics.median(v) for k, v in runs.items()}, \
        min(len(v) for v in runs.values())

fan, reps = medians(os.path.join(work, "fanout.json"))
mod, _ = medians(os.path.join(work, "model.json"))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.startswith("model name")), "unknown")
print(f"CPU: {cpu}; load average now {os.getloadavg()[0]:.1f}; "
      f"{reps} repetitions each, randomly interleaved; medians")
print()
print("| N | raw CAF 1->N deliveries/s | bus fan-out batch 1 | bus / raw | target >= 0.5 |")
print("| --- | --- | --- | --- | --- |")
for n in (1, 4, 16):
    raw = fan[f"BM_RawFanOut/n:{n}/batch:1"]
    bus = fan[f"BM_FanOut/subscribers:{n}/batch:1"]
    print(f"| {n} | {raw:,.0f} | {bus:,.0f} | {bus / raw:.2f} | "
          f"{'yes' if bus / raw >= 0.5 else 'no'} |")
print()
print("| N senders | raw CAF N:1 mailbox deliveries/s |")
print("| --- | --- |")
for n in (1, 4, 16):
    print(f"| {n} | {fan[f'BM_RawMailbox/n:{n}/batch:1']:,.0f} |")
print()
names = ["softmax batch 1", "MLP 784-128-10 batch 64", "CNN batch 64"]
targets = [0.7, 0.9, 0.9]
print("| model | TBB threads | plain loop samples/s | bus, 1 sample/message "
      "| bus, 64 samples/message | bus(1) / plain | bus(64) / plain | target |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for m, (name, target) in enumerate(zip(names, targets)):
    for t in (0, 1):
        plain = mod[f"BM_PlainLoop/model:{m}/threads:{t}"]
        one = mod[f"BM_ThroughBus/model:{m}/message:1/threads:{t}"]
        many = mod[f"BM_ThroughBus/model:{m}/message:64/threads:{t}"]
        print(f"| {name} | {t or 'all'} | {plain:,.0f} | {one:,.0f} | {many:,.0f} "
              f"| {one / plain:.2f} | {many / plain:.2f} "
              f"| >= {target}: {'yes' if many / plain >= target else 'no'} |")
PY
