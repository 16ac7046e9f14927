#!/bin/bash
# Minsheng: back the platform's PostgreSQL database up (pg_dump's custom format, -Fc) and keep
# the newest N copies. docs/DEPLOY.md, "Backups"; run daily by minsheng-backup.timer.
#
#   backup.sh [DIR]
#
# The connection is libpq's own, as for psql: PGDATABASE (default "minsheng"), PGHOST, PGPORT,
# PGUSER, and a password from ~/.pgpass (PGPASSFILE) or none (peer authentication as the
# postgres account, as the shipped timer does). Never a password on the command line.
#   MINSHENG_BACKUP_DIR   where the dumps go (default /var/backups/minsheng; DIR wins)
#   MINSHENG_BACKUP_KEEP  how many dumps to keep, newest first (default 14)
#   PG_BINDIR             the pg_dump to use (default: the one on PATH); it must be the
#                         server's major version or newer
# Each dump is written beside its final name and renamed only once pg_dump succeeded and
# pg_restore can read its table of contents, so a failed run never counts as a copy and
# never rotates a good one out. Prints the new file's path.
set -euo pipefail
umask 077  # the dump holds citizens' names and phone numbers

dir="${1:-${MINSHENG_BACKUP_DIR:-/var/backups/minsheng}}"
keep="${MINSHENG_BACKUP_KEEP:-14}"
export PGDATABASE="${PGDATABASE:-minsheng}"
bin="${PG_BINDIR:+$PG_BINDIR/}"

case "$keep" in ''|*[!0-9]*|0) echo "backup.sh: MINSHENG_BACKUP_KEEP must be a whole number ≥ 1" >&2; exit 2 ;; esac
mkdir -p "$dir"

stamp="$(date -u +%Y%m%dT%H%M%S.%NZ)"  # two runs in one second: two files
final="$dir/$PGDATABASE-$stamp.dump"
partial="$final.partial"
trap 'rm -f "$partial"' EXIT

"${bin}pg_dump" --format=custom --compress=6 --no-password --file="$partial" "$PGDATABASE"
"${bin}pg_restore" --list "$partial" >/dev/null  # readable, whole
mv "$partial" "$final"
trap - EXIT

# Rotate: the newest $keep dumps of this database stay (names sort by time).
mapfile -t dumps < <(find "$dir" -maxdepth 1 -type f -name "$PGDATABASE-*.dump" -printf '%f\n' | sort -r)
for old in "${dumps[@]:$keep}"; do
  rm -f -- "$dir/$old"
done
echo "$final"
