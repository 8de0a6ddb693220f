#!/usr/bin/env bash
# Fuzzes targets one after another, each from a copy of its seed corpus, at
# nice 19 (FUZZ_NICE) and one process at a time (the machine is shared; no
# -jobs, which would fork a worker and move its output to fuzz-0.log), and
# prints one summary line per target: executions, exec/s, the outcome, and
# the executions of all its runs so far.
#
#   fuzz/run.sh BIN_DIR WORK_DIR RUNS SECONDS TARGET...
#     BIN_DIR   where the *_fuzzer binaries are:
#               $(bazel --output_base=... info --config=fuzz bazel-bin)/fuzz
#     WORK_DIR  gets <target>/corpus (grown by the run), <target>/log (this
#               run's), <target>/runs (one line per run) and any
#               crash-*/leak-*/timeout-* file. Run again with the same
#               WORK_DIR to resume: the corpus is kept, and the total line
#               sums the executions of every run recorded in runs.
#     RUNS      executions per target, over all its runs: a resumed target
#               runs what is left (libFuzzer -runs), a finished one is skipped
#     SECONDS   and at most this long (-max_total_time)
set -uo pipefail
[[ $# -ge 5 ]] || { sed -n '2,19p' "$0" >&2; exit 2; }
bin=$1 work=$2 runs=$3 seconds=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
# The IDX and log targets write their input to files: on tmpfs that is 15x
# faster than on this machine's disk.
export TMPDIR=${FUZZ_TMPDIR:-/dev/shm}
# Executions of every run of target $1 recorded so far.
done_so_far() {
  sed -n 's/.* execs=\([0-9]*\) .*/\1/p' "$work/$1/runs" 2>/dev/null |
    awk '{s += $1} END {print s + 0}'
}
for t in "$@"; do
  left=$((runs - $(done_so_far "$t")))
  if [[ $left -le 0 ]]; then
    echo "$t done: total=$(done_so_far "$t")"
    continue
  fi
  mkdir -p "$work/$t/corpus"
  cp -n "$here/corpus/$t/"* "$work/$t/corpus/" 2>/dev/null
  # Image, checkpoint and REST seeds reach 31 KB; the text parsers need less.
  case $t in
    checkpoint|rest_api|png|jpeg) max_len=65536 ;;
    *) max_len=4096 ;;
  esac
  (cd "$work/$t" && nice -n "${FUZZ_NICE:-19}" "$bin/${t}_fuzzer" \
      -runs="$left" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 corpus >log 2>&1)
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t/log")
  found=$(cd "$work/$t" && ls crash-* leak-* timeout-* oom-* 2>/dev/null | tr '\n' ' ')
  line="$t execs=${execs:-?} exec/s=${speed:-?} rc=$rc ${found:+found: $found}"
  echo "$(date -u +%FT%TZ) load=$(cut -d' ' -f1 /proc/loadavg) $line" \
      >>"$work/$t/runs"
  echo "$line total=$(done_so_far "$t")"
done
