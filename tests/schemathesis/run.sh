#!/usr/bin/env bash
# Schema-driven fuzzing of the REST surface: schemathesis (PyPI) against the gateway's own
# /api/openapi.json with every check on (no 5xx, documented status codes, content types,
# headers and response schemas, negative data rejected, positive data accepted, auth not
# ignored). Fails on any failure.
# Usage: bash tests/schemathesis/run.sh   (MAX_EXAMPLES=N to change the bound, default 50)
# TEST_BACKEND=sqlite (the default: a file in each gateway's data dir) or postgres (a fresh
# database per gateway on the TEST_DATABASE_URL server) picks the gateways' store.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

backend=${TEST_BACKEND:-sqlite}
case $backend in
  sqlite) ;;
  postgres)
    if [ -z "${TEST_DATABASE_URL:-}" ]; then
      echo "TEST_BACKEND=postgres needs TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)" >&2
      exit 2
    fi ;;
  *) echo "TEST_BACKEND is '$backend': sqlite or postgres" >&2; exit 2 ;;
esac
echo "schemathesis: the gateways on $backend"

venv="$here/.venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'schemathesis==4.32.5'
fi

cargo build -q -p gateway-server --bin auth-gateway
data=$(mktemp -d)
pids=()
dbs=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for db in "${dbs[@]}"; do psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; done
  rm -rf "$data"
}
trap cleanup EXIT
J='content-type: application/json'

# The number of accounts in the store at $database_url: the gateway serves that store.
accounts() {
  if [ "$backend" = postgres ]; then
    psql "$database_url" -qAtc 'SELECT count(*) FROM auth'
  else
    python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM auth").fetchone()[0])' \
      "${database_url#sqlite://}"
  fi
}

# start_gateway NAME: a fresh gateway (own data dir, own database on $backend) with an admin
# and an API token made through the API; sets base, token and log.
start_gateway() {
  local name=$1 port db
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$data/$name"
  log="$data/$name/gateway.log"
  if [ "$backend" = postgres ]; then
    db="gw_schemathesis_${name}_$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
    psql "$TEST_DATABASE_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $db"
    dbs+=("$db")
    database_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' \
      "$TEST_DATABASE_URL" "$db")
  else
    database_url="sqlite://$data/$name/gateway.db"
  fi
  ./target/debug/auth-gateway serve --bind "127.0.0.1:$port" --data-dir "$data/$name" --database-url "$database_url" \
    --bcrypt-cost 4 >"$log" 2>&1 &
  pids+=($!)
  base="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done
  curl -sf "$base/health" >/dev/null || { cat "$log"; exit 1; }
  curl -sf -c "$data/$name/jar" -H "$J" -d '{"email":"admin@example.com","password":"schemathesis-admin"}' \
    "$base/api/auth.createAdmin" >/dev/null
  [ "$(accounts)" = 1 ] || { echo "the admin is not in the $backend store the gateway was given" >&2; exit 1; }
  token=$(curl -sf -b "$data/$name/jar" -X POST "$base/api/auth.generateToken" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
  [ -n "$token" ]
}

mkdir -p "$here/reports/$backend"
# Run from this folder: schemathesis keeps its cache (.schemathesis/, git-ignored) in the
# current directory.
# One worker: with two, Hypothesis describes strategies from two threads at once, and
# CPython 3.11's ast.parse is not safe for that ("AST constructor recursion depth
# mismatch", a crash of the tool that fails the run without any finding).
st() {
  (cd "$here" && "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$base/api/openapi.json" \
    --url "$base/api" \
    --checks all \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "${MAX_EXAMPLES:-50}" \
    --max-time "${MAX_TIME:-150}" \
    --workers 1 \
    --seed "${SEED:-1}" \
    --request-timeout 10 \
    --report junit --report-dir "$here/reports/$backend" \
    --no-color "$@" 2>&1)
}
# auth.generateToken replaces the token the other requests use and auth.logout ends the
# session: every operation but those two on one gateway, then those two on a fresh one.
start_gateway main
export SCHEMATHESIS_TOKEN="$token"
set +e
st --exclude-path /auth.generateToken --exclude-path /auth.logout
rc=$?
set -e
main_log=$log
start_gateway tokens
export SCHEMATHESIS_TOKEN="$token"
set +e
st --include-path /auth.generateToken --include-path /auth.logout --max-time "${MAX_TIME_TOKENS:-60}"
rc2=$?
set -e
[ $rc -ne 0 ] || rc=$rc2
log=$main_log
if [ $rc -ne 0 ]; then
  echo "schemathesis failed (exit $rc); gateway log: the last lines"
  tail -20 "$log"
fi
exit $rc
