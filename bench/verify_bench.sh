#!/usr/bin/env bash
# Benchmarks `tandem verify` against its anchors, every figure measured side by side in one run,
# and prints Markdown for BENCHMARKS.md:
#
#   MariaDB: a ROWS-row sysbench table on a source with a native GTID replica.
#     - the physical limit: the server hash aggregate SELECT COUNT(*), BIT_XOR(CRC32(CONCAT_WS(..)))
#       run on source and replica at the same time;
#     - pt-table-checksum (finds the differing chunk) + pt-table-sync --print (names the row);
#     - tandem verify (default: server digests) and tandem verify --hashing client;
#     first on equal data, then with one row corrupted on the replica (not binlogged).
#   PostgreSQL: pgbench_accounts with ROWS rows on two servers initialised alike.
#     - sum(hashtext(a::text)) and a plain COPY ... TO STDOUT, both sides at the same time;
#     - tandem verify (default: client hashing on PostgreSQL) and --hashing server.
#   Peak RSS of tandem (GNU time's maximum resident set size).
#
#   bench/verify_bench.sh [--rows 2000000] [--runs 3]
#
# Builds an optimised tree in $BUILD_DIR (default build-bench), starts throwaway servers on
# 127.0.0.1 with tests/harness's tandem-test-servers, and stops them (by PID) when it ends.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
rows=2000000
runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    *) echo "verify_bench.sh: unknown argument '$1' (use --rows N --runs N)" >&2; exit 2 ;;
  esac
