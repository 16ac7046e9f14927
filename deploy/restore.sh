#!/bin/bash
# Minsheng: restore a dump made by backup.sh into a NEW database (never over an existing one).
# docs/DEPLOY.md, "Restoring".
#
#   restore.sh DUMP NEW_DATABASE [OWNER]
#
# Connects as libpq does (PGHOST, PGPORT, PGUSER, ~/.pgpass; the maintenance database is
# PGMAINTDB, default "postgres"), as a role that may create databases: run it as the postgres
# account. OWNER (e.g. minsheng): the new database and every object in it belong to that role,
# as they did in production. PG_BINDIR: the pg_restore/createdb to use (default: on PATH).
# The restore is one transaction and stops at the first error: a database is either whole or
# dropped again. Point DATABASE_URL at it (or rename it) only after checking it.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: restore.sh DUMP NEW_DATABASE [OWNER]" >&2
  exit 2
fi
dump="$1"; db="$2"; owner="${3:-}"
bin="${PG_BINDIR:+$PG_BINDIR/}"
maint="${PGMAINTDB:-postgres}"

[ -r "$dump" ] || { echo "restore.sh: cannot read $dump" >&2; exit 2; }
"${bin}pg_restore" --list "$dump" >/dev/null

exists="$("${bin}psql" --no-password -X -A -t -d "$maint" -v ON_ERROR_STOP=1 -v db="$db" \
  <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")"
if [ -n "$exists" ]; then
  echo "restore.sh: database $db exists; restore only into a new database" >&2
  exit 1
fi

# template0 and UTF8: a clean database with nothing a template added.
"${bin}createdb" --no-password --maintenance-db="$maint" --template=template0 --encoding=UTF8 \
  ${owner:+--owner="$owner"} "$db"
if ! "${bin}pg_restore" --no-password --exit-on-error --single-transaction --dbname="$db" \
     ${owner:+--no-owner --role="$owner"} "$dump"; then
  echo "restore.sh: restore failed; dropping $db again" >&2
  "${bin}dropdb" --no-password --maintenance-db="$maint" "$db" || true
  exit 1
fi
# Planner statistics are not in a dump: gather them before the platform reads.
"${bin}psql" --no-password -X -q -d "$db" -v ON_ERROR_STOP=1 -c "ANALYZE"
echo "restored $dump into $db"
