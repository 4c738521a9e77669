#!/usr/bin/env bash
# Installs every package tandem needs to build, test and benchmark, from Debian 12 only.
# Idempotent: re-running it on a machine that has everything only checks.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (it calls apt-get)" >&2
  exit 2
fi
packages=(
  # build
  build-essential cmake ninja-build pkg-config clang-format git
  # libraries
  libboost-program-options-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
  default-libmysqlclient-dev libpq-dev libhiredis-dev libxxhash-dev libssl-dev
  nlohmann-json3-dev libtomlplusplus-dev libsqlite3-dev libspdlog-dev libfmt-dev libcpp-httplib-dev
  libldns-dev
  # real servers for tests and the demo
  mariadb-server mariadb-client postgresql-15 postgresql-client-15 redis-server redis-tools haproxy
  knot
  # tooling used by tests and benchmarks
  procps psmisc iproute2 sysbench percona-toolkit time jq bc zlib1g-dev
  # the migration report's test renders it in a real headless browser
  chromium
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts packaged servers on install; tandem's tests start their own on free ports,
# so stop the system-wide ones to leave the machine's cores to the tests.
for svc in mariadb postgresql redis-server haproxy knot; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
echo "install-deps.sh: all packages present"
