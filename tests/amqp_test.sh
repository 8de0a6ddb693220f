#!/usr/bin/env bash
# AMQP end to end (issue 13): a private RabbitMQ on loopback, a Python (pika)
# publisher of 2,000 labelled and 200 unlabelled Fashion-MNIST images,
# `trainbus run experiments/amqp_routing.yaml` training on the first and
# publishing predictions of the second to an exchange, and the broker killed
# (SIGKILL) in the middle of the stream and started again.
#
# Passes when: the run ends normally and reconnected; every published image
# reached the bus (every message id is in the JSON lines of what the
# resources accepted) while both queues end empty, i.e. every message was
# acked and none that was acked is missing; the 3 bad messages are in
# trainbus.train.dead with a reason; a pika consumer gets 200 distinct
# predictions with predicted_label, model, version and scores headers. The
# production images are published after the restart, so the live and the
# outbound bridge must have reconnected too. The run's dashboard (held open
# after the run) serves the bridges' counters on /metrics: promtool accepts
# them, and they are the report's figures, i.e. what was published here.
#
#   args: TRAINBUS_BINARY SPEC amqp_fashion.py server.sh
set -euo pipefail
trainbus=$(readlink -f "$1")
spec_in=$(readlink -f "$2")
fashion=$(readlink -f "$3")
server_sh=$(readlink -f "$4")

T=${TEST_TMPDIR:-$(mktemp -d)}/amqp
mkdir -p "$T"
export TMPDIR=$T

fail() { echo "FAIL: $*" >&2; [[ -f "$T/run.out" ]] && tail -n 40 "$T/run.out" >&2; exit 1; }
for f in /usr/lib/rabbitmq/bin/rabbitmq-server /usr/lib/python3/dist-packages/pika; do
  [[ -e "$f" ]] || fail "missing $f: run tools/setup.sh (rabbitmq-server, python3-pika)"
done

# shellcheck source=../tools/bench/rabbitmq/server.sh
source "$server_sh"
rabbitmq_setup
rabbitmq_launch || fail "the broker did not start"
url="amqp://guest:guest@127.0.0.1:$RMQ_PORT/"
py() { /usr/bin/python3 "$fashion" --url "$url" "$@"; }

# The example spec, pointed at this broker and this test's directory; the
# training queue is paced (400/s) so that the broker dies in the middle.
sed -e "s|/tmp/trainbus/amqp_routing|$T|g" \
    -e "s|^  url: .*|  url: $url\n  give_up_ms: 120000\n  reconnect_max_ms: 1000|" \
    -e "s|prefetch: 64}|prefetch: 64, rate: 400}|" \
    "$spec_in" > "$T/spec.yaml"
grep -q "rate: 400" "$T/spec.yaml" || fail "could not pace the training queue in $T/spec.yaml"

py declare
py publish --queue trainbus.train --labelled 2000 --bad 3

"$trainbus" run "$T/spec.yaml" --out_dir="$T/out" --registry_dir="$T/registry" \
  --timeout_s=500 --dashboard=127.0.0.1:0 --dashboard_hold >"$T/run.out" 2>&1 &
run_pid=$!
stop_run() { kill -TERM "$run_pid" 2>/dev/null || true; wait "$run_pid" 2>/dev/null || true; }
trap 'stop_run; rabbitmq_stop' EXIT  # rabbitmq_setup's trap too

# Mid-stream: at least 300 of the 2,004 training messages taken, not all.
deadline=$((SECONDS + 180))
while :; do
  kill -0 "$run_pid" 2>/dev/null || fail "trainbus run ended before the broker was killed"
  left=$(py depth trainbus.train)
  (( left <= 1700 )) && break
  (( SECONDS < deadline )) || fail "the bridge took fewer than 300 messages in 180 s ($left left)"
done
(( left > 0 )) || fail "the queue drained before the broker could be killed"
echo "killing the broker with $left training messages still queued" >&2
rabbitmq_kill
rabbitmq_launch || fail "the broker did not start again"
# Production traffic only now: the live bridge must have reconnected.
py publish --queue trainbus.live --unlabelled 200 --first 1000

