#!/usr/bin/env bash
# Decode throughput of tandem's binlog reader (connectors/mysql/binlog/) against mariadb-binlog
# on the same binlog: a private MariaDB (tests/harness) logs about a million row changes
# (--rows N inserts, N/3 updates, N/3 deletes; default 600000), then both read it. Prints Markdown.
#
#   bench/binlog_decode_bench.sh [--rows 600000]
#
# Builds an optimised tree in $BUILD_DIR (default build-bench). Needs scripts/install-deps.sh's
# packages (MariaDB server and client).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target tandem-binlog-decode-bench >/dev/null
echo "<!-- bench/binlog_decode_bench.sh $* on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ) -->"
exec "$build/tests/connectors/mysql/tandem-binlog-decode-bench" "$@"
