#!/usr/bin/env bash
# Installs the Debian packages trainbus needs. Idempotent: prints nothing and
# touches nothing when every package is already installed.
#
#   tools/setup.sh           everything any target in //... needs to build and
#                            pass (the README's two commands), including the
#                            small -dev libraries that benchmarks link, and
#                            the RabbitMQ broker and pika that
#                            tests/amqp_test starts
#   tools/setup.sh --bench   also the peers' runtimes that the comparison
#                            scripts start (PyTorch, perf, wrk, Flask)
#   tools/setup.sh --fuzz    also clang and libFuzzer's runtime, for
#                            --config=fuzz (FUZZING.md); plain builds use gcc
#
# tests/setup_packages_test.sh checks that every library third_party/BUILD
# links, and every header the code includes from /usr/include, belongs to a
# package in the default list below.
set -euo pipefail

packages=(
  bazel-bootstrap g++ pkg-config curl
  libcaf-dev libhwy-dev libtbb-dev libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libsqlite3-dev libpng-dev libjpeg-dev libssl-dev
  nlohmann-json3-dev libyaml-cpp-dev libcpp-httplib-dev
  libopenblas-dev libdnnl-dev libxsmm-dev librabbitmq-dev
  prometheus curl python3-requests
  dataset-fashion-mnist
  rabbitmq-server python3-pika
  libjs-chart.js chromium chromium-driver python3-selenium python3-yaml
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-torch python3-numpy linux-perf)
  # tools/bench/serve.sh: the load generator and the Flask peer.
  packages+=(wrk python3-flask gunicorn python3-pil)
elif [[ "${1:-}" == "--fuzz" ]]; then
  packages+=(clang libclang-rt-14-dev)
elif [[ $# -gt 0 ]]; then
  echo "usage: tools/setup.sh [--bench | --fuzz]" >&2
  exit 2
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || {
    echo "setup.sh: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  }
  sudo="sudo"
fi
echo "setup.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when apt cannot find a package.
if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/trainbus-setup.log 2>&1; then
  $sudo apt-get update -q >>/tmp/trainbus-setup.log 2>&1
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/trainbus-setup.log 2>&1 || {
    echo "setup.sh: apt-get failed; see /tmp/trainbus-setup.log" >&2
    tail -n 20 /tmp/trainbus-setup.log >&2
    exit 1
  }
fi
echo "setup.sh: done" >&2
