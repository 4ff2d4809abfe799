#!/usr/bin/env bash
# Runs a command next to a throwaway PostgreSQL server, with XCORD_TEST_POSTGRES_URL pointing at
# it. Installs PostgreSQL from Debian if missing (without its default cluster), starts it as the
# postgres user on a random loopback port in a temporary directory, and always stops it (by its
# data directory's PID) and removes the directory.
#   usage: tests/with-postgres.sh <command> [args...]
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

if [ -z "$(pgbin)" ]; then
  echo "[with-postgres] installing PostgreSQL"
  mkdir -p /etc/postgresql-common
  [ -f /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold postgresql >/dev/null
fi
bin=$(pgbin)
[ -n "$bin" ] || { echo "[with-postgres] PostgreSQL binaries not found" >&2; exit 1; }
id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres

dir=$(mktemp -d /tmp/xcord-pg.XXXXXX)
chown postgres "$dir"
port=$(( 21000 + RANDOM % 20000 ))
as_pg() { su postgres -s /bin/sh -c "$*"; }
stop() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "$bin/pg_ctl -D $dir/data -m fast -w stop" >/dev/null 2>&1 || kill "$(head -n 1 "$dir/data/postmaster.pid")" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap stop EXIT
as_pg "$bin/initdb -D $dir/data -A trust -U postgres" >/dev/null
as_pg "$bin/pg_ctl -D $dir/data -o '-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off' -w -l $dir/log start" >/dev/null
export XCORD_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "[with-postgres] PostgreSQL on 127.0.0.1:$port"
"$@"
