#!/usr/bin/env bash
# Benchmarks `tandem sync` (PostgreSQL -> PostgreSQL, logical replication) against PostgreSQL's
# native logical replication (CREATE SUBSCRIPTION) and pgcopydb, side by side in one run, and
# prints Markdown for BENCHMARKS.md (issue 7):
#
#   Three private PostgreSQL 15 servers on 127.0.0.1, same settings (wal_level=logical, fsync=off,
#   full_page_writes=off, synchronous_commit=on, shared_buffers 256MB, max_wal_size 4GB):
#   "source", "ttarget" (the target of tandem sync, and of pgcopydb in (c)) and "ntarget" (the
#   native subscriber).
#   Source: pgbench -i -s SCALE, plus a primary key on pgbench_history (column hid bigserial;
#   tandem sync needs a key on every table, and so both replicate all four pgbench tables). The
#   publication bench_pub is FOR TABLE the four pgbench tables + _tandem.heartbeat.
#   (a) Steady-state lag: pgbench (built-in tpcb-like, -c CLIENTS, -R RATE) against the source for
#       --seconds per rate; at the same time two `tandem lag --format json`: source -> tandem sync's
#       target and source -> the native subscriber (both carry _tandem.heartbeat).
#   (b) Catch-up: tandem sync stopped (SIGTERM) and the subscription disabled (ALTER SUBSCRIPTION
#       ... DISABLE); --changes row changes are written on the source as UPDATE pgbench_accounts in
#       batches of --batch rows, each batch its own transaction; then, one after the other:
#       ALTER SUBSCRIPTION ... ENABLE until the subscriber's replication origin (remote_lsn, the
#       end of the last applied commit) passes the last write's LSN, and
#       `tandem sync --until-caught-up --threads T`. Both decode the backlog from their slot.
#   (c) Initial copy of the source database (after (a) and (b): SCALE*100,000 accounts rows), each
#       into a fresh database, one after the other:
#         tandem sync --until-caught-up (--threads 4) into a database holding the schema
#           (pg_dump --schema-only: tables with their primary keys);
#         pgcopydb copy table-data --table-jobs 4 into a database holding the same schema (data
#           only: the same job as tandem's copy);
#         pgcopydb clone --table-jobs 4 --index-jobs 2 into an empty database (schema, data, then
#           indexes + constraints, then pgcopydb's VACUUM ANALYZE);
#         the same clone with --split-tables-larger-than SIZE (same-table concurrency: tables
#           larger than that are copied in parts, as tandem does; --pgcopydb-split "" skips it);
#         CREATE SUBSCRIPTION ... WITH (copy_data = true) into a database holding the schema, until
#           every pg_subscription_rel row is 'r' or 's' (max_sync_workers_per_subscription = 4).
#   (d) Peak RSS of tandem sync (GNU time) in each part.
#   `tandem verify` on the pgbench tables, source vs each target, after each part: must exit 0.
#
#   bench/pg_sync_bench.sh [--scale 20] [--seconds 60] [--rates "200 500"] [--clients 4]
#                          [--changes 1000000] [--batch 10000] [--catchup-threads "4"]
#                          [--parts abc] [--pgcopydb-split 64MB]
#
# --catchup-threads: one catch-up round per entry, tandem sync --threads of that round; each
# round writes a new backlog and times both. Both pgcopydb commands also VACUUM ANALYZE each
# copied table once its COPY is done; pgcopydb 0.10 has no option to skip it. --parts: which
# of (a) (b) (c) to run ((b) streams from the slot (a) created; without a, tandem sync is
# started once to create it). PG_BIN: the PostgreSQL server binaries (default PostgreSQL 15).
# Builds an optimised tree in $BUILD_DIR (default build-bench; SKIP_BUILD=1 uses it as is). Stops
# every process it started by PID when it ends and removes its temp dir (KEEP_DIR=1 keeps it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
pgbin="${PG_BIN:-/usr/lib/postgresql/15/bin}"
scale=20
seconds=60
rates="200 500"
clients=4
changes=1000000
batch=10000
catchup_threads="4"
parts="abc"
split="64MB"
usage() { sed -n '/^#   bench\/pg_sync_bench.sh/,/^#  *\[--parts/p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --rates) rates="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --changes) changes="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --catchup-threads) catchup_threads="$2"; shift 2 ;;
    --parts) parts="$2"; shift 2 ;;
    --pgcopydb-split) split="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "pg_sync_bench.sh: unknown argument '$1'" >&2; usage; exit 2 ;;
  esac
