#!/usr/bin/env bash
# The unit tests again under ThreadSanitizer (data races in the threaded code) and
# AddressSanitizer + UndefinedBehaviorSanitizer (decoders fed truncated and corrupt bytes), each in
# a build tree of its own. CI runs this after the main suite; pass ctest arguments to narrow it.
#   scripts/test-sanitizers.sh                 both sanitizers, every unit test
#   TANDEM_SANITIZERS=thread scripts/test-sanitizers.sh -R lag
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
for sanitizer in ${TANDEM_SANITIZERS:-thread address}; do
  build_dir="build-$sanitizer"
  echo "== unit tests under the $sanitizer sanitizer ($build_dir)"
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTANDEM_WERROR=ON \
      -DTANDEM_SANITIZER="$sanitizer" >/dev/null
  fi
  # Only what the unit tests need: integration binaries would only be compiled, not run. Ninja
  # prints compiler errors on stdout: on a failure, its log's tail says what broke.
  build_log="$build_dir/build.log"
  if ! cmake --build "$build_dir" -j "$(nproc)" --target tandem_unit_tests tandem \
    >"$build_log" 2>&1; then
    echo "== the $sanitizer sanitizer build failed; the end of $build_log:"
    tail -n 60 "$build_log"
    exit 1
  fi
  (
    cd "$build_dir"
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
      ctest -L unit -j2 --output-on-failure "$@"
  )
done
