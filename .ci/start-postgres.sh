#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on loopback for the registry tests and print its URL.
# Usage: eval "$(bash .ci/start-postgres.sh)"   (exports MST_TEST_POSTGRES_URL)
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries not found" >&2; exit 1; }
PORT=${MST_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
DATA=$(mktemp -d /tmp/mst-pg.XXXXXX)
chown postgres:postgres "$DATA"
run() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
run "'$PGBIN/initdb' -D '$DATA' -A trust -U postgres --no-sync" >/dev/null
run "'$PGBIN/pg_ctl' -D '$DATA' -l '$DATA/server.log' -w -o \"-c listen_addresses=127.0.0.1 -p $PORT -k /tmp -c fsync=off\" start" >/dev/null
run "'$PGBIN/createdb' -h 127.0.0.1 -p $PORT -U postgres mst_test"
echo "export MST_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:$PORT/mst_test"
echo "export MST_PG_DATA=$DATA"
