#!/usr/bin/env bash
# A placed run against the same spec in one process: experiments/cluster.yaml
# in-process (`cluster run SPEC`) and on a hub plus two node processes on
# loopback (`cluster node` twice, then `cluster run SPEC --nodes=...`),
# alternating rounds in one script run, one markdown table of wall time and
# per-model training rates and their ratio.
#
#   tools/bench/placed_vs_local.sh [--rounds=3] [--insecure] [run flags...]
#
# Extra flags go to both runs (default: --train_limit=20000). The placed run
# uses TLS with certificates made for it, or plain TCP with --insecure.
set -euo pipefail
ROUNDS=3
TLS=tls
if [[ "${1:-}" == --rounds=* ]]; then ROUNDS=${1#--rounds=}; shift; fi
if [[ "${1:-}" == --insecure ]]; then TLS=insecure; shift; fi
FLAGS=("$@")
if [[ ${#FLAGS[@]} -eq 0 ]]; then FLAGS=(--train_limit=20000); fi
cd "$(dirname "$0")/../.."
WORK=$(mktemp -d "${TMPDIR:-/tmp}/placed_vs_local.XXXXXX")
NODES=()
cleanup() {
  for pid in "${NODES[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

bazel build -c opt //experiments:cluster >&2
BIN=bazel-bin/experiments/cluster
SPEC=experiments/cluster.yaml
if [[ $TLS == tls ]]; then
  "$BIN" cluster-certs "$WORK/certs" --nodes=worker1,worker2 >&2
  TLS_FLAG=--tls_dir="$WORK/certs"
else
  TLS_FLAG=--insecure
fi

# Starts node $1 and prints its address once it listens (at most 30 s).
start_node() {
  "$BIN" node --name="$1" --listen=127.0.0.1:0 "$TLS_FLAG" >"$WORK/$1.log" 2>&1 &
  NODES+=($!)
  for _ in $(seq 300); do
    if grep -q '^LISTENING ' "$WORK/$1.log"; then
      sed -n 's/^LISTENING //p' "$WORK/$1.log"
      return
    fi
    sleep 0.1
  done
  echo "node $1 did not listen" >&2
  exit 1
}

for ((i = 1; i <= ROUNDS; i++)); do
  echo "== round $i: in-process" >&2
  "$BIN" run "$SPEC" --quiet --out_dir= --report_json="$WORK/local_$i.json" \
    "${FLAGS[@]}" >"$WORK/local_$i.log"
  echo "== round $i: hub + 2 nodes" >&2
  NODES=()
  a1=$(start_node worker1)
  a2=$(start_node worker2)
  "$BIN" run "$SPEC" --nodes="worker1=$a1,worker2=$a2" --quiet "$TLS_FLAG" \
    --report_json="$WORK/placed_$i.json" "${FLAGS[@]}" >"$WORK/placed_$i.log"
  wait "${NODES[@]}"
done

/usr/bin/env python3 - "$WORK" "$ROUNDS" "${FLAGS[*]}" <<'PY'
import json, os, statistics, sys
work, rounds, flags = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def load(which):
    return [json.load(open(os.path.join(work, f"{which}_{i}.json")))
            for i in range(1, rounds + 1)]
local, placed = load("local"), load("placed")
print(f"flags: {flags}; {rounds} alternating rounds; "
      f"load average after: {os.getloadavg()[0]:.2f}")
print()
print("| figure (median of rounds) | in-process | hub + 2 nodes | placed / in-process |")
print("| --- | ---: | ---: | ---: |")
def row(name, a, b, fmt="{:.2f}"):
    print(f"| {name} | {fmt.format(a)} | {fmt.format(b)} | {b / a:.3f} |")
row("wall seconds", statistics.median(r["wall_seconds"] for r in local),
    statistics.median(r["wall_seconds"] for r in placed))
for k, m in enumerate(local[0]["models"]):
    row(f"{m['name']} samples/s",
        statistics.median(r["models"][k]["train_samples_per_second"] for r in local),
        statistics.median(r["models"][k]["train_samples_per_second"] for r in placed),
        "{:.0f}")
same = all(l["models"][k]["test_accuracy"] == p["models"][k]["test_accuracy"]
           for l, p in zip(local, placed) for k in range(len(l["models"])))
shas = {m["name"]: {r["models"][k]["checkpoint_sha256"] for r in placed}
        for k, m in enumerate(placed[0]["models"])}
print()
print(f"same test accuracies in every round: {same}; one checkpoint sha256 "
      f"per model over the placed rounds: "
      f"{all(len(s) == 1 for s in shas.values())}")
PY
