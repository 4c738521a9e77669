#!/usr/bin/env bash
# Benchmarks `tandem sync` Redis -> Redis against Redis's own replication (REPLICAOF), side by side
# in one run, and prints Markdown for BENCHMARKS.md (issue 8):
#
#   Three private redis-server 7 processes on 127.0.0.1, persistence off, the same settings:
#   "source" (repl-backlog-size 256mb), "ttarget" (tandem sync's target) and "ntarget" (a native
#   replica). The source holds --keys keys: 40 % strings of 50 bytes, 15 % hashes, lists, sets and
#   sorted sets of 5 elements each; every tenth key expires in a day (PEXPIREAT).
#   (a) Full sync, --runs rounds, alternating: native = ntarget REPLICAOF source until INFO
#       replication says master_link_status:up and master_sync_in_progress:0 (then REPLICAOF NO
#       ONE, FLUSHALL); tandem = `tandem sync --until-caught-up` into the empty ttarget (then
#       FLUSHALL). Medians; tandem's peak RSS from GNU time.
#   (b) Lag: ntarget a native replica again, tandem sync streaming into ttarget; for --seconds,
#       redis-benchmark writes --rate commands per second (SET, INCR, LPUSH, HSET on 100,000 random
#       keys), started once a second (redis-benchmark has no rate limit: each second's writes come
#       as one burst at full speed, then nothing until the next second); meanwhile two `tandem lag --format json` (heartbeat keys
#       written on the source, read on each target) report p50/p99. Then `tandem verify` of
#       ttarget against the source must exit 0.
#
#   bench/redis_sync_bench.sh [--keys 1000000] [--runs 3] [--seconds 60] [--rate 5000] [--parts ab]
#
# Builds an optimised tree in $BUILD_DIR (default build-bench; SKIP_BUILD=1 uses it as is). Stops
# every process it started by PID when it ends and removes its temp dir (KEEP_DIR=1 keeps it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
keys=1000000
runs=3
seconds=60
rate=5000
parts="ab"
usage() { sed -n '/^#   bench\/redis_sync_bench.sh/p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) keys="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --parts) parts="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "redis_sync_bench.sh: unknown argument '$1'" >&2; usage; exit 2 ;;
  esac
done
die() { echo "redis_sync_bench.sh: $*" >&2; exit 1; }
for v in keys runs seconds rate; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--$v must be a positive integer (got '${!v}')"
done
[[ "$parts" =~ ^[ab]+$ ]] || die "--parts takes letters of ab (got '$parts')"
for cmd in jq bc python3 redis-server redis-cli redis-benchmark; do
  command -v "$cmd" >/dev/null || die "needs $cmd in PATH"
done
[ -x /usr/bin/time ] || die "needs GNU time (/usr/bin/time)"
has_part() { [[ "$parts" == *"$1"* ]]; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "${JOBS:-2}" --target tandem >/dev/null
fi
tandem="$build/bin/tandem"
[ -x "$tandem" ] || die "no $tandem"

dir="$(mktemp -d /tmp/tandem-redis-sync-bench.XXXXXX)"
pids=()
cleanup() {
  local pid i
  # Children first (tandem under GNU time), then the processes themselves.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pkill -TERM -P "${pids[$i]}" 2>/dev/null || true
    kill "${pids[$i]}" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ -n "${KEEP_DIR:-}" ]; then echo "redis_sync_bench.sh: kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
forget() { local p="$1" x kept=(); for x in "${pids[@]}"; do [ "$x" = "$p" ] || kept+=("$x"); done; pids=("${kept[@]}"); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
elapsed_since() { echo "$(now) - $1" | bc -l; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { printf "%.2f" "$(echo "$1 / $2" | bc -l)"; }

password=tandem-secret
declare -A port
start_redis() {  # name [extra args]
  local name="$1"; shift
  mkdir -p "$dir/$name"
  port[$name]=$(free_port)
  redis-server --bind 127.0.0.1 --port "${port[$name]}" --dir "$dir/$name" --save "" \
    --appendonly no --requirepass "$password" --masterauth "$password" \
    --repl-diskless-sync-delay 0 --logfile "$dir/$name/server.log" "$@" &
  pids+=("$!")
  for _ in $(seq 100); do
    rc "$name" PING 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  KEEP_DIR=1; die "redis '$name' did not start: $(tail -5 "$dir/$name/server.log")"
}
rc() { local name="$1"; shift; redis-cli -h 127.0.0.1 -p "${port[$name]}" -a "$password" --no-auth-warning "$@"; }
uri() { echo "redis://:$password@127.0.0.1:${port[$1]}"; }
info_field() { rc "$1" INFO "$2" | tr -d '\r' | awk -F: -v k="$3" '$1 == k { print $2 }'; }

start_redis source --repl-backlog-size 256mb
start_redis ttarget
start_redis ntarget
version=$(info_field source server redis_version)

# ------------------------------------------------------------------------------ the source's data
python3 - "$keys" >"$dir/load.resp" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))
expire = 4102444800000  # 2100-01-01, absolute
for i in range(n):
    k = i % 20
    if k < 8:
        key = "s:%d" % i; cmd("SET", key, "v%049d" % i)
    elif k < 11:
        key = "h:%d" % i; cmd("HSET", key, "a", i, "b", "x" * 10, "c", "y", "d", i * 3, "e", "z")
    elif k < 14:
        key = "l:%d" % i; cmd("RPUSH", key, i, "b", "c", "d", "e")
    elif k < 17:
        key = "t:%d" % i; cmd("SADD", key, i, "b", "c", "d", "e")
    else:
        key = "z:%d" % i; cmd("ZADD", key, 1, i, 2.5, "b", 3, "c", 4, "d", 5, "e")
    if i % 10 == 0:
        cmd("PEXPIREAT", key, expire)
PY
rc source --pipe <"$dir/load.resp" >"$dir/load.log" || { KEEP_DIR=1; die "loading the source failed: $(tail -3 "$dir/load.log")"; }
rm -f "$dir/load.resp"
source_keys=$(rc source DBSIZE)
source_mb=$(echo "$(info_field source memory used_memory) / 1048576" | bc -l)

echo "### tandem sync Redis -> Redis vs native replication ($(date -u +%Y-%m-%dT%H:%MZ))"
echo ""
echo "Redis $version, 2 cores shared by the three servers and the clients. Source: $source_keys keys ($(printf "%.0f" "$source_mb") MB used)."
echo ""

native_sync() {
  local started
  rc ntarget REPLICAOF NO ONE >/dev/null; rc ntarget FLUSHALL >/dev/null
  started=$(now)
  rc ntarget REPLICAOF 127.0.0.1 "${port[source]}" >/dev/null
  for _ in $(seq 6000); do
    if [ "$(info_field ntarget replication master_link_status)" = up ] &&
       [ "$(info_field ntarget replication master_sync_in_progress)" = 0 ] &&
       [ "$(info_field ntarget persistence loading)" = 0 ]; then
      elapsed_since "$started"; return 0
    fi
    sleep 0.02
  done
  KEEP_DIR=1; die "the native replica never finished its full sync"
}

tandem_sync() {  # run: prints seconds; RSS (KB) to $dir/rss-$run
  local run="$1" started st=0
  rc ttarget FLUSHALL >/dev/null
  started=$(now)
  /usr/bin/time -f "%M" -o "$dir/rss-$run" "$tandem" sync --source "$(uri source)" \
    --target "$(uri ttarget)" --until-caught-up --format json --stream "bench$run" \
    >"$dir/sync-$run.json" 2>"$dir/sync-$run.err" || st=$?
  [ "$st" = 0 ] || { KEEP_DIR=1; die "tandem sync exited $st: $(tail -3 "$dir/sync-$run.err")"; }
  elapsed_since "$started"
}

if has_part a; then
  : >"$dir/native.times"; : >"$dir/tandem.times"; : >"$dir/rss.all"
  for run in $(seq "$runs"); do
    native_sync >>"$dir/native.times"
    tandem_sync "$run" >>"$dir/tandem.times"
    cat "$dir/rss-$run" >>"$dir/rss.all"
    [ "$(rc ttarget DBSIZE)" -ge "$source_keys" ] || { KEEP_DIR=1; die "tandem's target holds $(rc ttarget DBSIZE) keys, the source $source_keys"; }
  done
  n=$(median <"$dir/native.times"); t=$(median <"$dir/tandem.times")
  rss=$(median <"$dir/rss.all")
  echo "#### (a) Full sync of $source_keys keys, median of $runs"
  echo ""
  echo "| replica | runs (s) | median s | tandem ÷ native | peak RSS |"
  echo "|---|---|---:|---:|---:|"
  echo "| native REPLICAOF | $(paste -sd' ' "$dir/native.times" | xargs printf '%.2f ') | $(printf %.2f "$n") | | (server) |"
  echo "| **tandem sync** | $(paste -sd' ' "$dir/tandem.times" | xargs printf '%.2f ') | $(printf %.2f "$t") | $(ratio "$t" "$n") | $(echo "$rss / 1024" | bc) MB |"
  echo ""
  echo "tandem's last report: \`$(jq -c '{redis, events_applied, elapsed_s}' "$dir/sync-$runs.json")\`"
  echo ""
fi

if has_part b; then
  rc ttarget FLUSHALL >/dev/null
  native_sync >/dev/null
  /usr/bin/time -f "%M" -o "$dir/rss-lag" "$tandem" sync --source "$(uri source)" \
    --target "$(uri ttarget)" --stream lag --format json >"$dir/sync-lag.json" 2>"$dir/sync-lag.err" &
  sync_pid=$!
  pids+=("$sync_pid")
  for _ in $(seq 1200); do
    "$tandem" lag --source "$(uri source)" --target "$(uri ttarget)" --duration 1 \
      --first-heartbeat-timeout 5 >/dev/null 2>&1 && break
    kill -0 "$sync_pid" 2>/dev/null || { KEEP_DIR=1; die "tandem sync exited: $(cat "$dir/sync-lag.err")"; }
  done
  # The fixed-rate writer: one redis-benchmark burst a second.
  python3 - "${port[source]}" "$password" "$rate" "$((seconds + 4))" >"$dir/writer.log" 2>&1 <<'PY' &
import subprocess, sys, time
port, password, rate, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
per_test = max(1, rate // 4)  # four tests: SET, INCR, LPUSH, HSET
start = time.monotonic(); bursts = 0
while time.monotonic() - start < seconds:
    subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", port, "-a", password, "-q",
                    "-n", str(per_test), "-c", "4", "-r", "100000", "-t", "set,incr,lpush,hset"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    bursts += 1
    delay = start + bursts - time.monotonic()
    if delay > 0:
        time.sleep(delay)
elapsed = time.monotonic() - start
print("%d writes in %.0f s: %.0f/s" % (bursts * per_test * 4, elapsed, bursts * per_test * 4 / elapsed))
PY
  writer=$!
  pids+=("$writer")
  sleep 2
  "$tandem" lag --source "$(uri source)" --target "$(uri ntarget)" --duration "$seconds" \
    --format json >"$dir/lag-native.json" 2>"$dir/lag-native.err" &
  ln=$!; pids+=("$ln")
  "$tandem" lag --source "$(uri source)" --target "$(uri ttarget)" --duration "$seconds" \
    --format json >"$dir/lag-tandem.json" 2>"$dir/lag-tandem.err" &
  lt=$!; pids+=("$lt")
  wait "$ln" || die "tandem lag (native) failed: $(cat "$dir/lag-native.err")"; forget "$ln"
  wait "$lt" || die "tandem lag (tandem) failed: $(cat "$dir/lag-tandem.err")"; forget "$lt"
  wait "$writer" || die "the writer failed: $(cat "$dir/writer.log")"; forget "$writer"
  # SIGTERM to tandem itself (GNU time, its parent, does not pass signals on).
  pkill -TERM -P "$sync_pid" || true
  wait "$sync_pid" || true; forget "$sync_pid"
  "$tandem" sync --source "$(uri source)" --target "$(uri ttarget)" --stream lag \
    --until-caught-up --format json >"$dir/sync-lag-end.json" 2>"$dir/sync-lag-end.err" ||
    die "the final catch-up failed: $(cat "$dir/sync-lag-end.err")"
  verify_status=0
  "$tandem" verify --source "$(uri source)" --target "$(uri ttarget)" --format json \
    --recheck-delay 0.5 >"$dir/verify.json" 2>"$dir/verify.err" || verify_status=$?
  q() { jq -r "$1" "$2"; }
  n50=$(q .p50_ms "$dir/lag-native.json"); t50=$(q .p50_ms "$dir/lag-tandem.json")
  n99=$(q .p99_ms "$dir/lag-native.json"); t99=$(q .p99_ms "$dir/lag-tandem.json")
  echo "#### (b) Lag under redis-benchmark at $rate commands/s for $seconds s ($(tail -1 "$dir/writer.log"))"
  echo ""
  echo "| replica | samples | p50 ms | p99 ms | max ms | p50 tandem ÷ native | p99 tandem ÷ native |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  echo "| native REPLICAOF | $(q .samples "$dir/lag-native.json") | $n50 | $n99 | $(q .max_ms "$dir/lag-native.json") | | |"
  echo "| **tandem sync** | $(q .samples "$dir/lag-tandem.json") | $t50 | $t99 | $(q .max_ms "$dir/lag-tandem.json") | $(ratio "$t50" "$n50") | $(ratio "$t99" "$n99") |"
  echo ""
  echo "tandem sync peak RSS while streaming: $(echo "$(cat "$dir/rss-lag") / 1024" | bc) MB; tandem verify after the catch-up exited $verify_status ($(jq -c '{consistent, keys: ([.tables[].source_rows] | add)}' "$dir/verify.json" 2>/dev/null || head -c 200 "$dir/verify.err"))."
  echo ""
fi
