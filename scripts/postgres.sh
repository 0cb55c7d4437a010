#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the `orders` participant and its tests.
#
#   scripts/postgres.sh start <dir> [port]   create (first time) and start a cluster in <dir>; the LAST line
#                                            of stdout is an Npgsql connection string
#   scripts/postgres.sh stop <dir>           stop it (pg_ctl stop -m fast); succeeds when it is not running
#   scripts/postgres.sh database <dir> <name>  create database <name> in the running cluster when missing (the
#                                            shipping app's own); the LAST line of stdout is its connection string
#
# <dir> holds data/ (PGDATA), postgres.log and the credentials; it is owned by the `postgres` OS user
# (when run as root, every PostgreSQL command runs as that user through runuser; otherwise as the caller).
# The server listens on 127.0.0.1 only, has no Unix socket, max_prepared_transactions=64 and fsync off
# (test data only). `start` on a cluster that already runs prints the same connection string again; a
# port given then is ignored. Without a port, a free one is chosen. The login it creates has a random
# password and CREATEDB (tests create one database per test class). PG_BIN overrides the binaries'
# directory; when initdb is missing and we are root, the Debian `postgresql` package is installed.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }
die() { log "$*"; exit 1; }

usage() {
  echo "usage: $0 start <dir> [port] | stop <dir> | database <dir> <name>" >&2
  exit 2
}

find_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then
    [[ -x "$PG_BIN/initdb" ]] || die "PG_BIN=$PG_BIN has no initdb"
    echo "$PG_BIN"
    return
  fi
  local candidate
  for candidate in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    if [[ -x "$candidate/initdb" ]]; then
      echo "$candidate"
      return
    fi
  done
  return 1
}

ensure_bin() {
  local bin
  if bin=$(find_bin); then
    echo "$bin"
    return
  fi
  [[ $EUID -eq 0 ]] || die "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
  log "installing the postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y postgresql >&2
  bin=$(find_bin) || die "initdb not found after installing postgresql"
  echo "$bin"
}

# Runs a command as the cluster's owner.
as_owner() {
  if [[ $EUID -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

random_hex() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  local port attempt
  for attempt in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if ! port_in_use "$port"; then
      echo "$port"
      return
    fi
  done
  die "no free port found"
}

is_running() {
  [[ -f "$DATA/postmaster.pid" ]] && as_owner "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

# Runs SQL as the cluster's superuser over TCP.
admin_sql() {
  as_owner env PGPASSWORD="$(cat "$DIR/superuser.password")" \
    "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(cat "$DIR/port")" -U postgres -d postgres "$@" >&2
}

init_cluster() {
  log "creating a cluster in $DATA"
  local pwfile="$DIR/superuser.password"
  random_hex >"$pwfile"
  if [[ $EUID -eq 0 ]]; then chown postgres: "$pwfile"; fi
  chmod 600 "$pwfile"
  as_owner "$BIN/initdb" -D "$DATA" -U postgres --pwfile="$pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C >"$DIR/initdb.log" 2>&1 || {
    cat "$DIR/initdb.log" >&2
    die "initdb failed"
  }
  cat >>"$DATA/postgresql.conf" <<'EOF'

# scripts/postgres.sh: a throwaway cluster for tests and local runs.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_prepared_transactions = 64
max_connections = 100
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  # Only password logins over loopback; no Unix socket is configured.
  cat >"$DATA/pg_hba.conf" <<'EOF'
host all all 127.0.0.1/32 scram-sha-256
EOF
}

start_server() {
  local requested="$1" port attempt
  for attempt in 1 2 3 4 5; do
    port="${requested:-$(free_port)}"
    echo "$port" >"$DIR/port"
    # 9>&-: the server must not inherit the lock on $DIR/.lock, or the next start waits for it forever.
    if as_owner "$BIN/pg_ctl" start -w -t 60 -D "$DATA" -l "$DIR/postgres.log" -o "-p $port" >&2 9>&-; then
      return
    fi
    [[ -z "$requested" ]] || break
    log "start on port $port failed; trying another port"
  done
  tail -n 30 "$DIR/postgres.log" >&2 || true
  die "the server did not start (see $DIR/postgres.log)"
}

# Idempotent, so that a start interrupted half-way can simply be run again.
create_login() {
  local password
  password=$(random_hex)
  admin_sql <<SQL
DO \$\$BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'serverless') THEN
    ALTER ROLE serverless LOGIN CREATEDB PASSWORD '$password';
  ELSE
    CREATE ROLE serverless LOGIN CREATEDB PASSWORD '$password';
  END IF;
END\$\$;
SELECT 'CREATE DATABASE serverless OWNER serverless'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'serverless') \\gexec
SQL
  echo "$password" >"$DIR/login.password.new"
  chmod 600 "$DIR/login.password.new"
  mv "$DIR/login.password.new" "$DIR/login.password"
}

