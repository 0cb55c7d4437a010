#!/usr/bin/env bash
# A throwaway MariaDB server for the `ledger` participant (MySQL XA) and its tests.
#
#   scripts/mariadb.sh start <dir> [port]   create (first time) and start a server in <dir>; the LAST line of
#                                           stdout is a MySqlConnector connection string
#   scripts/mariadb.sh stop <dir>           stop it (a clean shutdown); succeeds when it is not running
#
# <dir> holds data/, my.cnf, mariadb.log, the server's pid file and Unix socket, and the credentials. The server
# reads only <dir>/my.cnf (never /etc/mysql), listens on 127.0.0.1 only, and its socket lives in <dir>, so it
# clashes with no other MariaDB or MySQL on the machine. When run as root, the server runs as the `mysql` OS user.
# `start` on a server that already runs prints the same connection string again; a port given then is ignored.
# Without a port, a free one is chosen (a stopped server comes back on its previous port when that is free). The
# login it creates (`serverless`@127.0.0.1) has a random password and may create databases (tests create one per
# test class). When mariadbd is missing and we are root, Debian's `mariadb-server` package is installed. Every
# failure ends with a non-zero exit and the reason on stderr: nothing is skipped silently.
set -euo pipefail

log() { echo "mariadb.sh: $*" >&2; }
die() { log "$*"; exit 1; }

usage() {
  echo "usage: $0 start <dir> [port] | stop <dir>" >&2
  exit 2
}

ensure_bin() {
  if command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]]; then
    return
  fi
  [[ $EUID -eq 0 ]] || die "MariaDB is not installed and installing it needs root (apt-get install mariadb-server)"
  log "installing the mariadb-server package"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt-get may be running (installing something else): wait for its lock instead of failing at once.
  apt-get -o DPkg::Lock::Timeout=600 update >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y mariadb-server >&2
  [[ -x /usr/sbin/mariadbd ]] || command -v mariadbd >/dev/null 2>&1 || die "mariadbd not found after installing mariadb-server"
}

mariadbd_bin() { command -v mariadbd 2>/dev/null || echo /usr/sbin/mariadbd; }

# The OS user the server runs as, and the MariaDB account (unix_socket authentication) that administers it.
server_user() { if [[ $EUID -eq 0 ]]; then echo mysql; else id -un; fi; }
admin_user() { if [[ $EUID -eq 0 ]]; then echo root; else id -un; fi; }

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

admin() { mariadb --no-defaults --protocol=socket --socket="$DIR/mariadb.sock" -u "$(admin_user)" "$@"; }

is_running() {
  [[ -S "$DIR/mariadb.sock" ]] && admin -N -e 'SELECT 1' >/dev/null 2>&1
}

write_config() {
  cat >"$DIR/my.cnf" <<EOF
# scripts/mariadb.sh: a throwaway server for tests and local runs.
[mariadbd]
datadir=$DATA
socket=$DIR/mariadb.sock
pid-file=$DIR/mariadb.pid
log-error=$DIR/mariadb.log
port=$1
bind-address=127.0.0.1
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_bin
innodb_buffer_pool_size=32M
innodb_log_file_size=16M
# Survives the server process being killed (the OS still writes the log), not the machine losing power: test data.
innodb_flush_log_at_trx_commit=2
max_connections=200
EOF
}

init_server() {
  log "creating a server in $DATA"
  mkdir -p "$DATA"
  if [[ $EUID -eq 0 ]]; then chown -R mysql: "$DIR"; fi
  write_config 0
  mariadb-install-db --defaults-file="$DIR/my.cnf" --user="$(server_user)" --skip-test-db \
    --auth-root-authentication-method=socket >"$DIR/install.log" 2>&1 || {
    cat "$DIR/install.log" >&2
    die "mariadb-install-db failed"
  }
}

