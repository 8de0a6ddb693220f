#!/usr/bin/env bash
# Full disk: a small filesystem under a durable log and a registry, filled
# during a run. Passes when each fill ends in a clear error (it names the
# path and says the disk is full), nothing crashes, and everything committed
# before it reads back after a reopen.
#
#   tools/soak/full_disk.sh          # an 8 MiB tmpfs (needs root), else the
#                                    # file size limit (ulimit -f, EFBIG)
#   FULL_DISK_MB=16 tools/soak/full_disk.sh
#   SOAK_BIN_DIR=DIR ...             # trainbus, registry_crash and log_check
#                                    # from DIR (no build)
#
# 1. `trainbus run` of one source into a durable resource whose log is on
#    the small disk (the run's registry too): the source stops with the
#    log's error, the run exits non-zero with it; log_check then reopens
#    the log and reads every record up to the offset the error said was
#    stored.
# 2. registry_crash's writer on a registry on the small disk (its journal
#    outside it) until a write fails; registry_crash check then finds every
#    journaled commit intact.
set -uo pipefail
cd "$(dirname "$0")/../.."
MB=${FULL_DISK_MB:-8}
BIN_DIR=${SOAK_BIN_DIR:-}
if [[ -z "$BIN_DIR" ]]; then
  bazel build -c opt //tools:trainbus //tools/soak:registry_crash //tools/soak:log_check >&2 || exit 1
  OUT=$(bazel info -c opt bazel-bin 2>/dev/null)
  TRAINBUS=$OUT/tools/trainbus
  CRASH=$OUT/tools/soak/registry_crash
  LOG_CHECK=$OUT/tools/soak/log_check
else
  TRAINBUS=$BIN_DIR/trainbus CRASH=$BIN_DIR/registry_crash LOG_CHECK=$BIN_DIR/log_check
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/full_disk.XXXXXX")
DISK=$WORK/disk
mkdir -p "$DISK"
MODE=
cleanup() {
  [[ $MODE == tmpfs ]] && umount "$DISK" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# A fresh small disk at $DISK: tmpfs if we may mount, else the file size
# limit, applied to the commands run through `limited`.
fresh_disk() {
  [[ $MODE == tmpfs ]] && umount "$DISK"
  if mount -t tmpfs -o "size=${MB}m" tmpfs "$DISK" 2>/dev/null; then
    MODE=tmpfs
  else
    MODE=ulimit
    rm -rf "$DISK" && mkdir -p "$DISK"
  fi
}
limited() {
  if [[ $MODE == ulimit ]]; then
    (trap '' XFSZ; ulimit -f $((MB * 1024)); "$@")
  else
    "$@"
  fi
}
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# ---- 1. the durable log (and the run's registry) --------------------------
fresh_disk
echo "small disk: $MODE, $MB MiB at $DISK; load $(cut -d' ' -f1 /proc/loadavg)"
cat >"$WORK/spec.yaml" <<YAML
name: full_disk
sources:
  - {name: train, kind: idx, data_dir: /usr/share/datasets/fashion-mnist, output: mnist, epochs: 1, seed: 1}
evaluation:
  data_dir: /usr/share/datasets/fashion-mnist
resources:
  - {name: mnist, max_queue: 256, durable: true, log: {dir: $DISK/log, segment_bytes: 1048576}}
  - {name: model1, max_queue: 256}
  - {name: metrics, max_queue: 256}
bindings:
  - {from: mnist, to: model1, filter: labelled, policy: block, window: 64}
models:
  - {name: model1, spec: "softmax:opt=sgd,lr=0.05,batch=1", input: model1, output: metrics, eval_every: 1000, eval_subset: 200}
consumers: []
YAML
start=$(date +%s)
limited nice -n 19 "$TRAINBUS" run "$WORK/spec.yaml" --out_dir= --test_limit=500 \
  --registry_dir="$DISK/registry" --timeout_s=300 >"$WORK/run.txt" 2>&1
rc=$?
echo "trainbus run: exit $rc after $(($(date +%s) - start)) s; df: $(df -k --output=used,avail "$DISK" | tail -n 1)"
grep -v ' step ' "$WORK/run.txt" | grep -i -E 'stops|fail|error|full' | sed 's/^/  | /'
((rc == 0)) && fail "the run succeeded on a full disk (is $MB MiB more than an epoch?)"
((rc >= 128)) && fail "the run died of signal $((rc - 128))"
grep -q "disk holding the log is full\|ulimit -f" "$WORK/run.txt" || fail "no line says the disk is full"
grep -q "$DISK/log" "$WORK/run.txt" || fail "the error does not name the log's path"
last=$(sed -n 's/.*records up to offset \([0-9]*\) are stored.*/\1/p' "$WORK/run.txt" | head -n 1)
echo "the log said: records up to offset ${last:-?} are stored"
"$LOG_CHECK" "$DISK/log" ${last:+"$last"} || fail "the log lost records it had stored"
"$TRAINBUS" registry verify --registry_dir="$DISK/registry" | sed 's/^/  | /' ||
  fail "the run's registry does not verify"

# ---- 2. the registry ------------------------------------------------------
fresh_disk
start=$(date +%s)
limited nice -n 19 "$CRASH" write "$DISK/registry" "$WORK/journal" 1 2>"$WORK/writer.txt"
rc=$?
echo "registry writer: exit $rc after $(($(date +%s) - start)) s, $(wc -l <"$WORK/journal") commits journaled"
sed 's/^/  | /' "$WORK/writer.txt"
((rc >= 128)) && fail "the writer died of signal $((rc - 128))"
((rc == 0)) && fail "the writer stopped without an error"
grep -q -i "full" "$WORK/writer.txt" || fail "the writer's error does not say the disk is full"
grep -q "$DISK/registry" "$WORK/writer.txt" || fail "the writer's error does not name the registry"
"$CRASH" check "$DISK/registry" "$WORK/journal" | sed 's/^/  | /'
((PIPESTATUS[0] == 0)) || fail "the registry lost or broke committed records"

if ((failures == 0)); then echo "full disk: pass ($MODE)"; else echo "full disk: $failures failures"; fi
exit $((failures > 0))
