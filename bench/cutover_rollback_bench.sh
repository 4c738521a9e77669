#!/usr/bin/env bash
# Benchmarks the write cutover and the rollback of `tandem run` per engine (issue 11) and prints
# Markdown for BENCHMARKS.md: for MariaDB, PostgreSQL and Redis, --trials migrations with an
# application writing through HAProxy at 300 writes/s are run to phase 6 and rolled back; the
# write pause at the cutover, the rollback time and the acknowledged writes lost, median and max
# (tests/tools/cutover_rollback_bench.cc has the details).
#
#   bench/cutover_rollback_bench.sh [--trials 10] [--engines mariadb,postgres,redis]
#
# Builds an optimised tree in $BUILD_DIR (default build-bench; SKIP_BUILD=1 uses it as is). The
# benchmark stops every process it started (servers, HAProxy, tandem) and removes its temp dirs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "${JOBS:-2}" --target tandem tandem-cutover-rollback-bench >/dev/null
fi
echo "machine: $(nproc) cores, $(haproxy -v 2>/dev/null | head -1)"
exec "$build/tests/tools/tandem-cutover-rollback-bench" "$@"