done

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target tandem tandem-test-servers >/dev/null
tandem="$build/bin/tandem"
dir="$(mktemp -d /tmp/tandem-verify-bench.XXXXXX)"
chmod 0755 "$dir"
cleanup() { "$build/tests/harness/tandem-test-servers" stop --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
"$build/tests/harness/tandem-test-servers" start --dir "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/servers.env"
export MYSQL_PWD=tandem-secret PGPASSWORD=tandem-secret

src_sock="$TANDEM_MYSQL_SOURCE_SOCKET"
rep_sock="$TANDEM_MYSQL_TARGET_SOCKET"
src_port="$TANDEM_MYSQL_SOURCE_PORT"
rep_port="$TANDEM_MYSQL_TARGET_PORT"
my() { local sock="$1"; shift; mariadb -uroot -S "$sock" -N -B "$@"; }

# seconds of wall time of "$@" (output discarded); fails the run if the command fails.
seconds_of() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
# "seconds kilobytes" of a command under GNU time; its stdout goes to $dir/last.out.
timed() {
  local status=0
  /usr/bin/time -f "%e %M" -o "$dir/time" "$@" >"$dir/last.out" 2>"$dir/last.err" || status=$?
  echo "$(cat "$dir/time" | tail -1) $status"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
fmt() { printf "%.2f" "$1"; }
ratio() { printf "%.2f" "$(echo "$1 / $2" | bc -l)"; }  # callers pass a non-zero $2

echo "<!-- bench/verify_bench.sh --rows $rows --runs $runs on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ) -->"

# ---------------------------------------------------------------- MariaDB with a native replica
for sock in "$src_sock" "$rep_sock"; do
  my "$sock" -e "SET GLOBAL innodb_buffer_pool_size = 2147483648"
done
my "$rep_sock" -e "CHANGE MASTER TO master_host='127.0.0.1', master_port=$src_port,
  master_user='tandem', master_password='tandem-secret', master_use_gtid=slave_pos; START SLAVE"
my "$src_sock" -e "CREATE DATABASE sb; CREATE DATABASE percona;
  CREATE TABLE percona.dsns (id INT PRIMARY KEY, parent_id INT, dsn VARCHAR(255));
  INSERT INTO percona.dsns VALUES (1, NULL, 'h=127.0.0.1,P=$rep_port,u=tandem,p=tandem-secret')"
sysbench oltp_read_only --db-driver=mysql --mysql-socket="$src_sock" --mysql-user=root \
  --mysql-db=sb --tables=1 --table-size="$rows" prepare >"$dir/sysbench-prepare.log"
pos=$(my "$src_sock" -e "SELECT @@gtid_binlog_pos")
[ "$(my "$rep_sock" -e "SELECT MASTER_GTID_WAIT('$pos', 1200)")" = "0" ] ||
  { echo "the replica did not catch up with the sysbench table" >&2; exit 1; }
for sock in "$src_sock" "$rep_sock"; do  # warm both buffer pools alike
  my "$sock" -e "SELECT COUNT(*) FROM sb.sbtest1 FORCE INDEX (PRIMARY)" >/dev/null
done

aggregate_both() {
  local sql="SELECT COUNT(*), BIT_XOR(CRC32(CONCAT_WS('#', id, k, c, pad))) FROM sb.sbtest1"
  my "$src_sock" -e "$sql" >/dev/null & local a=$!
  my "$rep_sock" -e "$sql" >/dev/null & local b=$!
  wait $a && wait $b
}
pt_checksum() {
  PTDEBUG=0 pt-table-checksum --no-check-binlog-format --recursion-method "dsn=D=percona,t=dsns" \
    --databases sb --tables sbtest1 --replicate percona.checksums \
    "h=127.0.0.1,P=$src_port,u=tandem,p=tandem-secret" >"$dir/ptc.out" 2>&1 || true
}
pt_sync() {
  pt-table-sync --print --replicate percona.checksums --databases sb --tables sbtest1 \
    --sync-to-master "h=127.0.0.1,P=$rep_port,u=tandem,p=tandem-secret" >"$dir/pts.out" 2>&1
}
verify_my=("$tandem" verify --source "$TANDEM_MYSQL_SOURCE/sb" --target "$TANDEM_MYSQL_TARGET/sb"
  --format json)

# One scenario: prints the table rows; $1 = label.
mariadb_round() {
  local label="$1" expect="$2" agg=() ptc=() pts=() tv=() tc=() rss=() out
  for _ in $(seq "$runs"); do
    agg+=("$(seconds_of aggregate_both)")
    ptc+=("$(seconds_of pt_checksum)")
    pts+=("$(seconds_of pt_sync)")
    read -r t m s < <(timed "${verify_my[@]}"); tv+=("$t"); rss+=("$m")
    [ "$s" = "$expect" ] || { echo "tandem verify exited $s, expected $expect: $(cat "$dir/last.err")" >&2; exit 1; }
    cp "$dir/last.out" "$dir/verify-server.json"
    read -r t m s < <(timed "${verify_my[@]}" --hashing client); tc+=("$t"); rss+=("$m")
    [ "$s" = "$expect" ] || { echo "tandem verify --hashing client exited $s, expected $expect" >&2; exit 1; }
    cp "$dir/last.out" "$dir/verify-client.json"
  done
  local a p q v c r
  a=$(printf "%s\n" "${agg[@]}" | median); p=$(printf "%s\n" "${ptc[@]}" | median)
  q=$(printf "%s\n" "${pts[@]}" | median); v=$(printf "%s\n" "${tv[@]}" | median)
  c=$(printf "%s\n" "${tc[@]}" | median); r=$(printf "%s\n" "${rss[@]}" | sort -g | tail -1)
  local named found_by_pt
  named=$(jq -c '[.tables[].differences[] | {kind, key}]' "$dir/verify-server.json")
  found_by_pt=$(grep -c '^REPLACE\|^DELETE\|^INSERT\|^UPDATE' "$dir/pts.out" || true)
  echo ""
  echo "**$label** (median of $runs; tandem's verdict: \`$named\`; pt-table-sync printed $found_by_pt statement(s))"
  echo ""
  echo "| what | seconds | tandem verify ÷ it |"
  echo "|---|---:|---:|"
  echo "| server aggregate BIT_XOR(CRC32(CONCAT_WS(...))), source and replica at once | $(fmt "$a") | $(ratio "$v" "$a") |"
  echo "| pt-table-checksum | $(fmt "$p") | $(ratio "$v" "$p") |"
  echo "| pt-table-sync --print | $(fmt "$q") | |"
  echo "| pt-table-checksum + pt-table-sync --print | $(fmt "$(echo "$p + $q" | bc -l)") | $(ratio "$v" "$(echo "$p + $q" | bc -l)") |"
  echo "| **tandem verify** (server digests, default) | **$(fmt "$v")** | 1.00 |"
  echo "| tandem verify --hashing client | $(fmt "$c") | $(ratio "$v" "$c") |"
  echo ""
  echo "tandem peak RSS: $((r / 1024)) MB."
}

echo ""
echo "### MariaDB: sysbench table of $rows rows, native GTID replica"
mariadb_round "Equal data" 0
my "$rep_sock" -e "SET SESSION sql_log_bin = 0; UPDATE sb.sbtest1 SET c = CONCAT('corrupt', SUBSTRING(c, 8)) WHERE id = $((rows / 2 + 17))"
mariadb_round "One row corrupted on the replica (id $((rows / 2 + 17)))" 1

# ---------------------------------------------------------------- PostgreSQL pgbench_accounts
scale=$((rows / 100000))
for port in "$TANDEM_POSTGRES_SOURCE_PORT" "$TANDEM_POSTGRES_TARGET_PORT"; do
  pgbench -i -q -s "$scale" -h 127.0.0.1 -p "$port" -U tandem tandem >"$dir/pgbench-init.log" 2>&1
  psql -h 127.0.0.1 -p "$port" -U tandem -d tandem -qc "VACUUM ANALYZE pgbench_accounts" >/dev/null
done
pg_both() {
  psql -h 127.0.0.1 -p "$TANDEM_POSTGRES_SOURCE_PORT" -U tandem -d tandem -Atc "$1" >/dev/null & local a=$!
  psql -h 127.0.0.1 -p "$TANDEM_POSTGRES_TARGET_PORT" -U tandem -d tandem -Atc "$1" >/dev/null & local b=$!
  wait $a && wait $b
}
pg_hash() { pg_both "SELECT count(*), sum(hashtext(a::text)) FROM pgbench_accounts a"; }
pg_copy() { pg_both "COPY pgbench_accounts TO STDOUT"; }
verify_pg=("$tandem" verify --source "$TANDEM_POSTGRES_SOURCE" --target "$TANDEM_POSTGRES_TARGET"
  --table public.pgbench_accounts --format json)
hash=(); copy=(); pv=(); pc=(); prss=()
for _ in $(seq "$runs"); do
  hash+=("$(seconds_of pg_hash)")
  copy+=("$(seconds_of pg_copy)")
  read -r t m s < <(timed "${verify_pg[@]}"); pv+=("$t"); prss+=("$m")
  [ "$s" = 0 ] || { echo "tandem verify (PostgreSQL) exited $s: $(cat "$dir/last.err")" >&2; exit 1; }
  read -r t m s < <(timed "${verify_pg[@]}" --hashing server); pc+=("$t"); prss+=("$m")
  [ "$s" = 0 ] || { echo "tandem verify --hashing server (PostgreSQL) exited $s" >&2; exit 1; }
done
h=$(printf "%s\n" "${hash[@]}" | median); cp_=$(printf "%s\n" "${copy[@]}" | median)
v=$(printf "%s\n" "${pv[@]}" | median); c=$(printf "%s\n" "${pc[@]}" | median)
r=$(printf "%s\n" "${prss[@]}" | sort -g | tail -1)
echo ""
echo "### PostgreSQL: pgbench_accounts, $rows rows on two servers (median of $runs)"
echo ""
echo "| what | seconds | tandem verify ÷ it |"
echo "|---|---:|---:|"
echo "| sum(hashtext(a::text)), both sides at once | $(fmt "$h") | $(ratio "$v" "$h") |"
echo "| COPY pgbench_accounts TO STDOUT, both sides at once | $(fmt "$cp_") | $(ratio "$v" "$cp_") |"
echo "| **tandem verify** (client hashing, the default on PostgreSQL) | **$(fmt "$v")** | 1.00 |"
echo "| tandem verify --hashing server | $(fmt "$c") | $(ratio "$v" "$c") |"
echo ""
echo "tandem peak RSS: $((r / 1024)) MB."
