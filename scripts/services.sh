#!/usr/bin/env bash
# Starts the services the AWS-driver storage tests need, on loopback only,
# with their data in a fresh temp dir: MariaDB (MySQL-compatible) and
# versitygw (S3-compatible, posix backend, generated root keys).
#
#   eval "$(scripts/services.sh start)"   # prints export lines; services keep running
#   scripts/services.sh stop "$ACDLEDGER_SERVICES_DIR"
#   scripts/services.sh run CMD...        # start, run CMD with the env set, stop (even on failure)
#   scripts/services.sh test-run CMD...   # as run, but runs CMD as it is when the services are already
#                                         # set (ACDLEDGER_TEST_MYSQL_DSN), not wanted (ACDLEDGER_NO_SERVICES=1)
#                                         # or not installed (the tests that need them then fail, saying how
#                                         # to install them): what make test uses
#
# The exports: ACDLEDGER_TEST_MYSQL_DSN (a root DSN without a database; each
# test creates its own), ACDLEDGER_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_REGION, ACDLEDGER_SERVICES_DIR.
# Install the binaries with scripts/install-test-deps.sh.
set -euo pipefail

# free_port picks a random loopback port nothing answers on.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

find_bin() {
  local name=$1
  command -v "$name" 2>/dev/null && return
  for d in /usr/sbin /usr/bin "$(go env GOBIN 2>/dev/null)" "$(go env GOPATH 2>/dev/null)/bin"; do
    [ -n "$d" ] && [ -x "$d/$name" ] && { echo "$d/$name"; return; }
  done
  echo "services.sh: $name not found; run scripts/install-test-deps.sh" >&2
  return 1
}

start() {
  local mariadbd installdb vgw dir dbport s3port key secret
  mariadbd=$(find_bin mariadbd)
  installdb=$(find_bin mariadb-install-db)
  vgw=$(find_bin versitygw)
  dir=$(mktemp -d "${TMPDIR:-/tmp}/acdledger-services.XXXXXX")
  mkdir -p "$dir/db" "$dir/s3"
  dbport=$(free_port)
  s3port=$(free_port)
  key=acd$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
  secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')

  "$installdb" --no-defaults --datadir="$dir/db" --user="$(id -un)" --auth-root-authentication-method=normal \
    --skip-test-db >"$dir/mariadb-install.log" 2>&1 || { cat "$dir/mariadb-install.log" >&2; return 1; }
  # --no-defaults: ignore /etc/mysql; loopback only; a small buffer pool.
  # Durability settings stay at their defaults (fsync per commit).
  "$mariadbd" --no-defaults --datadir="$dir/db" --user="$(id -un)" --bind-address=127.0.0.1 --port="$dbport" \
    --socket="$dir/mariadb.sock" --pid-file="$dir/mariadb.pid" --skip-name-resolve --innodb-buffer-pool-size=128M \
    --max-connections=500 --log-error="$dir/mariadb.err" >/dev/null 2>&1 &
  echo $! >"$dir/mariadb.pidfile"

  ROOT_ACCESS_KEY=$key ROOT_SECRET_KEY=$secret "$vgw" --port "127.0.0.1:$s3port" posix "$dir/s3" >"$dir/versitygw.log" 2>&1 &
  echo $! >"$dir/versitygw.pidfile"

  local ok=""
  for _ in $(seq 1 300); do
    if "$(dirname "$installdb")/mariadb-admin" --no-defaults --protocol=tcp -h127.0.0.1 -P"$dbport" -uroot ping >/dev/null 2>&1 &&
      (exec 3<>"/dev/tcp/127.0.0.1/$s3port") 2>/dev/null; then
      ok=1
      break
    fi
    sleep 0.1
  done
  if [ -z "$ok" ]; then
    echo "services.sh: services did not come up; logs in $dir" >&2
    tail -20 "$dir/mariadb.err" "$dir/versitygw.log" >&2 || true
    stop "$dir"
    return 1
  fi
  cat <<EOT
export ACDLEDGER_SERVICES_DIR='$dir'
export ACDLEDGER_TEST_MYSQL_DSN='root@tcp(127.0.0.1:$dbport)/'
export ACDLEDGER_TEST_S3_ENDPOINT='http://127.0.0.1:$s3port'
export AWS_ACCESS_KEY_ID='$key'
export AWS_SECRET_ACCESS_KEY='$secret'
export AWS_REGION='us-east-1'
EOT
}

stop() {
  local dir=${1:-${ACDLEDGER_SERVICES_DIR:-}}
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  for f in versitygw mariadb; do
    if [ -f "$dir/$f.pidfile" ]; then
      local pid
      pid=$(cat "$dir/$f.pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$dir"
}

case "${1:-}" in
start) start ;;
stop) stop "${2:-}" ;;
run)
  shift
  env_lines=$(start)
  eval "$env_lines"
  trap 'stop "$ACDLEDGER_SERVICES_DIR"' EXIT
  "$@"
  ;;
test-run)
  shift
  if [ -n "${ACDLEDGER_TEST_MYSQL_DSN:-}" ] || [ "${ACDLEDGER_NO_SERVICES:-}" = 1 ]; then
    exec "$@"
  fi
  if ! find_bin mariadbd >/dev/null 2>&1 || ! find_bin versitygw >/dev/null 2>&1; then
    echo "services.sh: MariaDB or versitygw is not installed: the AWS-driver tests will fail." >&2
    echo "services.sh: install them with scripts/install-test-deps.sh, or set ACDLEDGER_NO_SERVICES=1 to skip those tests." >&2
    exec "$@"
  fi
  exec "$0" run "$@"
  ;;
*)
  echo "usage: $0 start | stop [DIR] | run CMD..." >&2
  exit 2
  ;;
esac
