#!/usr/bin/env bash
# Benchmarks `tandem sync` (MariaDB -> MariaDB) against MariaDB's native replication, side by side
# in one run, and prints Markdown for BENCHMARKS.md:
#
#   Four private MariaDB servers on 127.0.0.1 (binlog ROW, FULL image, GTID, the same settings):
#     source, native replica "serial" (slave_parallel_threads=0), native replica "parallel"
#     (slave_parallel_threads=4, slave_parallel_mode=optimistic) and the target of tandem sync.
#   (a) Steady-state lag: sysbench oltp_write_only --rate R against the source; at the same time
#       `tandem lag` source -> serial native replica and source -> tandem sync's target
#       (tandem sync streams _tandem.heartbeat, so the lag through it is end to end).
#   (b) Catch-up: with both native SQL threads stopped and tandem sync stopped, sysbench writes
#       --changes row changes (oltp_write_only: 4 row changes per transaction) to the source;
#       then, one after the other: START SLAVE SQL_THREAD + MASTER_GTID_WAIT on each native
#       replica (its relay log already holds everything), and `tandem sync --until-caught-up`.
#   (c) Peak RSS of tandem sync (GNU time) in (a) and (b).
#   After each part `tandem verify` source vs tandem's target must exit 0.
#
#   bench/sync_bench.sh [--rows 100000] [--tables 4] [--seconds 60] [--rates "200 500"]
#                       [--changes 1000000] [--catchup-threads "4 4 4 1 8"]
#
# --catchup-threads: one catch-up round per entry, tandem sync --threads of that round; each
# round refills the backlog and times all three. Builds an optimised tree in $BUILD_DIR (default
# build-bench; SKIP_BUILD=1 uses it as is), stops every server it started by PID when it ends.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
rows=100000
tables=4
seconds=60
rates="200 500"
changes=1000000
catchup_threads="4 4 4 1 8"
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --tables) tables="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --rates) rates="$2"; shift 2 ;;
    --changes) changes="$2"; shift 2 ;;
    --catchup-threads) catchup_threads="$2"; shift 2 ;;
    *) echo "sync_bench.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "${JOBS:-2}" --target tandem >/dev/null