done
die() { echo "pg_sync_bench.sh: $*" >&2; exit 1; }
for v in scale seconds clients changes batch; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--$v must be a positive integer (got '${!v}')"
done
for cmd in jq bc python3 pgbench psql pg_dump pgcopydb setpriv; do
  command -v "$cmd" >/dev/null || die "needs $cmd in PATH"
done
[ -x /usr/bin/time ] || die "needs GNU time (/usr/bin/time)"
[ -x "$pgbin/postgres" ] || die "no PostgreSQL server binaries in $pgbin (set PG_BIN)"
[ "$(id -u)" = 0 ] || die "run as root (the servers run as the postgres OS user)"
id postgres >/dev/null 2>&1 || die "needs the postgres OS user"
[[ "$parts" =~ ^[abc]+$ ]] || die "--parts takes letters of abc (got '$parts')"
has_part() { [[ "$parts" == *"$1"* ]]; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "${JOBS:-2}" --target tandem >/dev/null
fi
tandem="$build/bin/tandem"
[ -x "$tandem" ] || die "no $tandem"
# libpq settings of the caller must not redirect psql / pgbench / pg_dump / pgcopydb.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGSERVICEFILE PGPASSFILE PGOPTIONS \
  PGSSLMODE PGCOPYDB_SOURCE_PGURI PGCOPYDB_TARGET_PGURI PGCOPYDB_DIR
export PGPASSWORD=tandem-secret PGCONNECT_TIMEOUT=10

dir="$(mktemp -d /tmp/tandem-pg-sync-bench.XXXXXX)"
chmod 0755 "$dir"
pids=()       # every server and background process started here, in start order
declare -A stop_signal  # pid -> signal that stops it (postgres: SIGINT, fast shutdown)
sync_pid=""   # the running tandem sync under GNU time (its own PID is the child of this one)
cleanup() {
  local pid i
  # Newest first: clients before the servers they use.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid="${pids[$i]}"
    kill -"${stop_signal[$pid]:-TERM}" "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ -n "${KEEP_DIR:-}" ]; then echo "pg_sync_bench.sh: kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT
forget() {  # pid: reaped, so never signal it again (the number may be reused)
  local p="$1" x kept=()
  for x in "${pids[@]}"; do [ "$x" = "$p" ] || kept+=("$x"); done
  pids=("${kept[@]}")
}
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fmt() { printf "%.2f" "$1"; }
ratio() { printf "%.2f" "$(echo "$1 / $2" | bc -l)"; }
now() { date +%s.%N; }
elapsed_since() { echo "$(now) - $1" | bc -l; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ------------------------------------------------------------------------------------ servers
declare -A port
pq() {  # server db [psql args...]: unaligned, tuples only, stop on the first error
  local server="$1" db="$2"; shift 2
  PGOPTIONS='-c client_min_messages=warning' \
    psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${port[$server]}" -U tandem -d "$db" "$@"
}
uri() { echo "postgres://tandem:tandem-secret@127.0.0.1:${port[$1]}/$2"; }
conninfo() { echo "host=127.0.0.1 port=${port[$1]} user=tandem password=tandem-secret dbname=$2"; }

echo tandem-secret >"$dir/pwfile"
chmod 0644 "$dir/pwfile"
mkdir -m 0700 "$dir/template"
chown postgres:postgres "$dir/template"
setpriv --reuid=postgres --regid=postgres --init-groups -- env LC_ALL=C.UTF-8 "$pgbin/initdb" \
  -D "$dir/template" -U tandem --pwfile="$dir/pwfile" --auth-local=trust \
  --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
  { KEEP_DIR=1; die "initdb failed: $(tail -5 "$dir/initdb.log")"; }
cat >"$dir/template/pg_hba.conf" <<'EOF'
local   all          all                      trust
local   replication  all                      trust
host    all          all       127.0.0.1/32   scram-sha-256
host    replication  all       127.0.0.1/32   scram-sha-256
EOF
cat >>"$dir/template/postgresql.conf" <<'EOF'

# --- bench/pg_sync_bench.sh: the same on every server ---
listen_addresses = '127.0.0.1'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
max_worker_processes = 16
max_logical_replication_workers = 8
max_sync_workers_per_subscription = 4
max_connections = 200
shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
fsync = off
full_page_writes = off
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
start_server() {  # name
  local name="$1" d p ok=""
  d="$dir/$name"
  mkdir -p "$d"
  cp -a "$dir/template" "$d/data"
  chown -R postgres:postgres "$d"
  p=$(free_port)
  port[$name]=$p
  setpriv --reuid=postgres --regid=postgres --init-groups -- env LC_ALL=C.UTF-8 \
    "$pgbin/postgres" -D "$d/data" -p "$p" -c unix_socket_directories="$d" \
    >"$d/server.log" 2>&1 &
  pids+=("$!")
  stop_signal[$!]=INT
  for _ in $(seq 300); do  # 60 s
    pq "$name" postgres -c "SELECT 1" >/dev/null 2>&1 && { ok=1; break; }
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.2
  done
  [ -n "$ok" ] || { KEEP_DIR=1; die "PostgreSQL '$name' did not start: $(tail -5 "$d/server.log")"; }
}
for name in source ttarget ntarget; do start_server "$name"; done
pg_version=$(pq source postgres -c "SHOW server_version" | awk '{print $1}')

# bounded wait on a condition evaluated server side every 20 ms (fresh snapshot per check)
wait_sql() {  # server db timeout_s condition_sql -> 0 once true, 1 on timeout
  local server="$1" db="$2" timeout="$3" cond="$4"
  pq "$server" "$db" -c "SET statement_timeout = '${timeout}s'" -c "DO \$wait\$ BEGIN
      LOOP EXIT WHEN ($cond); PERFORM pg_sleep(0.02); END LOOP; END \$wait\$" \
    >/dev/null 2>"$dir/wait.err"
}
tables=(public.pgbench_accounts public.pgbench_branches public.pgbench_tellers public.pgbench_history)
verify() {  # target_server db label: tandem verify of the pgbench tables must exit 0
  local status=0 targs=()
  for t in "${tables[@]}"; do targs+=(--table "$t"); done
  timeout 3600 "$tandem" verify --source "$(uri source bench)" --target "$(uri "$1" "$2")" "${targs[@]}" \
    --threads 2 --format json >"$dir/verify.json" 2>"$dir/verify.err" || status=$?
  if [ "$status" != 0 ]; then
    KEEP_DIR=1
    die "tandem verify of $1/$2 after $3 exited $status: $(head -c 2000 "$dir/verify.json") $(cat "$dir/verify.err")"
  fi
}
sync_child() { pgrep -P "$sync_pid" | head -1; }
stop_sync() {  # SIGTERM to tandem sync itself (GNU time then reports), wait for both
  local child status=0
  child=$(sync_child || true)
  [ -n "$child" ] && kill -TERM "$child"
  wait "$sync_pid" || status=$?
  forget "$sync_pid"
  sync_pid=""
  return $status
}
checkpoint_all() { for s in source ttarget ntarget; do pq "$s" postgres -c CHECKPOINT; done; }
rss_mb() { awk '{ printf "%d", $2 / 1024 }' "$1"; }

# ------------------------------------------------------------------------------ source data
pq source postgres -c "CREATE DATABASE bench"
timeout 3600 pgbench -i -q -s "$scale" -h 127.0.0.1 -p "${port[source]}" -U tandem bench \
  >"$dir/pgbench-init.log" 2>&1 || die "pgbench -i failed: $(tail -5 "$dir/pgbench-init.log")"
naccounts=$((scale * 100000))
heartbeat_ddl="CREATE SCHEMA IF NOT EXISTS _tandem; CREATE TABLE IF NOT EXISTS _tandem.heartbeat
  (writer_id bigint PRIMARY KEY, seq bigint NOT NULL, sent_ns bigint NOT NULL,
   written_at timestamptz NOT NULL DEFAULT clock_timestamp())"
pq source bench -c "ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY" \
  -c "$heartbeat_ddl" \
  -c "CREATE PUBLICATION bench_pub FOR TABLE pgbench_accounts, pgbench_branches,
        pgbench_tellers, pgbench_history, _tandem.heartbeat" -c "VACUUM ANALYZE"
pg_dump --schema-only --no-publications --no-subscriptions -h 127.0.0.1 -p "${port[source]}" \
  -U tandem bench >"$dir/schema.sql"
new_db() {  # server db [with_schema]
  pq "$1" postgres -c "CREATE DATABASE $2"
  if [ "${3:-}" = schema ]; then pq "$1" "$2" -f "$dir/schema.sql" >/dev/null; fi
}
sub_ready() {  # "every table of subscription $1 is synced": SQL condition
  echo "NOT EXISTS (SELECT 1 FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid
      WHERE s.subname = '$1' AND r.srsubstate NOT IN ('r', 's'))
    AND EXISTS (SELECT 1 FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid
      WHERE s.subname = '$1')"
}
applied_past() {  # "subscription $1 applied a commit ending after LSN $2": SQL condition
  echo "COALESCE((SELECT o.remote_lsn FROM pg_replication_origin_status o JOIN pg_subscription s
      ON o.external_id = 'pg_' || s.oid WHERE s.subname = '$1'), '0/0') >= '$2'::pg_lsn"
}

