#!/usr/bin/env bash
# The whole test suite: installs what it needs (Debian packages), builds with warnings as errors,
# and runs every ctest test (unit, integration and stress labels) against real MariaDB, PostgreSQL
# and Redis servers that the suite starts on 127.0.0.1 and stops by PID.
#   scripts/test.sh                 everything
#   scripts/test.sh -L unit         a quick subset (any ctest arguments)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
build_dir=${TANDEM_BUILD_DIR:-build}
# Servers left by an interrupted earlier run are stopped by PID first.
"$build_dir/tests/harness/tandem-test-servers" stop --dir "$(cat "$build_dir/test-servers-dir")" \
  >/dev/null 2>&1 || true
cd "$build_dir"
ctest --output-on-failure -j2 --timeout 900 "$@"
