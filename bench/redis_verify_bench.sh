#!/usr/bin/env bash
# Benchmarks `tandem verify` for Redis: a private redis-server on 127.0.0.1 with --keys keys of
# mixed types in db 0 (strings, some with TTLs; small hashes, lists, sets, intsets, sorted sets,
# streams; and a few big collections of 20,000 elements) plus --small-keys of the same mix in db 1,
# and a native replica of it as the target. Measures, each --runs times (medians printed):
#   tandem verify --digest values   (the default: values fetched with pipelining, hashed here)
#   tandem verify --digest lua      (values hashed on the server by a Lua script)
#   baseline: `redis-cli --scan` on each side piped into a plain redis-cli that fetches every key
#             (PTTL + DUMP, one round trip per command), both sides at once
#   DUMP rate: every key DUMPed over the whole keyspace of one side, pipelined (redis-cli --pipe)
# with wall time and peak RSS (/usr/bin/time -v). tandem's peak RSS is also measured on db 1 alone
# (--small-keys keys) to show that it does not grow with the key count.
#
#   bench/redis_verify_bench.sh [--keys 1000000] [--small-keys 100000] [--runs 3]
#                               [--baseline-runs 1] [--threads 4]
#
# The baseline makes one round trip per command (about 4 minutes per run for a million keys on
# two cores), so it runs --baseline-runs times (default 1) rather than --runs.
#
# Uses $TANDEM (default $BUILD_DIR/bin/tandem, BUILD_DIR default build-redisverify); the servers
# run in a temporary directory and are stopped (by PID) when the script ends.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tandem="${TANDEM:-${BUILD_DIR:-$root/build-redisverify}/bin/tandem}"
keys=1000000
small_keys=100000
runs=3
baseline_runs=1
threads=4
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keys) keys="$2"; shift 2 ;;
    --small-keys) small_keys="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --baseline-runs) baseline_runs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *)
      echo "usage: $0 [--keys N] [--small-keys N] [--runs N] [--baseline-runs N] [--threads N]" >&2
      exit 2
      ;;
  esac
done
[[ -x "$tandem" ]] || { echo "no tandem binary at $tandem (set TANDEM or BUILD_DIR)" >&2; exit 2; }

work="$(mktemp -d /tmp/tandem-rvbench.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_redis() {  # name port extra-args...
  local name="$1" port="$2"
  shift 2
  mkdir -p "$work/$name"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work/$name" \
    --logfile "$work/$name/server.log" "$@" &
  pids+=($!)
  for _ in $(seq 1 300); do
    [[ "$(redis-cli -p "$port" ping 2>/dev/null)" == PONG ]] && return 0
    sleep 0.1
  done
  echo "redis-server $name did not start" >&2
  exit 2
}

info_field() {  # port field
  redis-cli -p "$1" info replication | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

source_port="$(free_port)"
target_port="$(free_port)"
start_redis source "$source_port"
start_redis target "$target_port" --replicaof 127.0.0.1 "$source_port" \
  --repl-diskless-sync yes --repl-diskless-sync-delay 0

# The data, as RESP for redis-cli --pipe.
generate() {  # db keys
  python3 - "$1" "$2" <<'PY'
import random, sys
db, n = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(db)
out = sys.stdout.buffer
def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))
def text(lo, hi):
    return "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789 ") for _ in range(rnd.randint(lo, hi)))
cmd("SELECT", db)
for i in range(n):
    kind = i % 20
    if kind < 8:
        cmd("SET", "s:%d" % i, text(20, 100))
    elif kind < 11:
        args = ["HSET", "h:%d" % i]
        for f in range(5):
            args += ["f%d" % f, text(5, 20)]
        cmd(*args)
    elif kind < 14:
        cmd("RPUSH", "l:%d" % i, *[text(3, 15) for _ in range(5)])
    elif kind == 14:
        cmd("SADD", "i:%d" % i, *[rnd.randint(-10**6, 10**6) for _ in range(5)])
    elif kind == 15:
        cmd("SADD", "m:%d" % i, *[text(3, 15) for _ in range(5)])
    elif kind < 18:
        args = ["ZADD", "z:%d" % i]
        for m in range(5):
            args += [repr(rnd.uniform(-1000, 1000)), "member%d" % m]
        cmd(*args)
    elif kind == 18:
        cmd("XADD", "x:%d" % i, "1-%d" % (i + 1), "event", text(5, 20), "n", i)
        cmd("XADD", "x:%d" % i, "2-%d" % (i + 1), "event", text(5, 20), "n", i + 1)
    else:
        cmd("SET", "t:%d" % i, text(20, 60), "EX", rnd.randint(3600, 7200))
