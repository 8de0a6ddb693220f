#!/usr/bin/env bash
# Samples/s through the inbound AMQP bridge vs RabbitMQ's own consume rate
# (a plain librabbitmq consumer) on one private broker, in one run, with the
# ratio per prefetch window.
#
#   tools/bench/amqp_inbound.sh                  # 5 interleaved repetitions
#   tools/bench/amqp_inbound.sh --benchmark_repetitions=9
#
# Broker: tools/bench/rabbitmq/server.sh (loopback, own ports and dirs).
# Benchmark: //amqp:inbound_benchmark (-c opt); extra arguments go to it.
# ratio = bridge samples/s / plain consumer messages/s, medians of the
# repetitions (random interleaving, so both see the same machine load).
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || {
  echo "missing rabbitmq-server: tools/setup.sh installs it" >&2; exit 2; }

bazel build -c opt //amqp:inbound_benchmark >&2
BIN=$(bazel info -c opt bazel-bin 2>/dev/null)/amqp/inbound_benchmark
WORK=$(mktemp -d "${TMPDIR:-/tmp}/amqp_inbound.XXXXXX")

source tools/bench/rabbitmq/server.sh
rabbitmq_start
echo "RabbitMQ $(dpkg-query -W -f='${Version}' rabbitmq-server), librabbitmq" \
     "$(dpkg-query -W -f='${Version}' librabbitmq-dev); $(nproc) CPUs," \
     "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs);" \
     "load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
TRAINBUS_AMQP_URL="amqp://guest:guest@127.0.0.1:$RMQ_PORT/" "$BIN" \
  --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
  --benchmark_out="$WORK/out.json" --benchmark_out_format=json "$@" >&2

/usr/bin/python3 - "$WORK/out.json" <<'PY'
import json, statistics, sys
rates = {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("run_type") == "aggregate" or "items_per_second" not in b:
        continue
    name, prefetch = b["run_name"].replace("/real_time", "").split("/")
    rates.setdefault((name, int(prefetch)), []).append(b["items_per_second"])
print("| prefetch | RabbitMQ consume msgs/s | bridge samples/s | bridge / RabbitMQ |")
print("|---|---|---|---|")
for p in sorted({k[1] for k in rates}):
    rmq = statistics.median(rates.get(("BM_RabbitMqConsume", p), [0]))
    ours = statistics.median(rates.get(("BM_InboundBridge", p), [0]))
    ratio = f"{ours / rmq:.2f}" if rmq else "-"
    print(f"| {p} | {rmq:,.0f} | {ours:,.0f} | {ratio} |")
PY