start_server() {
  local requested="$1" port attempt pid
  for attempt in 1 2 3 4 5; do
    port="${requested:-$(free_port)}"
    echo "$port" >"$DIR/port"
    write_config "$port"
    if [[ $EUID -eq 0 ]]; then chown -R mysql: "$DIR"; fi
    # setsid: the server outlives this script and is not in its process group; 9>&-: it must not inherit the lock.
    setsid "$(mariadbd_bin)" --defaults-file="$DIR/my.cnf" --user="$(server_user)" </dev/null >>"$DIR/mariadb.log" 2>&1 9>&- &
    pid=$!
    local _
    for _ in $(seq 1 300); do
      if is_running; then
        return
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
    [[ -z "$requested" ]] || break
    log "start on port $port failed; trying another port"
  done
  tail -n 30 "$DIR/mariadb.log" >&2 || true
  die "the server did not start (see $DIR/mariadb.log)"
}

# Idempotent, so that a start interrupted half-way can simply be run again.
create_login() {
  local password
  password=$(random_hex)
  admin <<SQL
CREATE USER IF NOT EXISTS 'serverless'@'127.0.0.1' IDENTIFIED BY '$password';
ALTER USER 'serverless'@'127.0.0.1' IDENTIFIED BY '$password';
-- A throwaway server: the login may create the tests' databases and list prepared XA transactions (XA RECOVER).
GRANT ALL PRIVILEGES ON *.* TO 'serverless'@'127.0.0.1';
CREATE DATABASE IF NOT EXISTS serverless;
SQL
  echo "$password" >"$DIR/login.password.new"
  chmod 600 "$DIR/login.password.new"
  mv "$DIR/login.password.new" "$DIR/login.password"
}

connection_string() {
  echo "Server=127.0.0.1;Port=$(cat "$DIR/port");User ID=serverless;Password=$(cat "$DIR/login.password");Database=serverless"
}

cmd_start() {
  local requested="${1:-}"
  [[ -z "$requested" || "$requested" =~ ^[0-9]+$ ]] || die "port must be a number: $requested"
  # The directory changes owner: never take over one that holds something else (a mistyped path).
  if [[ -d "$DIR" && -n "$(ls -A "$DIR")" && ! -f "$DIR/.lock" ]]; then
    die "$DIR is not empty and holds no server made by this script; refusing to use it"
  fi
  # A Unix socket path is limited to 107 bytes.
  (( ${#DIR} <= 90 )) || die "$DIR is too long for the server's Unix socket (at most 90 characters)"
  ensure_bin
  command -v mariadb-install-db >/dev/null 2>&1 || die "mariadb-install-db not found (install mariadb-server)"
  mkdir -p "$DIR"
  chmod 700 "$DIR"
  if [[ $EUID -eq 0 ]]; then
    chown mysql: "$DIR"
    runuser -u mysql -- test -w "$DIR" || die "$DIR is not writable by the mysql user: every parent directory must be traversable by it (use a directory under /tmp instead)"
  fi

  # Serialize concurrent starts on the same directory.
  exec 9>>"$DIR/.lock"
  flock 9

  if [[ -f "$DIR/login.password" ]] && is_running; then
    connection_string
    return
  fi

  if [[ ! -d "$DATA/mysql" ]]; then
    rm -rf "$DATA" "$DIR/login.password"
    init_server
  fi
  if ! is_running; then
    local port="$requested"
    if [[ -z "$port" && -f "$DIR/port" ]] && ! port_in_use "$(cat "$DIR/port")"; then
      port=$(cat "$DIR/port")
    fi
    start_server "$port"
  fi
  if [[ ! -f "$DIR/login.password" ]]; then
    create_login
  fi
  connection_string
}

cmd_stop() {
  if [[ ! -d "$DATA/mysql" ]]; then
    log "no server in $DIR"
    return
  fi
  if ! is_running; then
    log "not running"
    return
  fi
  local pid=""
  [[ -f "$DIR/mariadb.pid" ]] && pid=$(cat "$DIR/mariadb.pid")
  admin -e 'SHUTDOWN' >/dev/null 2>&1 || true
  local _
  for _ in $(seq 1 300); do
    if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
      return
    fi
    sleep 0.2
  done
  die "the server (pid $pid) did not stop within 60 s"
}

[[ $# -ge 2 ]] || usage
COMMAND="$1"
DIR=$(realpath -m "$2")
DATA="$DIR/data"
case "$COMMAND" in
  start) [[ $# -le 3 ]] || usage; cmd_start "${3:-}" ;;
  stop) [[ $# -eq 2 ]] || usage; cmd_stop ;;
  *) usage ;;
esac
