#!/usr/bin/env bash
# Fuzzes targets one after another, each from a copy of its seed corpus, at
# nice 10 and one process at a time (the machine is shared; no -jobs, which
# would fork a worker and move its output to fuzz-0.log), and
# prints one summary line per target: executions, exec/s, and the outcome.
#
#   fuzz/run.sh BIN_DIR WORK_DIR RUNS SECONDS TARGET...
#     BIN_DIR   where the *_fuzzer binaries are:
#               $(bazel --output_base=... info --config=fuzz bazel-bin)/fuzz
#     WORK_DIR  gets <target>/corpus (grown by the run), <target>/log and
#               any crash-*/leak-*/timeout-* file
#     RUNS      executions per target (libFuzzer -runs)
#     SECONDS   and at most this long (-max_total_time)
set -uo pipefail
[[ $# -ge 5 ]] || { sed -n '2,13p' "$0" >&2; exit 2; }
bin=$1 work=$2 runs=$3 seconds=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
# The IDX and log targets write their input to files: on tmpfs that is 15x
# faster than on this machine's disk.
export TMPDIR=${FUZZ_TMPDIR:-/dev/shm}
for t in "$@"; do
  mkdir -p "$work/$t/corpus"
  cp -n "$here/corpus/$t/"* "$work/$t/corpus/" 2>/dev/null
  # Image, checkpoint and REST seeds reach 31 KB; the text parsers need less.
  case $t in
    checkpoint|rest_api|png|jpeg) max_len=65536 ;;
    *) max_len=4096 ;;
  esac
  (cd "$work/$t" && nice -n 10 "$bin/${t}_fuzzer" -runs="$runs" \
      -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 corpus >log 2>&1)
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t/log")
  found=$(cd "$work/$t" && ls crash-* leak-* timeout-* oom-* 2>/dev/null | tr '\n' ' ')
  echo "$t execs=${execs:-?} exec/s=${speed:-?} rc=$rc ${found:+found: $found}"
done
