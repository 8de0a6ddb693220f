#!/usr/bin/env bash
# Bus fan-out vs RabbitMQ fan-out, in one run, with a ratio table.
#
#   tools/bench/bus_vs_rabbitmq.sh                 # both benchmarks, ~3 min
#   tools/bench/bus_vs_rabbitmq.sh --seconds=1     # shorter RabbitMQ runs
#   BUS_JSON=out.json tools/bench/bus_vs_rabbitmq.sh   # reuse a bus result
#
# Ours: bazel run -c opt //bus:fanout_benchmark (Google Benchmark; items/s =
# messages delivered per second; args subscribers in {1,4,16}, batch in
# {1,64}). Its rows are matched by "subscribers:N"/"batch:B" in the name, or
# else by the first two numeric arguments (N, then B).
# Theirs: tools/bench/rabbitmq/run.sh (private broker on loopback, librabbitmq
# client, fanout exchange to N queues, consumers ack). Extra arguments go to
# the RabbitMQ benchmark.
#
# ratio = our delivered msgs/s / RabbitMQ's. "vs best" divides by RabbitMQ's
# fastest mode for that (N, batch) — confirms off, and for batch 64 the larger
# of 64 separate messages and one packed message — the conservative figure.
# The target (issue 4) is >= 20x.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bus_vs_rabbitmq.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

BUS_JSON=${BUS_JSON:-}
if [[ -z "$BUS_JSON" ]]; then
  if bazel query //bus:fanout_benchmark >/dev/null 2>&1; then
    echo "== bus: bazel run -c opt //bus:fanout_benchmark" >&2
    BUS_JSON=$WORK/bus.json
    bazel run -c opt //bus:fanout_benchmark -- \
      --benchmark_format=console --benchmark_out="$BUS_JSON" \
      --benchmark_out_format=json >&2
  else
    echo "== bus: //bus:fanout_benchmark does not exist yet; skipping our side" \
         "(the table shows RabbitMQ only)" >&2
  fi
fi

echo "== rabbitmq: tools/bench/rabbitmq/run.sh --subscribers=1,4,16 --batches=1,64 $*" >&2
tools/bench/rabbitmq/run.sh --subscribers=1,4,16 --batches=1,64 --confirms=off,on \
  --packed=true "$@" | tee "$WORK/rabbitmq.txt" >&2

/usr/bin/python3 - "$WORK/rabbitmq.txt" "${BUS_JSON:-}" <<'PY'
import json, re, sys

rmq = {}  # (n, batch, mode, confirms) -> delivered/s
for line in open(sys.argv[1]):
    if not line.startswith("RESULT "):
        continue
    kv = dict(p.split("=", 1) for p in line.split()[1:])
    if kv.get("ok") != "1":
        continue
    rmq[(int(kv["subscribers"]), int(kv["batch"]), kv["mode"], kv["confirms"])] = \
        float(kv["delivered_per_s"])

bus = {}  # (n, batch) -> (name, items/s)
if sys.argv[2]:
    for b in json.load(open(sys.argv[2])).get("benchmarks", []):
        if b.get("run_type") == "aggregate" or "items_per_second" not in b:
            continue
        name = b["name"]
        n = re.search(r"subscribers:(\d+)", name)
        m = re.search(r"batch:(\d+)", name)
        if n and m:
            key = (int(n.group(1)), int(m.group(1)))
        else:
            nums = [int(x) for x in re.findall(r"/(\d+)(?=/|$)", name)]
            if len(nums) < 2:
                continue
            key = (nums[0], nums[1])
        bus.setdefault(key, (name, b["items_per_second"]))

def fmt(x):
    return "-" if x is None else f"{x:,.0f}"

def ratio(a, b):
    return "-" if a is None or not b else f"{a / b:,.1f}x"

print()
print("Fan-out, 784-byte messages, delivered messages/s summed over subscribers")
hdr = ("N", "batch", "bus", "rmq", "rmq+confirms", "rmq packed", "bus/rmq",
       "bus/rmq+conf", "bus/rmq best", ">=20x")
print("%3s %5s %14s %12s %13s %12s %9s %12s %12s %6s" % hdr)
for n in (1, 4, 16):
    for batch in (1, 64):
        ours = bus.get((n, batch), (None, None))[1]
        plain = rmq.get((n, batch, "messages", "off"))
        conf = rmq.get((n, batch, "messages", "on"))
        packed = rmq.get((n, batch, "packed", "off")) if batch > 1 else None
        best = max([x for x in (plain, packed) if x] or [0]) or None
        ok = "-" if ours is None or best is None else ("yes" if ours / best >= 20 else "NO")
        print("%3d %5d %14s %12s %13s %12s %9s %12s %12s %6s" % (
            n, batch, fmt(ours), fmt(plain), fmt(conf), fmt(packed),
            ratio(ours, plain), ratio(ours, conf), ratio(ours, best), ok))
if bus:
    print("bus rows used (the first row for each N, batch):")
    for key in sorted(bus):
        print("  N=%d batch=%d: %s" % (key[0], key[1], bus[key][0]))
else:
    print("(no bus figures: //bus:fanout_benchmark missing or its rows not recognised)")
PY
