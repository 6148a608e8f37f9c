#!/usr/bin/env bash
# Schema-driven fuzzing of the REST surface: schemathesis (PyPI) against the gateway's own
# /api/openapi.json with every check on (no 5xx, documented status codes, content types,
# headers and response schemas, negative data rejected, positive data accepted, auth not
# ignored). Fails on any failure.
# Usage: bash tests/schemathesis/run.sh   (MAX_EXAMPLES=N to change the bound, default 50)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

venv="$here/.venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'schemathesis>=4,<5'
fi

cargo build -q -p gateway-server --bin auth-gateway
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
log="$data/gateway.log"
./target/debug/auth-gateway serve --bind "127.0.0.1:$port" --data-dir "$data" --bcrypt-cost 4 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done
curl -sf "$base/health" >/dev/null || { cat "$log"; exit 1; }

# An admin and an API token, through the API.
J='content-type: application/json'
jar="$data/jar"
curl -sf -c "$jar" -H "$J" -d '{"email":"admin@example.com","password":"schemathesis-admin"}' "$base/api/auth.createAdmin" >/dev/null
token=$(curl -sf -b "$jar" -X POST "$base/api/auth.generateToken" | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
[ -n "$token" ]

mkdir -p "$here/reports"
export SCHEMATHESIS_TOKEN="$token"
st() {
  "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$base/api/openapi.json" \
    --url "$base/api" \
    --checks all \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "${MAX_EXAMPLES:-50}" \
    --max-time "${MAX_TIME:-150}" \
    --workers 2 \
    --seed "${SEED:-1}" \
    --request-timeout 10 \
    --report junit --report-dir "$here/reports" \
    --no-color "$@" 2>&1
}
# auth.generateToken replaces the token every other request uses, and auth.logout ends
# the session: run every other operation first, then those two on their own.
set +e
st --exclude-path /auth.generateToken --exclude-path /auth.logout
rc=$?
st --include-path /auth.generateToken --include-path /auth.logout
rc2=$?
set -e
[ $rc -ne 0 ] || rc=$rc2
if [ $rc -ne 0 ]; then
  echo "schemathesis failed (exit $rc); gateway log: the last lines"
  tail -20 "$log"
fi
exit $rc