echo "<!-- bench/pg_sync_bench.sh --scale $scale --seconds $seconds --rates \"$rates\" --clients $clients --changes $changes --batch $batch --catchup-threads \"$catchup_threads\" --parts $parts on $(nproc) cores, PostgreSQL $pg_version, $(date -u +%Y-%m-%dT%H:%MZ); fsync=off on every server -->"

# Native subscriber and tandem's target for (a) and (b), both with the schema.
new_db ntarget bench schema
new_db ttarget bench schema
if has_part a || has_part b; then
  t0=$(now)
  pq ntarget bench -c "CREATE SUBSCRIPTION native CONNECTION '$(conninfo source bench)'
    PUBLICATION bench_pub WITH (copy_data = true)"
  wait_sql ntarget bench 1800 "$(sub_ready native)" ||
    { KEEP_DIR=1; die "the native subscription did not finish its initial sync: $(cat "$dir/wait.err")"; }
  native_setup_s=$(elapsed_since "$t0")

  started=$(now)
  /usr/bin/time -f "%e %M" -o "$dir/sync-a.time" \
    "$tandem" sync --source "$(uri source bench)" --target "$(uri ttarget bench)" --threads 4 \
    --format json >"$dir/sync-a.json" 2>"$dir/sync-a.err" &
  sync_pid=$!
  pids+=("$sync_pid")
  # Streaming has begun (so the copy is done) once heartbeats arrive through it.
  copied=""
  deadline=$(( $(date +%s) + 1800 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if "$tandem" lag --source "$(uri source bench)" --target "$(uri ttarget bench)" --duration 2 \
      --first-heartbeat-timeout 5 >/dev/null 2>&1; then
      copied=$(elapsed_since "$started")
      break
    fi
    kill -0 "$sync_pid" 2>/dev/null || { KEEP_DIR=1; die "tandem sync exited: $(cat "$dir/sync-a.err")"; }
  done
  [ -n "$copied" ] || { KEEP_DIR=1; die "tandem sync never streamed the heartbeat (30 min)"; }
  verify ttarget bench "the setup copy"
  verify ntarget bench "the native setup copy"
fi

# ------------------------------------------------------------------ (a) steady-state lag
if has_part a; then
  echo ""
  echo "### (a) Steady-state lag: pgbench (tpcb-like, $clients clients) at a fixed rate, $seconds s per rate"
  echo ""
  echo "pgbench -i -s $scale (+ primary key on pgbench_history). The native subscription's initial"
  echo "sync took $(fmt "$native_setup_s") s; tandem sync --threads 4 was streaming $(fmt "$copied") s after it started."
  echo "Lag from two \`tandem lag --interval 10 --format json\` at the same time (heartbeat end to end)."
  echo ""
  echo "| rate (tps achieved) | replica | samples | p50 ms | p99 ms | max ms | p50 tandem ÷ native | p99 tandem ÷ native |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  for rate in $rates; do
    pgbench -n -h 127.0.0.1 -p "${port[source]}" -U tandem -c "$clients" -j "$(( clients < 2 ? clients : 2 ))" \
      -R "$rate" -T $((seconds + 3)) bench >"$dir/pgbench-$rate.log" 2>&1 &
    pb=$!
    pids+=("$pb")
    sleep 1
    "$tandem" lag --source "$(uri source bench)" --target "$(uri ntarget bench)" --duration "$seconds" \
      --format json >"$dir/lag-native-$rate.json" 2>"$dir/lag-native-$rate.err" &
    ln=$!
    pids+=("$ln")
    "$tandem" lag --source "$(uri source bench)" --target "$(uri ttarget bench)" --duration "$seconds" \
      --format json >"$dir/lag-tandem-$rate.json" 2>"$dir/lag-tandem-$rate.err" &
    lt=$!
    pids+=("$lt")
    st=0; wait "$ln" || st=$?; forget "$ln"
    [ "$st" = 0 ] || echo "(tandem lag to the native subscriber exited $st: $(cat "$dir/lag-native-$rate.err"))" >&2
    st=0; wait "$lt" || st=$?; forget "$lt"
    [ "$st" = 0 ] || echo "(tandem lag to tandem's target exited $st: $(cat "$dir/lag-tandem-$rate.err"))" >&2
    st=0; wait "$pb" || st=$?; forget "$pb"
    [ "$st" = 0 ] || { KEEP_DIR=1; die "pgbench -R $rate exited $st: $(tail -5 "$dir/pgbench-$rate.log")"; }
    tps=$(awk '/^tps = / { print $3; exit }' "$dir/pgbench-$rate.log")
    for side in native tandem; do
      [ -s "$dir/lag-$side-$rate.json" ] || { KEEP_DIR=1; die "no lag figures for $side at rate $rate"; }
    done
    q() { jq -r "$1" "$2"; }
    n50=$(q .p50_ms "$dir/lag-native-$rate.json"); t50=$(q .p50_ms "$dir/lag-tandem-$rate.json")
    n99=$(q .p99_ms "$dir/lag-native-$rate.json"); t99=$(q .p99_ms "$dir/lag-tandem-$rate.json")
    for side in native tandem; do
      f="$dir/lag-$side-$rate.json"
      if [ $side = native ]; then label="native subscription"; r50=""; r99=""
      else label="**tandem sync --threads 4**"; r50=$(ratio "$t50" "$n50"); r99=$(ratio "$t99" "$n99"); fi
      echo "| $rate ($(printf "%.0f" "$tps")) | $label | $(q .samples "$f") | $(q .p50_ms "$f") | $(q .p99_ms "$f") | $(q .max_ms "$f") | $r50 | $r99 |"
    done
    cp "$dir/lag-native-$rate.json" "$dir/lag-tandem-$rate.json" "${RESULTS_DIR:-$dir}/" 2>/dev/null || true
  done
  # A marker written after pgbench: both targets hold it once they applied everything before it.
  marker="m-$(date +%s%N)"
  pq source bench -c "UPDATE pgbench_branches SET filler = '$marker' WHERE bid = 1"
  for t in ntarget ttarget; do
    wait_sql "$t" bench 600 "(SELECT filler FROM pgbench_branches WHERE bid = 1) = '$marker'" ||
      { KEEP_DIR=1; die "$t did not apply the marker written after (a) within 600 s: $(cat "$dir/wait.err")"; }
  done
  verify ttarget bench "part (a)"
  verify ntarget bench "part (a)"
  echo ""
  echo "\`tandem verify\` of the four pgbench tables after (a): equal on both targets (exit 0)."
fi
if [ -n "$sync_pid" ]; then
  stop_sync || { KEEP_DIR=1; die "tandem sync (a) failed: $(cat "$dir/sync-a.err") $(cat "$dir/sync-a.json")"; }
  a_json=$(jq -c '{stopped, ok, transactions_applied, rows_applied, target_commits, copy: {rows_copied: .copy.rows_copied, elapsed_s: .copy.elapsed_s}}' "$dir/sync-a.json" 2>/dev/null || head -c 400 "$dir/sync-a.json")
  rss_a=$(rss_mb "$dir/sync-a.time")
  has_part a && echo "tandem sync in (a) (including its initial copy): \`$a_json\`; peak RSS $rss_a MB."
fi

# ------------------------------------------------------------------------- (b) catch-up
if has_part b; then
  ntx=$(( (changes + batch - 1) / batch ))
  declare -A secs
  rss_b=0
  round=0
  next_aid=1
  ns=""
  rows_line=""
  for threads in $catchup_threads; do
    round=$((round + 1))
    pq ntarget bench -c "ALTER SUBSCRIPTION native DISABLE"
    wait_sql source bench 60 "NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'native' AND active)" ||
      { KEEP_DIR=1; die "the native subscription's slot stayed active after DISABLE"; }
    # The backlog: ntx transactions, each an UPDATE of up to $batch consecutive accounts; the
    # last one also reads the WAL insert position before its commit record.
    : >"$dir/fill.sql"
    n=0
    for ((i = 1; i <= ntx; i++)); do
      lo=$next_aid
      hi=$((lo + batch - 1)); [ "$hi" -le "$naccounts" ] || hi=$naccounts
      n=$((n + hi - lo + 1))
      next_aid=$((hi + 1)); [ "$next_aid" -le "$naccounts" ] || next_aid=1
      if [ "$i" = "$ntx" ]; then
        echo "BEGIN; UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid BETWEEN $lo AND $hi; SELECT pg_current_wal_insert_lsn(); COMMIT;" >>"$dir/fill.sql"
      else
        echo "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid BETWEEN $lo AND $hi;" >>"$dir/fill.sql"
      fi
    done
    fill_start=$(now)
    last_lsn=$(timeout 3600 psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${port[source]}" \
      -U tandem -d bench -f "$dir/fill.sql" | tail -1) || die "the backlog writes failed"
    fill_s=$(elapsed_since "$fill_start")
    [[ "$last_lsn" =~ ^[0-9A-F]+/[0-9A-F]+$ ]] || die "could not read the last write's LSN (got '$last_lsn')"
    checkpoint_all

    t0=$(now)
    pq ntarget bench -c "ALTER SUBSCRIPTION native ENABLE"
    wait_sql ntarget bench 3600 "$(applied_past native "$last_lsn")" ||
      { KEEP_DIR=1; die "the native subscription did not catch up in round $round: $(cat "$dir/wait.err")"; }
    s=$(elapsed_since "$t0")
    secs[native]+="$s "
    ns_native=$s

    status=0
    /usr/bin/time -f "%e %M" -o "$dir/sync-b.time" \
      timeout 3600 "$tandem" sync --source "$(uri source bench)" --target "$(uri ttarget bench)" \
      --threads "$threads" --until-caught-up --format json \
      >"$dir/sync-b-$round.json" 2>"$dir/sync-b-$round.err" || status=$?
    [ "$status" = 0 ] || { KEEP_DIR=1; die "tandem sync --until-caught-up exited $status: $(cat "$dir/sync-b-$round.err")"; }
    read -r ts m <"$dir/sync-b.time"
    [ "$m" -gt "$rss_b" ] && rss_b=$m
    secs[t$threads]+="$ts "
    verify ttarget bench "catch-up round $round"
    verify ntarget bench "catch-up round $round"
    tj=$(jq -c '{transactions_applied, rows_applied, target_commits, elapsed_s}' "$dir/sync-b-$round.json" 2>/dev/null || true)
    rows_line+="| $round | $n | $(fmt "$fill_s") | $(fmt "$ns_native") | --threads $threads | $(fmt "$ts") | $(ratio "$ts" "$ns_native") | $((m / 1024)) |"$'\n'
    echo "<!-- round $round: $n row changes ($ntx transactions) written in $(fmt "$fill_s") s up to $last_lsn; native $(fmt "$ns_native") s; tandem --threads $threads $(fmt "$ts") s $tj, RSS $((m / 1024)) MB -->"
    ns+="$n "
  done
  med() { echo "$1" | tr ' ' '\n' | grep . | median; }
  echo ""
  echo "### (b) Catch-up: $ntx transactions x UPDATE of $batch pgbench_accounts rows waiting in the slots"
  echo ""
  echo "Each round: tandem sync stopped (SIGTERM), ALTER SUBSCRIPTION native DISABLE, then the writes"
  echo "(psql, autocommit, one UPDATE per transaction); then native: ALTER SUBSCRIPTION native ENABLE until"
  echo "the subscriber's pg_replication_origin_status.remote_lsn passes the last write; then"
  echo "\`tandem sync --until-caught-up\` (wall time of the process, GNU time). Both decode from their slot."
  echo ""
  echo "| round | row changes | writes s | native s | tandem sync | tandem s | tandem ÷ native | tandem peak RSS MB |"
  echo "|---:|---:|---:|---:|---|---:|---:|---:|"
  printf "%s" "$rows_line"
  mn=$(med "${secs[native]}")
  for t in $(echo "$catchup_threads" | tr ' ' '\n' | sort -un); do
    mt=$(med "${secs[t$t]}")
    echo ""
    echo "Median: native $(fmt "$mn") s ($(printf "%.0f" "$(echo "$(med "$ns") / $mn" | bc -l)") row changes/s), tandem --threads $t $(fmt "$mt") s ($(printf "%.0f" "$(echo "$(med "$ns") / $mt" | bc -l)") row changes/s): tandem ÷ native $(ratio "$mt" "$mn")."
  done
  echo ""
  echo "tandem sync peak RSS in (b): $((rss_b / 1024)) MB; \`tandem verify\` after every round: equal on both targets (exit 0)."
fi

# Free the source of the (a)/(b) slots before (c).
if has_part a || has_part b; then
  pq ntarget bench -c "DROP SUBSCRIPTION native"
  # tandem names its slot and publication tandem_<stream>_<hash of the target>.
  pq source bench -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'tandem\_sync\_%'" >/dev/null
  for pub in $(pq source bench -c "SELECT pubname FROM pg_publication WHERE pubname LIKE 'tandem\_sync\_%'"); do
    pq source bench -c "DROP PUBLICATION \"$pub\"" >/dev/null
  done
fi

# ------------------------------------------------------------------------- (c) initial copy
if has_part c; then
  rows_total=$(pq source bench -c "SELECT (SELECT count(*) FROM pgbench_accounts) + (SELECT count(*) FROM pgbench_branches) + (SELECT count(*) FROM pgbench_tellers) + (SELECT count(*) FROM pgbench_history)")
  accounts=$(pq source bench -c "SELECT count(*) FROM pgbench_accounts")
  db_size=$(pq source bench -c "SELECT pg_size_pretty(pg_database_size('bench'))")
  new_db ttarget c_tandem schema
  new_db ttarget c_pgcopydb_data schema
  new_db ttarget c_pgcopydb_clone
  [ -z "$split" ] || new_db ttarget c_pgcopydb_split
  new_db ntarget c_native schema

  checkpoint_all
  status=0
  /usr/bin/time -f "%e %M" -o "$dir/sync-c.time" \
    timeout 3600 "$tandem" sync --source "$(uri source bench)" --target "$(uri ttarget c_tandem)" --threads 4 \
    --stream copy --until-caught-up --drop-slot --format json \
    >"$dir/sync-c.json" 2>"$dir/sync-c.err" || status=$?
  [ "$status" = 0 ] || { KEEP_DIR=1; die "tandem sync (c) exited $status: $(cat "$dir/sync-c.err")"; }
  read -r c_tandem_s c_rss <"$dir/sync-c.time"
  c_copy=$(jq -c '{rows_copied: .copy.rows_copied, copy_elapsed_s: .copy.elapsed_s}' "$dir/sync-c.json" 2>/dev/null || true)
  c_copy_s=$(jq -r .copy.elapsed_s "$dir/sync-c.json")
  verify ttarget c_tandem "the initial copy"

  checkpoint_all
  t0=$(now)
  PGCOPYDB_SOURCE_PGURI="$(uri source bench)" PGCOPYDB_TARGET_PGURI="$(uri ttarget c_pgcopydb_data)" \
    timeout 3600 pgcopydb copy table-data --table-jobs 4 --dir "$dir/pgcopydb-data" \
    >"$dir/pgcopydb-data.log" 2>&1 || { KEEP_DIR=1; die "pgcopydb copy table-data failed: $(tail -5 "$dir/pgcopydb-data.log")"; }
  c_data_s=$(elapsed_since "$t0")
  verify ttarget c_pgcopydb_data "pgcopydb copy table-data"

  checkpoint_all
  t0=$(now)
  PGCOPYDB_SOURCE_PGURI="$(uri source bench)" PGCOPYDB_TARGET_PGURI="$(uri ttarget c_pgcopydb_clone)" \
    timeout 3600 pgcopydb clone --table-jobs 4 --index-jobs 2 --no-owner --dir "$dir/pgcopydb-clone" \
    >"$dir/pgcopydb-clone.log" 2>&1 || { KEEP_DIR=1; die "pgcopydb clone failed: $(tail -5 "$dir/pgcopydb-clone.log")"; }
  c_clone_s=$(elapsed_since "$t0")
  verify ttarget c_pgcopydb_clone "pgcopydb clone"

  if [ -n "$split" ]; then
    checkpoint_all
    t0=$(now)
    PGCOPYDB_SOURCE_PGURI="$(uri source bench)" PGCOPYDB_TARGET_PGURI="$(uri ttarget c_pgcopydb_split)" \
      timeout 3600 pgcopydb clone --table-jobs 4 --index-jobs 2 --no-owner \
      --split-tables-larger-than "$split" --dir "$dir/pgcopydb-split" \
      >"$dir/pgcopydb-split.log" 2>&1 || { KEEP_DIR=1; die "pgcopydb clone --split-tables-larger-than $split failed: $(tail -5 "$dir/pgcopydb-split.log")"; }
    c_split_s=$(elapsed_since "$t0")
    verify ttarget c_pgcopydb_split "pgcopydb clone --split-tables-larger-than"
    split_parts=$(grep -oE '"pgbench_accounts" is .* [0-9]+ COPY processes' "$dir/pgcopydb-split.log" |
      grep -oE '[0-9]+ COPY' | awk '{ print $1 }' | head -1 || true)
  fi

  checkpoint_all
  t0=$(now)
  pq ntarget c_native -c "CREATE SUBSCRIPTION native_copy CONNECTION '$(conninfo source bench)'
    PUBLICATION bench_pub WITH (copy_data = true)"
  wait_sql ntarget c_native 3600 "$(sub_ready native_copy)" ||
    { KEEP_DIR=1; die "the native subscription's initial sync did not finish: $(cat "$dir/wait.err")"; }
  c_native_s=$(elapsed_since "$t0")
  verify ntarget c_native "the native initial sync"
  pq ntarget c_native -c "DROP SUBSCRIPTION native_copy"

  echo ""
  echo "### (c) Initial copy: pgbench scale $scale ($accounts accounts rows, $rows_total rows in the four tables, database $db_size)"
  echo ""
  echo "One after the other, each into a fresh database (CHECKPOINT on every server before each)."
  echo "\"schema\" = \`pg_dump --schema-only\` of the source applied first: tables with their primary keys."
  echo ""
  echo "| copier | target had | it did | s | ÷ tandem |"
  echo "|---|---|---|---:|---:|"
  echo "| **tandem sync --until-caught-up --threads 4** | schema | slot + exported snapshot, COPY in chunks (copy phase $(fmt "$c_copy_s") s), catch up | $(fmt "$c_tandem_s") | 1.00 |"
  echo "| pgcopydb copy table-data --table-jobs 4 | schema | COPY, one job per table; VACUUM ANALYZE | $(fmt "$c_data_s") | $(ratio "$c_data_s" "$c_tandem_s") |"
  echo "| pgcopydb clone --table-jobs 4 --index-jobs 2 | nothing | schema, COPY (one job per table), indexes + constraints, VACUUM ANALYZE | $(fmt "$c_clone_s") | $(ratio "$c_clone_s" "$c_tandem_s") |"
  [ -z "$split" ] || echo "| pgcopydb clone ... --split-tables-larger-than $split | nothing | as above, tables over $split in parts (pgbench_accounts: ${split_parts:-1} COPY processes) | $(fmt "$c_split_s") | $(ratio "$c_split_s" "$c_tandem_s") |"
  echo "| native CREATE SUBSCRIPTION (copy_data = true) | schema | one table sync worker per table (up to 4), until all 'r'/'s' | $(fmt "$c_native_s") | $(ratio "$c_native_s" "$c_tandem_s") |"
  echo ""
  echo "tandem sync in (c): \`$c_copy\` (copy_elapsed_s: its copy phase; the rest of the wall time is"
  echo "connecting, checks, slot + publication creation, catch-up and --drop-slot); peak RSS $((c_rss / 1024)) MB. \`tandem verify\` of every copy: equal (exit 0)."
fi

# ------------------------------------------------------------------------- (d) peak RSS
echo ""
echo "### (d) Peak RSS of tandem sync (GNU time, maximum resident set size)"
echo ""
echo "| part | tandem sync run | peak RSS MB |"
echo "|---|---|---:|"
if has_part a; then echo "| (a) | --threads 4: initial copy of scale $scale, then streaming pgbench -R \"$rates\" | $rss_a |"; fi
if has_part b; then echo "| (b) | --until-caught-up --threads \"$catchup_threads\" (max over rounds) | $((rss_b / 1024)) |"; fi
if has_part c; then echo "| (c) | --until-caught-up --threads 4 from scratch | $((c_rss / 1024)) |"; fi
