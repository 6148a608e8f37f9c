#!/usr/bin/env bash
# Prepares a FRESH gateway for the benchmark through its public API only, and prints
# shell `export` lines:
#   admin  : auth.createAdmin (session cookie) -> auth.generateToken  => TOKEN
#   users  : N x (admin.createUserInvitation -> auth.createUser)       => LOGIN_EMAILS
#   bench/setup.sh BASE_URL admin|users [N]
# Needs curl and jq. ADMIN_EMAIL / ADMIN_PASSWORD / LOGIN_PASSWORD override the defaults.
set -euo pipefail
BASE=${1:?usage: setup.sh BASE_URL admin|users [N]}
WHAT=${2:?usage: setup.sh BASE_URL admin|users [N]}
N=${3:-4}
ADMIN_EMAIL=${ADMIN_EMAIL:-bench-admin@bench.test}
ADMIN_PASSWORD=${ADMIN_PASSWORD:-bench-admin-password}
LOGIN_PASSWORD=${LOGIN_PASSWORD:-bench-user-password}
JAR=$(mktemp)
trap 'rm -f "$JAR"' EXIT

# call PROCEDURE JSON_INPUT|- [nojar] : POST over tRPC (with the admin's cookie jar unless
# "nojar"); prints result.data.json
call() {
  local body=() jar=(-b "$JAR" -c "$JAR") out
  [ "$2" != - ] && body=(-d "{\"json\":$2}")
  [ "${3:-}" = nojar ] && jar=()
  out=$(curl -sS "${jar[@]}" -H 'content-type: application/json' -X POST "${body[@]}" \
    "$BASE/api/trpc/$1")
  if ! jq -e '.result.data' >/dev/null 2>&1 <<<"$out"; then
    echo "setup: $1 failed: $out" >&2
    return 1
  fi
  jq -c '.result.data.json' <<<"$out"
}

admin_login() {
  local creds
  creds=$(jq -nc --arg e "$ADMIN_EMAIL" --arg p "$ADMIN_PASSWORD" '{email: $e, password: $p}')
  call auth.createAdmin "$creds" >/dev/null 2>&1 || call auth.login "$creds" >/dev/null
}

case $WHAT in
  admin)
    admin_login
    token=$(call auth.generateToken - | jq -r '.token')
    [ -n "$token" ] && [ "$token" != null ] || { echo "setup: no API token" >&2; exit 1; }
    echo "export TOKEN='$token'"
    ;;
  users)
    admin_login
    emails=()
    stamp=$(date +%s%N)
    for i in $(seq 1 "$N"); do
      email="bench-user-$stamp-$i@bench.test"
      inv=$(call admin.createUserInvitation "$(jq -nc --arg e "$email" '{email: $e}')")
      call auth.createUser "$(jq -c --arg p "$LOGIN_PASSWORD" '{password: $p, id: .authId, token: .token}' <<<"$inv")" nojar >/dev/null
      emails+=("$email")
    done
    echo "export LOGIN_EMAILS='${emails[*]}' LOGIN_PASSWORD='$LOGIN_PASSWORD'"
    ;;
  *) echo "setup: unknown step $WHAT" >&2; exit 2 ;;
esac