connection_string() {
  echo "Host=127.0.0.1;Port=$(cat "$DIR/port");Username=serverless;Password=$(cat "$DIR/login.password");Database=serverless"
}

cmd_start() {
  local requested="${1:-}"
  [[ -z "$requested" || "$requested" =~ ^[0-9]+$ ]] || die "port must be a number: $requested"
  # The directory changes owner: never take over one that holds something else (a mistyped path).
  if [[ -d "$DIR" && -n "$(ls -A "$DIR")" && ! -f "$DIR/.lock" ]]; then
    die "$DIR is not empty and holds no cluster made by this script; refusing to use it"
  fi
  BIN=$(ensure_bin)
  mkdir -p "$DIR"
  if [[ $EUID -eq 0 ]]; then chown postgres: "$DIR"; fi
  chmod 700 "$DIR"
  as_owner test -w "$DIR" || die "$DIR is not writable by the postgres user: every parent directory must be traversable by it (mktemp -d makes a private one; use a directory under /tmp instead)"

  # Serialize concurrent starts on the same directory.
  exec 9>>"$DIR/.lock"
  flock 9

  if [[ -f "$DIR/login.password" ]] && is_running; then
    connection_string
    return
  fi

  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    rm -rf "$DATA" "$DIR/login.password"
    init_cluster
  fi
  if ! is_running; then
    # A stopped cluster comes back on its previous port when that is still free, so its string stays valid.
    local port="$requested"
    if [[ -z "$port" && -f "$DIR/port" ]] && ! port_in_use "$(cat "$DIR/port")"; then
      port=$(cat "$DIR/port")
    fi
    start_server "$port"
  fi
  if [[ ! -f "$DIR/login.password" ]]; then
    create_login
  fi
  if [[ $EUID -eq 0 ]]; then chown -R postgres: "$DIR"; fi
  connection_string
}

# A database of its own for another app on the same server (the shipping app's): created when missing, owned by the login.
cmd_database() {
  local name="${1:-}"
  [[ "$name" =~ ^[a-z][a-z0-9_]{0,62}$ ]] || die "database name must be 1-63 of a-z, 0-9 and _, starting with a letter: '$name'"
  BIN=$(find_bin) || die "PostgreSQL binaries not found"
  [[ -f "$DIR/login.password" ]] && is_running || die "no running cluster in $DIR (start it first)"
  admin_sql <<SQL
SELECT 'CREATE DATABASE $name OWNER serverless'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$name') \\gexec
SQL
  echo "Host=127.0.0.1;Port=$(cat "$DIR/port");Username=serverless;Password=$(cat "$DIR/login.password");Database=$name"
}

cmd_stop() {
  if [[ ! -f "$DIR/data/PG_VERSION" ]]; then
    log "no cluster in $DIR"
    return
  fi
  BIN=$(find_bin) || die "PostgreSQL binaries not found"
  if is_running; then
    as_owner "$BIN/pg_ctl" stop -w -D "$DATA" -m fast >&2
  else
    log "not running"
  fi
}

[[ $# -ge 2 ]] || usage
COMMAND="$1"
DIR=$(realpath -m "$2")
DATA="$DIR/data"
case "$COMMAND" in
  start) [[ $# -le 3 ]] || usage; cmd_start "${3:-}" ;;
  stop) [[ $# -eq 2 ]] || usage; cmd_stop ;;
  database) [[ $# -eq 3 ]] || usage; cmd_database "$3" ;;
  *) usage ;;
esac
