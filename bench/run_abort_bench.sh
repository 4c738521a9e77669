#!/usr/bin/env bash
# Benchmarks `tandem run` (issue 10) and prints Markdown for BENCHMARKS.md:
#
#   (a) time from a fault's onset at the new server to every request back on the old servers,
#       over --trials runs per fault (10% of requests answering 503; every request 100 ms late),
#       with the controller's own decision -> weights-back time from its journal;
#   (b) the controller's CPU and peak RSS over a healthy run through 5/25/50/75/100.
#   A real HAProxy 2.6 in front of 2 old + 1 new test HTTP backends, --rate requests/s through it
#   (tests/tools/run_abort_bench.cc has the details).
#
#   bench/run_abort_bench.sh [--trials 20] [--rate 400] [--dwell 10]
#
# Builds an optimised tree in $BUILD_DIR (default build-bench; SKIP_BUILD=1 uses it as is). The
# benchmark stops every process it started (HAProxy, tandem) by PID and removes its temp dir.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "${JOBS:-2}" --target tandem tandem-run-abort-bench >/dev/null
fi
echo "machine: $(nproc) cores, $(haproxy -v 2>/dev/null | head -1)"
exec "$build/tests/tools/tandem-run-abort-bench" "$@"
