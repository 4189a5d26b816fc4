#!/usr/bin/env bash
# Installs MariaDB from Debian's packages (if missing) and starts it without systemd on
# 127.0.0.1:3306 with a user and database `chatbi` (password `chatbi`; the user may also create
# databases named chatbi_*, which the tests load into). Idempotent.
set -euo pipefail
if ! command -v mariadbd >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq mariadb-server >/dev/null
fi
data=/tmp/chatbi-mariadb
sock=/tmp/chatbi-mariadb.sock
if [ ! -d "$data/mysql" ]; then
  rm -rf "$data"; mkdir -p "$data"; chown mysql:mysql "$data"
  mariadb-install-db --no-defaults --user=mysql --datadir="$data" --auth-root-authentication-method=socket \
    --skip-test-db >/dev/null
fi
if ! mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1; then
  # --no-defaults: the settings are these, whatever /etc/mysql says; setsid: not tied to this shell.
  setsid mariadbd --no-defaults --user=mysql --datadir="$data" --socket="$sock" --port=3306 \
    --bind-address=127.0.0.1 --pid-file="$data/mariadb.pid" --log-error="$data/error.log" \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_bin --skip-log-bin </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 60); do
    mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1 && break
    sleep 0.5
  done
fi
mariadb --no-defaults --socket="$sock" -uroot -e "
  CREATE DATABASE IF NOT EXISTS chatbi CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
  CREATE USER IF NOT EXISTS 'chatbi'@'127.0.0.1' IDENTIFIED BY 'chatbi';
  GRANT ALL ON \`chatbi%\`.* TO 'chatbi'@'127.0.0.1';"  # chatbi and the tests' own chatbi_* databases
echo "mariadb: up on 127.0.0.1:3306 (database chatbi)"