fi
tandem="$build/bin/tandem"
[ -x "$tandem" ] || { echo "no $tandem" >&2; exit 2; }
dir="$(mktemp -d /tmp/tandem-sync-bench.XXXXXX)"
chmod 0755 "$dir"
pids=()       # every server and background process started here
sync_pid=""   # the running tandem sync under GNU time (its own PID is the child of this one)
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
  [ -n "${KEEP_DIR:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
my() { local sock="$1"; shift; mariadb -uroot -S "$sock" -N -B "$@"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
fmt() { printf "%.2f" "$1"; }
ratio() { printf "%.2f" "$(echo "$1 / $2" | bc -l)"; }
now() { date +%s.%N; }
elapsed_since() { echo "$(now) - $1" | bc -l; }

# ------------------------------------------------------------------------------------ servers
mariadb-install-db --no-defaults --user=root --datadir="$dir/template" \
  --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
  --character-set-server=utf8mb4 >"$dir/install.log" 2>&1
declare -A sock port
server_id=1
start_server() {  # name
  local name="$1" p d
  d="$dir/$name"
  mkdir -p "$d"
  cp -a "$dir/template" "$d/data"
  p=$(free_port)
  mariadbd --no-defaults --user=root --datadir="$d/data" --socket="$d/mysql.sock" \
    --pid-file="$d/mariadbd.pid" --port="$p" --bind-address=127.0.0.1 --server-id=$server_id \
    --skip-name-resolve --performance-schema=OFF --character-set-server=utf8mb4 \
    --sync-binlog=0 --binlog-format=ROW --binlog-row-image=FULL --gtid-strict-mode=ON \
    --log-bin=mysql-bin --log-slave-updates --relay-log=relay-bin --max-connections=500 \
    --innodb-buffer-pool-size=1G --innodb-log-file-size=512M --innodb-flush-log-at-trx-commit=2 \
    >"$d/server.log" 2>&1 &
  pids+=("$!")
  server_id=$((server_id + 1))
  sock[$name]="$d/mysql.sock"
  port[$name]="$p"
  for _ in $(seq 300); do
    my "${sock[$name]}" -e "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.2
  done
  # Not binlogged: the replicas must not replay the source's CREATE USER, nor hold GTIDs of their
  # own that gtid_strict_mode would then see out of order.
  my "${sock[$name]}" -e "SET SESSION sql_log_bin = 0; CREATE USER tandem@'%' IDENTIFIED BY 'tandem-secret';
    GRANT ALL ON *.* TO tandem@'%' WITH GRANT OPTION; SET SESSION sql_log_bin = 1; RESET MASTER"
}
for name in source serial parallel target; do start_server "$name"; done
uri() { echo "mysql://tandem:tandem-secret@127.0.0.1:${port[$1]}${2:+/$2}"; }
S="$(uri source sb)"
T="$(uri target sb)"

for name in serial parallel; do
  my "${sock[$name]}" -e "CHANGE MASTER TO master_host='127.0.0.1', master_port=${port[source]},
    master_user='tandem', master_password='tandem-secret', master_use_gtid=slave_pos"
done
my "${sock[parallel]}" -e "SET GLOBAL slave_parallel_threads = 4;
  SET GLOBAL slave_parallel_mode = 'optimistic'"
for name in serial parallel; do my "${sock[$name]}" -e "START SLAVE"; done

sysbench_args=(--db-driver=mysql --mysql-socket="${sock[source]}" --mysql-user=root --mysql-db=sb
  --tables="$tables" --table-size="$rows")
my "${sock[source]}" -e "CREATE DATABASE sb"
my "${sock[target]}" -e "CREATE DATABASE sb"  # tandem sync wants the target URI's database to exist
sysbench oltp_write_only "${sysbench_args[@]}" prepare >"$dir/sysbench-prepare.log"
# The heartbeat table exists before tandem sync starts, so its copy includes it.
"$tandem" lag --source "$(uri source)" --target "$(uri serial)" --duration 5 >/dev/null 2>&1 || true
[ "$(my "${sock[source]}" -e "SELECT COUNT(*) FROM information_schema.TABLES
  WHERE TABLE_SCHEMA = '_tandem' AND TABLE_NAME = 'heartbeat'")" = 1 ] ||
  { echo "tandem lag did not create _tandem.heartbeat on the source" >&2; exit 1; }

src_gtid() { my "${sock[source]}" -e "SELECT @@gtid_binlog_pos"; }
wait_native() {  # name gtid timeout_s -> 0 when it executed up to gtid
  [ "$(my "${sock[$1]}" -e "SELECT MASTER_GTID_WAIT('$2', $3)")" = "0" ]
}
pos=$(src_gtid)
for name in serial parallel; do
  wait_native "$name" "$pos" 300 || { echo "native replica $name did not catch up: $(mariadb -uroot -S "${sock[$name]}" -e "SHOW SLAVE STATUS\G" | grep -E "Last_(SQL|IO)_Error:")" >&2; exit 1; }
done
writes_of() {  # write statements sysbench ran (oltp_write_only: each changes one row)
  awk '/^ *write:/ { print $2 }' "$1"
}
verify() {  # label: tandem verify source vs tandem's target must exit 0
  local status=0
  "$tandem" verify --source "$S" --target "$T" --format json >"$dir/verify.json" 2>"$dir/verify.err" ||
    status=$?
  if [ "$status" != 0 ]; then
    echo "tandem verify after $1 exited $status: $(head -c 2000 "$dir/verify.json") $(cat "$dir/verify.err")" >&2
    KEEP_DIR=1
    exit 1
  fi
}
sync_child() { pgrep -P "$sync_pid" | head -1; }
stop_sync() {  # SIGTERM to tandem sync itself (GNU time then reports), wait for both
  local child
  child=$(sync_child || true)
  [ -n "$child" ] && kill -TERM "$child"
  local status=0
  wait "$sync_pid" || status=$?
  sync_pid=""
  return $status
}

echo "<!-- bench/sync_bench.sh --rows $rows --tables $tables --seconds $seconds --rates \"$rates\" --changes $changes --catchup-threads \"$catchup_threads\" on $(nproc) cores, $(mariadbd --version | awk '{print $3}'), $(date -u +%Y-%m-%dT%H:%MZ) -->"

# ------------------------------------------------------------------ (a) steady-state lag
started=$(now)
/usr/bin/time -f "%e %M" -o "$dir/sync-a.time" \
  "$tandem" sync --source "$S" --target "$T" --threads 4 --format json \
  >"$dir/sync-a.json" 2>"$dir/sync-a.err" &
sync_pid=$!
pids+=("$sync_pid")
# Streaming has begun (so the copy is done) once heartbeats arrive through it.
copied=""
for _ in $(seq 60); do
  if "$tandem" lag --source "$(uri source)" --target "$(uri target)" --duration 2 \
    --first-heartbeat-timeout 5 >/dev/null 2>&1; then
    copied=$(elapsed_since "$started")
    break
  fi
  kill -0 "$sync_pid" 2>/dev/null || { echo "tandem sync exited: $(cat "$dir/sync-a.err")" >&2; exit 1; }
done
[ -n "$copied" ] || { echo "tandem sync never streamed the heartbeat" >&2; exit 1; }

echo ""
echo "### (a) Steady-state lag: sysbench oltp_write_only at a fixed rate, $seconds s per rate"
echo ""
echo "$tables tables x $rows rows (sysbench prepare); tandem sync --threads 4 copied them and was"
echo "streaming after $(fmt "$copied") s. Lag from \`tandem lag --interval 10\` (same run, both at once)."
echo ""
echo "| rate (sysbench tps achieved) | replica | samples | p50 ms | p99 ms | max ms | p99 tandem ÷ native |"
echo "|---|---|---:|---:|---:|---:|---:|"
for rate in $rates; do
  sysbench oltp_write_only "${sysbench_args[@]}" --threads=4 --rate="$rate" \
    --time=$((seconds + 3)) --report-interval=0 run >"$dir/sysbench-$rate.log" 2>&1 &
  sb=$!
  pids+=("$sb")
  sleep 1
  "$tandem" lag --source "$(uri source)" --target "$(uri serial)" --duration "$seconds" \
    --format json >"$dir/lag-native-$rate.json" 2>"$dir/lag-native-$rate.err" &
  ln=$!
  "$tandem" lag --source "$(uri source)" --target "$(uri target)" --duration "$seconds" \
    --format json >"$dir/lag-tandem-$rate.json" 2>"$dir/lag-tandem-$rate.err" &
  lt=$!
  wait "$ln" || echo "(tandem lag to the native replica exited $?: $(cat "$dir/lag-native-$rate.err"))" >&2
  wait "$lt" || echo "(tandem lag to tandem's target exited $?: $(cat "$dir/lag-tandem-$rate.err"))" >&2
  wait "$sb"
  w=$(writes_of "$dir/sysbench-$rate.log")
  tps=$(awk '/transactions:/ { gsub(/[()]/, "", $3); print $3 }' "$dir/sysbench-$rate.log")
  q() { jq -r "$1" "$2"; }
  np99=$(q .p99_ms "$dir/lag-native-$rate.json"); tp99=$(q .p99_ms "$dir/lag-tandem-$rate.json")
  for side in native tandem; do
    f="$dir/lag-$side-$rate.json"
    label=$([ $side = native ] && echo "native (serial SQL thread)" || echo "**tandem sync --threads 4**")
    r=$([ $side = tandem ] && ratio "$tp99" "$np99" || echo "")
    echo "| $rate ($(printf "%.0f" "$tps"), $((w / (seconds + 3))) row changes/s) | $label | $(q .samples "$f") | $(q .p50_ms "$f") | $(q .p99_ms "$f") | $(q .max_ms "$f") | $r |"
  done
  cp "$dir/lag-native-$rate.json" "$dir/lag-tandem-$rate.json" "${RESULTS_DIR:-$dir}/" 2>/dev/null || true
done
pos=$(src_gtid)
wait_native serial "$pos" 120 || true
sleep 2
verify "part (a)"
stop_sync || { echo "tandem sync (a) failed: $(cat "$dir/sync-a.err") $(cat "$dir/sync-a.json")" >&2; exit 1; }
read -r _ rss_a < "$dir/sync-a.time"
a_json=$(jq -c '{stopped, ok, transactions_applied, rows_applied, target_commits, events_read, copy: {rows_copied: .copy.rows_copied, elapsed_s: .copy.elapsed_s, global_lock_ms: .copy.global_lock_ms}}' "$dir/sync-a.json")
echo ""
echo "tandem sync in (a): \`$a_json\`; peak RSS $((rss_a / 1024)) MB; tandem verify: equal (exit 0)."

# ------------------------------------------------------------------------- (b) catch-up
events=$((changes / 4))  # oltp_write_only: 2 updates, 1 delete, 1 insert per transaction
declare -A secs  # "kind" -> list of seconds
declare -A rates_of
rss_b=0
ns=""
round=0
for threads in $catchup_threads; do
  round=$((round + 1))
  for name in serial parallel; do my "${sock[$name]}" -e "STOP SLAVE SQL_THREAD"; done
  fill_start=$(now)
  sysbench oltp_write_only "${sysbench_args[@]}" --threads=4 --events="$events" --time=900 \
    --report-interval=0 run >"$dir/sysbench-fill-$round.log" 2>&1
  fill_s=$(elapsed_since "$fill_start")
  n=$(writes_of "$dir/sysbench-fill-$round.log")
  pos=$(src_gtid)
  # Both relay logs hold the whole backlog before the SQL threads start.
  for name in serial parallel; do
    for _ in $(seq 600); do
      io=$(mariadb -uroot -S "${sock[$name]}" -e "SHOW SLAVE STATUS\G" | awk '/Gtid_IO_Pos:/ { print $2 }')
      [ "$io" = "$pos" ] && break
      sleep 0.5
    done
  done
  for name in serial parallel; do
    t0=$(now)
    my "${sock[$name]}" -e "START SLAVE SQL_THREAD"
    wait_native "$name" "$pos" 1800 || { echo "native $name did not catch up in round $round" >&2; exit 1; }
    s=$(elapsed_since "$t0")
    secs[$name]+="$s "
  done
  status=0
  /usr/bin/time -f "%e %M" -o "$dir/sync-b.time" \
    "$tandem" sync --source "$S" --target "$T" --threads "$threads" --until-caught-up \
    --format json >"$dir/sync-b-$round.json" 2>"$dir/sync-b-$round.err" || status=$?
  [ "$status" = 0 ] || { echo "tandem sync --until-caught-up exited $status: $(cat "$dir/sync-b-$round.err")" >&2; KEEP_DIR=1; exit 1; }
  read -r s m < "$dir/sync-b.time"
  [ "$m" -gt "$rss_b" ] && rss_b=$m
  secs[t$threads]+="$s "
  verify "catch-up round $round"
  tj=$(jq -c '{transactions_applied, rows_applied, target_commits, elapsed_s}' "$dir/sync-b-$round.json")
  echo "<!-- round $round: $n row changes in $(fmt "$fill_s") s of sysbench ($events events); native serial $(echo "${secs[serial]}" | awk '{print $NF}') s, parallel $(echo "${secs[parallel]}" | awk '{print $NF}') s, tandem --threads $threads $s s $tj, RSS $((m / 1024)) MB -->"
  ns+="$n "
done
med() { echo "$1" | tr ' ' '\n' | grep . | median; }
count() { echo "$1" | wc -w; }
ms=$(med "${secs[serial]}"); mp=$(med "${secs[parallel]}"); last_n=$(med "$ns")
echo ""
echo "### (b) Catch-up: a backlog of $last_n row changes (median; $events sysbench oltp_write_only transactions, 4 threads, 4 row changes each)"
echo ""
echo "| applier | runs | median s | row changes/s | time ÷ native serial | time ÷ native parallel |"
echo "|---|---:|---:|---:|---:|---:|"
echo "| native, slave_parallel_threads=0 | $(count "${secs[serial]}") | $(fmt "$ms") | $(printf "%.0f" "$(echo "$last_n / $ms" | bc -l)") | 1.00 | $(ratio "$ms" "$mp") |"
echo "| native, slave_parallel_threads=4, optimistic | $(count "${secs[parallel]}") | $(fmt "$mp") | $(printf "%.0f" "$(echo "$last_n / $mp" | bc -l)") | $(ratio "$mp" "$ms") | 1.00 |"
for t in $(echo "$catchup_threads" | tr ' ' '\n' | sort -un); do
  mt=$(med "${secs[t$t]}")
  echo "| **tandem sync --until-caught-up --threads $t** | $(count "${secs[t$t]}") | $(fmt "$mt") | $(printf "%.0f" "$(echo "$last_n / $mt" | bc -l)") | $(ratio "$mt" "$ms") | $(ratio "$mt" "$mp") |"
done
echo ""
echo "tandem sync peak RSS in (b): $((rss_b / 1024)) MB; tandem verify after every round: equal (exit 0)."
