#!/usr/bin/env bash
# The quick start: installs everything, builds tandem, starts throwaway MariaDB, PostgreSQL and
# Redis servers (a source and a target of each, on 127.0.0.1, under a temporary directory) with
# sample data, runs tandem on every pair, and stops the servers again.
#   scripts/demo.sh            run it all
#   scripts/demo.sh --keep     leave the servers running and print their URIs to try tandem by hand
set -euo pipefail
cd "$(dirname "$0")/.."
keep=false
[ "${1:-}" = "--keep" ] && keep=true
bash scripts/install-deps.sh
bash scripts/build.sh
build_dir=${TANDEM_BUILD_DIR:-build}
tandem="$build_dir/bin/tandem"
servers="$build_dir/tests/harness/tandem-test-servers"
demo_dir=$(mktemp -d /tmp/tandem-demo.XXXXXX)
chmod 755 "$demo_dir"  # PostgreSQL runs as the postgres user and must reach its data directory
cleanup() {
  if [ "$keep" = false ]; then
    "$servers" stop --dir "$demo_dir" >/dev/null || true
    rm -rf "$demo_dir"
  fi
}
trap cleanup EXIT
echo "== starting throwaway servers in $demo_dir"
"$servers" start --dir "$demo_dir" --sample-data --rows 2000 >/dev/null  # stdout: URIs with passwords
# shellcheck disable=SC1091
set -a; . "$demo_dir/servers.env"; set +a
# Passwords go through the environment, as they should in production, so none is ever echoed.
export TANDEM_SOURCE_PASSWORD=tandem-secret TANDEM_TARGET_PASSWORD=tandem-secret
for name in TANDEM_MYSQL_SOURCE TANDEM_MYSQL_TARGET TANDEM_POSTGRES_SOURCE TANDEM_POSTGRES_TARGET \
            TANDEM_REDIS_SOURCE TANDEM_REDIS_TARGET; do
  uri=${!name/:\/\/:tandem-secret@/:\/\/}  # redis://:pass@host -> redis://host
  export "$name=${uri/:tandem-secret@/@}"      # mysql://user:pass@host -> mysql://user@host
done

status=0
run() {
  echo
  echo "\$ tandem $*"
  set +e
  "$tandem" "$@"
  local code=$?
  set -e
  echo "(exit code $code: $( [ $code -eq 0 ] && echo yes || { [ $code -eq 1 ] && echo no || echo 'could not answer'; } ))"
  [ $code -le 1 ] || status=1
}
echo
echo "== phase 1 assessment of each pair (the sample data has a table without a key on purpose)"
run inspect --source "$TANDEM_MYSQL_SOURCE" --target "$TANDEM_MYSQL_TARGET"
run inspect --source "$TANDEM_POSTGRES_SOURCE" --target "$TANDEM_POSTGRES_TARGET"
run inspect --source "$TANDEM_REDIS_SOURCE" --target "$TANDEM_REDIS_TARGET" --format json
mysql_source_port=${TANDEM_MYSQL_SOURCE##*:}
mysql_target_port=${TANDEM_MYSQL_TARGET##*:}
on_mysql() {  # on_mysql PORT SQL
  MYSQL_PWD=tandem-secret mariadb --protocol=TCP -h 127.0.0.1 -P "$1" -u tandem -e "$2"
}
echo
echo "== the main job: copy the keyed MySQL tables into an empty target and stream every change"
on_mysql "$mysql_target_port" "DROP TABLE shop.all_types, shop.order_lines, shop.customers"
sync_tables=(--table shop.all_types --table shop.order_lines --table shop.customers)
run sync --source "$TANDEM_MYSQL_SOURCE/shop" --target "$TANDEM_MYSQL_TARGET/shop" "${sync_tables[@]}" \
  --until-caught-up
echo
echo "== the source keeps changing (updates, a primary-key change, deletes, inserts); sync resumes"
on_mysql "$mysql_source_port" "UPDATE shop.order_lines SET quantity = quantity + 1 WHERE line_no = 1;
  UPDATE shop.customers SET email = CONCAT('moved.', email) ORDER BY email LIMIT 5;
  DELETE FROM shop.all_types ORDER BY id LIMIT 10;
  INSERT INTO shop.all_types (c_int, c_varchar, c_json) VALUES (42, 'added after the copy', '{\"n\": 1}')"
run sync --source "$TANDEM_MYSQL_SOURCE/shop" --target "$TANDEM_MYSQL_TARGET/shop" "${sync_tables[@]}" \
  --until-caught-up --format json
echo
echo "== consistency check: MySQL as synced by tandem; PostgreSQL with the same sample data on both sides"
run verify --source "$TANDEM_MYSQL_SOURCE/shop" --target "$TANDEM_MYSQL_TARGET/shop"
run verify --source "$TANDEM_POSTGRES_SOURCE" --target "$TANDEM_POSTGRES_TARGET"
echo
echo "== now change one row on the MySQL target and name the difference, with the statement that repairs it"
on_mysql "$mysql_target_port" \
  "UPDATE shop.customers SET full_name = CONCAT(full_name, ' (edited)') ORDER BY email LIMIT 1"
run verify --source "$TANDEM_MYSQL_SOURCE/shop" --target "$TANDEM_MYSQL_TARGET/shop" \
  --table shop.customers --repair-sql "$demo_dir/repair.sql"
echo "repair statements written to $demo_dir/repair.sql:"
cat "$demo_dir/repair.sql"
echo
echo
echo "== end-to-end lag through tandem sync: sync streams for 8 s while tandem lag measures it"
"$tandem" sync --source "$TANDEM_MYSQL_SOURCE/shop" --target "$TANDEM_MYSQL_TARGET/shop" \
  "${sync_tables[@]}" --duration 8 >/dev/null &
sync_pid=$!
run lag --source "$TANDEM_MYSQL_SOURCE/shop" --target "$TANDEM_MYSQL_TARGET/shop" --duration 5
wait "$sync_pid" || status=1
if [ "$keep" = true ]; then
  echo
  echo "servers left running (stop them with: $servers stop --dir $demo_dir):"
  env | grep -E '^TANDEM_(MYSQL|POSTGRES|REDIS)_(SOURCE|TARGET)=' | sort
  echo "(passwords: TANDEM_SOURCE_PASSWORD / TANDEM_TARGET_PASSWORD, both tandem-secret)"
fi
exit $status