big = 20000
for j in range(max(1, n // 200000)):
    for start in range(0, big, 1000):
        chunk = range(start, start + 1000)
        args = ["HSET", "bighash:%d" % j]
        for f in chunk:
            args += ["f%d" % f, "v%d" % f]
        cmd(*args)
        cmd("RPUSH", "biglist:%d" % j, *["e%d" % e for e in chunk])
        cmd("SADD", "bigset:%d" % j, *["m%d" % m for m in chunk])
        args = ["ZADD", "bigzset:%d" % j]
        for m in chunk:
            args += [m * 0.5, "m%d" % m]
        cmd(*args)
PY
}

echo "loading $keys keys into db 0 and $small_keys into db 1 ..." >&2
{ generate 0 "$keys"; generate 1 "$small_keys"; } | redis-cli -p "$source_port" --pipe >/dev/null
for _ in $(seq 1 1200); do
  source_offset="$(info_field "$source_port" master_repl_offset)"
  target_offset="$(info_field "$target_port" slave_repl_offset)"
  link="$(info_field "$target_port" master_link_status)"
  [[ "$link" == up && "$source_offset" == "$target_offset" ]] && break
  sleep 0.5
done
[[ "$link" == up && "$source_offset" == "$target_offset" ]] || {
  echo "the replica did not catch up" >&2
  exit 2
}
db0_keys="$(redis-cli -p "$source_port" -n 0 dbsize)"
db1_keys="$(redis-cli -p "$source_port" -n 1 dbsize)"

# measure NAME command...: runs the command under /usr/bin/time -v; appends "seconds rss_kb" to
# $work/NAME.txt. A tandem run must exit 0 (consistent).
measure() {
  local name="$1"
  shift
  local start end
  start="$(date +%s.%N)"
  if ! /usr/bin/time -v -o "$work/time.txt" "$@" >"$work/out.txt" 2>"$work/err.txt"; then
    echo "$name failed:" >&2
    cat "$work/err.txt" "$work/out.txt" >&2
    exit 2
  fi
  end="$(date +%s.%N)"
  local rss
  rss="$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$work/time.txt")"
  echo "$(echo "$end - $start" | bc -l) $rss" >>"$work/$name.txt"
}

median() {  # file column
  sort -g -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'
}

baseline() {  # fetches every key of both sides, one round trip per command
  local port
  for port in "$source_port" "$target_port"; do
    redis-cli -p "$port" -n 0 --scan |
      awk '{ print "PTTL " $0; print "DUMP " $0 }' |
      redis-cli -p "$port" -n 0 >/dev/null &
  done
  wait
}
export -f baseline
export source_port target_port

# The DUMP rate: every key of db 0 DUMPed, pipelined.
redis-cli -p "$source_port" -n 0 --scan |
  awk '{ printf "*2\r\n$4\r\nDUMP\r\n$%d\r\n%s\r\n", length($0), $0 }' >"$work/dump.resp"

source_uri="redis://127.0.0.1:$source_port"
target_uri="redis://127.0.0.1:$target_port"
for run in $(seq 1 "$runs"); do
  echo "run $run/$runs ..." >&2
  measure values "$tandem" verify --source "$source_uri/0" --target "$target_uri/0" \
    --threads "$threads" --digest values
  measure lua "$tandem" verify --source "$source_uri/0" --target "$target_uri/0" \
    --threads "$threads" --digest lua
  measure small "$tandem" verify --source "$source_uri/1" --target "$target_uri/1" \
    --threads "$threads"
  measure dump redis-cli -p "$source_port" -n 0 --pipe <"$work/dump.resp"
done
for run in $(seq 1 "$baseline_runs"); do
  echo "baseline run $run/$baseline_runs ..." >&2
  measure baseline bash -c baseline
done

values_s="$(median "$work/values.txt" 1)"
lua_s="$(median "$work/lua.txt" 1)"
small_s="$(median "$work/small.txt" 1)"
dump_s="$(median "$work/dump.txt" 1)"
baseline_s="$(median "$work/baseline.txt" 1)"
row() {  # label seconds rss_kb keys
  printf "| %-58s | %8.2f | %10.0f | %7.1f | %6.2f |\n" "$1" "$2" "$(echo "$4 / $2" | bc -l)" \
    "$(echo "$3 / 1024" | bc -l)" "$(echo "$2 / $values_s" | bc -l)"
}
echo "<!-- bench/redis_verify_bench.sh --keys $keys --small-keys $small_keys --runs $runs" \
  "--baseline-runs $baseline_runs --threads $threads on $(nproc) cores, redis $(redis-server --version | awk '{print $3}'), $(date -u +%Y-%m-%dT%H:%MZ) -->"
echo "db 0: $db0_keys keys, db 1: $db1_keys keys; target: a native replica;" \
  "medians of $runs runs ($baseline_runs for the baseline)"
echo
echo "| measurement (db 0 unless noted) | median s | keys/s | peak RSS MB | time vs tandem |"
echo "|---|---:|---:|---:|---:|"
row "tandem verify --digest values (both sides compared)" "$values_s" \
  "$(median "$work/values.txt" 2)" "$db0_keys"
row "tandem verify --digest lua (both sides compared)" "$lua_s" "$(median "$work/lua.txt" 2)" \
  "$db0_keys"
row "tandem verify db 1 only ($db1_keys keys)" "$small_s" "$(median "$work/small.txt" 2)" \
  "$db1_keys"
row "baseline: redis-cli --scan + PTTL/DUMP per key, both sides" "$baseline_s" \
  "$(median "$work/baseline.txt" 2)" "$db0_keys"
row "DUMP of every key, pipelined (redis-cli --pipe), one side" "$dump_s" \
  "$(median "$work/dump.txt" 2)" "$db0_keys"