# The run is over when the held dashboard says so (polled, with a deadline).
deadline=$((SECONDS + 500))
until grep -q "the run is over" "$T/run.out"; do
  kill -0 "$run_pid" 2>/dev/null || fail "trainbus run exited without holding its dashboard"
  (( SECONDS < deadline )) || fail "the run did not end within 500 s"
  sleep 0.2
done
grep -q "^trainbus run: " "$T/run.out" && fail "the run failed"
grep -q "reconnected" "$T/run.out" || fail "the bridges never reconnected"
dashboard=$(grep -o -m1 "^dashboard: http://[^ ]*" "$T/run.out" | cut -d' ' -f2)
[[ -n "$dashboard" ]] || fail "no dashboard address in the run's output"
/usr/bin/python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1] + "metrics", timeout=10).read().decode())' \
  "$dashboard" > "$T/metrics.txt" || fail "GET ${dashboard}metrics"
promtool check metrics < "$T/metrics.txt" || fail "promtool refused the dashboard's /metrics"

/usr/bin/python3 - "$T/out/report.json" "$T/received.jsonl" "$T/metrics.txt" <<'PY' || fail "see above"
import json, sys
report = json.load(open(sys.argv[1]))
bridges = {b["name"]: b for b in report["amqp"]}
for name, b in sorted(bridges.items()):
    print("bridge", name, b)
train = bridges["train-in"]
assert train["reconnects"] >= 1, "train-in never reconnected"
assert train["dead_lettered"] >= 3, "train-in dead-lettered %d" % train["dead_lettered"]
assert train["acked"] >= 2000, "train-in acked only %d" % train["acked"]
# The outbound bridge connects on its first prediction (after the restart
# here), so only the inbound ones have a connection to lose.
assert bridges["live-in"]["reconnects"] >= 1, "live-in never reconnected"
origins = {}
for line in open(sys.argv[2]):
    j = json.loads(line)
    if j.get("type") == "sample":
        origins.setdefault(j["source"], set()).add(j["meta"].get("origin"))
want = {"train-in": {"train-%d" % i for i in range(2000)},
        "live-in": {"live-%d" % i for i in range(1000, 1200)}}
for source, ids in want.items():
    missing = ids - origins.get(source, set())
    assert not missing, "%d %s messages never reached the bus, e.g. %s" % (
        len(missing), source, sorted(missing)[:5])
# /metrics has every counter of every bridge, equal to the report's.
metrics = {}
for line in open(sys.argv[3]):
    if line.startswith("trainbus_amqp_"):
        name, value = line.rsplit(" ", 1)
        metrics[name] = float(value)
for name, b in bridges.items():
    for counter, value in b.items():
        if counter in ("name", "direction"):
            continue
        key = 'trainbus_amqp_%s_total{bridge="%s",direction="%s"}' % (
            counter, name, b["direction"])
        assert metrics.get(key) == value, "%s is %s on /metrics, %s in the report" % (
            key, metrics.get(key), value)
assert metrics['trainbus_amqp_dead_lettered_total{bridge="train-in",direction="in"}'] >= 3
assert metrics['trainbus_amqp_accepted_total{bridge="live-in",direction="in"}'] >= 200
out = [b for b in bridges.values() if b["direction"] == "out"]
assert out and all(b["confirmed"] >= 200 for b in out), out
print("/metrics: %d AMQP series, equal to the report's counters" % len(metrics))
model = report["models"][0]
assert model["samples"] >= 2000, "model1 trained on %d samples" % model["samples"]
print("every published image reached the bus; model1 trained on %d samples, "
      "test accuracy %.3f" % (model["samples"], model["test_accuracy"]))
PY

for q in trainbus.train trainbus.live; do
  left=$(py depth "$q")
  [[ "$left" == 0 ]] || fail "$left messages were never acked in $q"
done
py dead trainbus.train.dead 3 || fail "dead letters"
py predictions test.predictions 200 || fail "predictions"
echo "PASS"
