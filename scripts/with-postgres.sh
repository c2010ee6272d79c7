#!/usr/bin/env bash
# Runs a command against a throw-away PostgreSQL server: initdb in a temp dir, start on a
# free loopback port, export RECUR_TEST_PG_URL (and PG* for psql/pgbench), run, tear down.
# Usage: scripts/with-postgres.sh COMMAND [ARGS...]
# PG_EXTRA_OPTS adds server settings, e.g. "-c max_connections=200".
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/initdb" ] || { echo "with-postgres: PostgreSQL server binaries not found (run scripts/install-deps.sh)" >&2; exit 1; }

dir=$(mktemp -d /tmp/recur-pg.XXXXXX)
chmod 755 "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')

# initdb and pg_ctl refuse to run as root: run them as the postgres user then.
as_owner=()
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$dir"
  as_owner=(runuser -u postgres --)
fi

cleanup() {
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

"${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
"${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c full_page_writes=off ${PG_EXTRA_OPTS:-}" >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
# An ICU collation, as production databases have: C-locale-only assumptions fail here.
"$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres --template=template0 \
  --locale-provider=icu --icu-locale=en-US --locale=C.UTF-8 recur

export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=recur
export RECUR_TEST_PG_URL="postgresql://postgres@127.0.0.1:$port/recur"
export RECUR_TEST_PG_BINDIR="$bindir"
echo "with-postgres: PostgreSQL on 127.0.0.1:$port ($dir)" >&2
set +e
"$@"
status=$?
set -e
exit $status
