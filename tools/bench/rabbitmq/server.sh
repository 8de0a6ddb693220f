#!/usr/bin/env bash
# Starts a private RabbitMQ node on loopback for benchmarks; sourced by run.sh.
#
#   source tools/bench/rabbitmq/server.sh
#   rabbitmq_start            # sets RMQ_PORT; registers a trap that stops it
#   ... use amqp://guest:guest@127.0.0.1:$RMQ_PORT ...
#   rabbitmq_kill             # SIGKILL the node (a crash), keeping its data
#   rabbitmq_launch           # start it again: same port, queues and messages
#
# rabbitmq_start is rabbitmq_setup (directories, ports, config, trap) then
# rabbitmq_launch (start the node, wait until it has booted).
# Everything lives in a temp dir: own node name, AMQP/dist/epmd ports, mnesia,
# logs and Erlang cookie, so it never touches a system RabbitMQ.

RMQ_BIN=${RMQ_BIN:-/usr/lib/rabbitmq/bin}

rmq_free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

rabbitmq_stop() {
  [[ -n "${RMQ_DIR:-}" ]] || return 0
  if [[ -n "${RMQ_SERVER_PID:-}" ]] && kill -0 "$RMQ_SERVER_PID" 2>/dev/null; then
    "$RMQ_BIN/rabbitmqctl" -q stop >/dev/null 2>&1 || true
    for _ in $(seq 1 100); do kill -0 "$RMQ_SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$RMQ_SERVER_PID" 2>/dev/null && kill -- "-$RMQ_SERVER_PID" 2>/dev/null
  fi
  # Our own epmd, on our own port.
  if [[ -n "${ERL_EPMD_PORT:-}" ]]; then epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true; fi
  [[ "${RMQ_KEEP_DIR:-0}" == 1 ]] || rm -rf "$RMQ_DIR"
  RMQ_DIR=
}

rabbitmq_start() {
  rabbitmq_setup && rabbitmq_launch
}

# Kills the node at once (SIGKILL to its process group), as a crash would;
# its mnesia directory (durable queues, persistent messages) stays.
rabbitmq_kill() {
  [[ -n "${RMQ_SERVER_PID:-}" ]] || return 0
  kill -9 -- "-$RMQ_SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$RMQ_SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  wait "$RMQ_SERVER_PID" 2>/dev/null || true
  rm -f "$RABBITMQ_PID_FILE"
  RMQ_SERVER_PID=
}

rabbitmq_setup() {
  RMQ_DIR=$(mktemp -d "${TMPDIR:-/tmp}/trainbus-rabbitmq.XXXXXX")
  trap rabbitmq_stop EXIT
  trap 'exit 130' INT TERM
  export HOME="$RMQ_DIR/home"; mkdir -p "$HOME"
  export RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf"; : > "$RABBITMQ_CONF_ENV_FILE"
  export RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq"   # .conf added by rabbitmq
  export RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_DIR/advanced.config"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
  echo "[]." > "$RABBITMQ_ENABLED_PLUGINS_FILE"
  export RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia"
  export RABBITMQ_LOG_BASE="$RMQ_DIR/log"
  export RABBITMQ_PID_FILE="$RMQ_DIR/rabbitmq.pid"
  export RABBITMQ_NODENAME="trainbus-bench-$$@localhost"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RMQ_PORT=$(rmq_free_port)
  export RABBITMQ_NODE_PORT=$RMQ_PORT
  export RABBITMQ_DIST_PORT=$(rmq_free_port)
  export ERL_EPMD_PORT=$(rmq_free_port)
  export ERL_EPMD_ADDRESS=127.0.0.1
  # Erlang resolves the node name's host part, localhost, itself, and a root
  # without /etc/hosts cannot (epmd_error "localhost" nxdomain). So the VMs
  # (the node and rabbitmqctl) get their own host table, looked up first.
  export ERL_INETRC="$RMQ_DIR/inetrc"
  printf '%s\n' '{host, {127,0,0,1}, ["localhost"]}.' '{lookup, [file, native]}.' > "$ERL_INETRC"
  # Erlang distribution on loopback too (the node and the rabbitmqctl client).
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} -kernel inet_dist_listen_min $RABBITMQ_DIST_PORT -kernel inet_dist_listen_max $RABBITMQ_DIST_PORT"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  # Loopback only; guest may log in from localhost by default.
  cat > "$RABBITMQ_CONFIG_FILE.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$RMQ_PORT
loopback_users.guest = true
vm_memory_high_watermark.relative = 0.4
disk_free_limit.absolute = 50MB
CONF
  mkdir -p "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
}

rabbitmq_launch() {
  setsid "$RMQ_BIN/rabbitmq-server" >>"$RMQ_DIR/server.out" 2>&1 &
  RMQ_SERVER_PID=$!
  # `wait` polls until the pid file appears and the rabbit app has booted.
  if ! timeout 150 "$RMQ_BIN/rabbitmqctl" -q wait --timeout 140 "$RABBITMQ_PID_FILE" \
      >"$RMQ_DIR/await.out" 2>&1 ||
     ! "$RMQ_BIN/rabbitmqctl" -q await_startup --timeout 60 >>"$RMQ_DIR/await.out" 2>&1; then
    echo "rabbitmq did not start within 150 s; its output:" >&2
    tail -n 30 "$RMQ_DIR/server.out" "$RMQ_DIR/await.out" >&2
    return 1
  fi
  echo "rabbitmq $RABBITMQ_NODENAME is up on 127.0.0.1:$RMQ_PORT (dir $RMQ_DIR)" >&2
}
