#!/usr/bin/env bash
# Benchmarks `tandem lag` against native replication under a steady write load (sysbench on
# MariaDB, pgbench -R on PostgreSQL, redis-benchmark on Redis), side by side with pt-heartbeat for
# MariaDB, and measures the load the heartbeat itself adds. Prints Markdown for BENCHMARKS.md.
#
#   bench/lag_bench.sh [--seconds 60] [--rate 200] [--engines mariadb,postgres,redis]
#
# Builds an optimised tree in $BUILD_DIR (default build-bench) and starts private servers on free
# ports (tests/harness), which it stops when it ends. Needs scripts/install-deps.sh's packages.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target tandem tandem-lag-bench >/dev/null
echo "<!-- bench/lag_bench.sh $* on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ) -->"
exec "$build/tests/lag/tandem-lag-bench" "$@"
