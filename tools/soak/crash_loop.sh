#!/usr/bin/env bash
# Registry crash loop: kill -9 a writer (tools/soak:registry_crash) at a
# random point of its registry writes (SaveModel, AppendLogs, ClaimTask +
# FinishTask, AppendPredictionBatch) KILLS times; after every kill, reopen
# the registry and check it against the writer's journal of commits
# (integrity_check, blob hashes, lost commits, torn batches, task claims).
# At the end, drain the tasks the killed writers held and check that every
# task was done exactly once (some after a re-run).
#
#   tools/soak/crash_loop.sh               # 1000 kills, ~5-10 min
#   tools/soak/crash_loop.sh 50            # a quick look
#   CRASH_BIN=FILE tools/soak/crash_loop.sh   # that binary, no build
#   CRASH_MAX_DELAY_MS=300 ...             # kill 0..300 ms into the writes
#
# Exits 1 at the first check that finds a problem (its report is printed).
set -euo pipefail
cd "$(dirname "$0")/../.."
KILLS=${1:-1000}
MAX_DELAY_MS=${CRASH_MAX_DELAY_MS:-150}
BIN=${CRASH_BIN:-}
if [[ -z "$BIN" ]]; then
  bazel build -c opt //tools/soak:registry_crash >&2
  BIN=$(bazel info -c opt bazel-bin 2>/dev/null)/tools/soak/registry_crash
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/crash_loop.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
REG=$WORK/registry
JOURNAL=$WORK/journal
echo "crash loop: $KILLS kills, 0..$MAX_DELAY_MS ms after the first write, in $WORK; load $(cut -d' ' -f1 /proc/loadavg)"
start=$(date +%s)
temps=0
for ((i = 1; i <= KILLS; i++)); do
  rm -f "$WORK/ready"
  "$BIN" write "$REG" "$JOURNAL" "$i" "$WORK/ready" &
  pid=$!
  # The kill is timed from the writer's first write (its start-up on a
  # loaded machine takes longer than the delay); poll for it, 30 s at most.
  t=0
  while [[ ! -e "$WORK/ready" ]] && ((t++ < 3000)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  delay_ms=$((RANDOM % (MAX_DELAY_MS + 1)))
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  kill -9 "$pid" 2>/dev/null || true
  rc=0
  { wait "$pid"; } 2>/dev/null || rc=$?
  if [[ $rc -ne 137 ]]; then
    echo "kill $i: the writer exited with $rc before the kill (see its error above)" >&2
    exit 1
  fi
  if ! "$BIN" check "$REG" "$JOURNAL" >"$WORK/check.txt"; then
    echo "kill $i (after $delay_ms ms):" >&2
    cat "$WORK/check.txt" >&2
    exit 1
  fi
  temps=$((temps + $(sed -n 's/.*), \([0-9]*\) temporary files.*/\1/p' "$WORK/check.txt")))
  if ((i % 50 == 0 || i == KILLS)); then
    echo "kill $i/$KILLS, $(($(date +%s) - start)) s: $(head -n 1 "$WORK/check.txt")"
  fi
done
"$BIN" drain "$REG" "$JOURNAL"
echo "after the drain:"
"$BIN" check "$REG" "$JOURNAL" --final | tee "$WORK/check.txt"
echo "kills: $KILLS; temporary blob files left by killed writers (removed on reopen): $temps"
echo "journal lines by kind: $(cut -d' ' -f1 "$JOURNAL" | sort | uniq -c | tr -s ' \n' ' ')"
echo "wall: $(($(date +%s) - start)) s; load $(cut -d' ' -f1 /proc/loadavg)"
