#!/usr/bin/env bash
# Installs PostgreSQL from Debian's packages (if missing) and starts it on 127.0.0.1:5432
# with a role and database `chatbi` (password `chatbi`). Idempotent.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
data=/tmp/chatbi-pg
if [ ! -f "$data/PG_VERSION" ]; then
  rm -rf "$data"; mkdir -p "$data"; chown postgres:postgres "$data"
  su postgres -c "$bin/initdb -D $data -A trust -U postgres" >/dev/null
fi
if ! su postgres -c "$bin/pg_ctl -D $data status" >/dev/null 2>&1; then
  su postgres -c "$bin/pg_ctl -D $data -o '-c listen_addresses=127.0.0.1 -p 5432 -k /tmp' -l $data/log -w start" >/dev/null
fi
psql="psql -h 127.0.0.1 -p 5432 -U postgres -v ON_ERROR_STOP=1 -qtA"
$psql -c "SELECT 1 FROM pg_roles WHERE rolname='chatbi'" | grep -q 1 || $psql -c "CREATE ROLE chatbi LOGIN PASSWORD 'chatbi'"
$psql -c "SELECT 1 FROM pg_database WHERE datname='chatbi'" | grep -q 1 || $psql -c "CREATE DATABASE chatbi OWNER chatbi"
echo "postgres: up on 127.0.0.1:5432 (database chatbi)"
