#!/usr/bin/env bash
# Starts a private RabbitMQ on loopback, runs the fan-out benchmark against it,
# and stops the broker on exit (also on Ctrl-C or failure).
#
#   tools/bench/rabbitmq/run.sh                      # full sweep (~1-2 min)
#   tools/bench/rabbitmq/run.sh --subscribers=4 --batches=64 --confirms=off
#
# Extra arguments go to rabbitmq_fanout_benchmark (see its --help).
set -euo pipefail
cd "$(dirname "$0")/../../.."

for tool in /usr/lib/rabbitmq/bin/rabbitmq-server /usr/include/amqp.h; do
  if [[ ! -e "$tool" ]]; then
    echo "missing $tool: install rabbitmq-server and librabbitmq-dev (tools/setup.sh --bench)" >&2
    exit 2
  fi
done

bazel build -c opt //tools/bench/rabbitmq:rabbitmq_fanout_benchmark >&2
BIN=$PWD/bazel-bin/tools/bench/rabbitmq/rabbitmq_fanout_benchmark

source tools/bench/rabbitmq/server.sh
rabbitmq_start
echo "RabbitMQ $(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null), librabbitmq $(dpkg-query -W -f='${Version}' librabbitmq-dev 2>/dev/null)" >&2
"$BIN" --port="$RMQ_PORT" "$@"
