#!/usr/bin/env bash
# Instructions the gateway spends per auth.get (Bearer API token), counted by callgrind:
# repeatable where wall-clock figures are not (a busy machine changes req/s, not this).
# One worker, SQLite, a warm-up of 200 calls, then N calls counted between a zero and a dump.
# Background threads (the epoch watcher polls SQLite) add about 1% of noise per run.
#
#   bash bench/instructions.sh [N] [EXTRA SERVE FLAGS...]
#   bash bench/instructions.sh 1000 --metrics-bind 127.0.0.1:3498
#
# Needs valgrind (callgrind_control), curl, jq; a release build.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-1000}
shift || true
PORT=${PORT:-3499}
# shellcheck source=bench/binary.sh
source "$ROOT/bench/binary.sh"
bench_binary "$ROOT" || exit 1
dir=$(mktemp -d /tmp/gw-instructions.XXXXXX)
vg=
trap '[ -n "$vg" ] && kill "$vg" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$dir/cg.%p" "$BIN" serve --bind "127.0.0.1:$PORT" \
  --data-dir "$dir/data" --bcrypt-cost 4 --log-level warn --workers 1 "$@" >"$dir/log" 2>&1 &
vg=$!
for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.2; done
eval "$(bash "$ROOT/bench/setup.sh" "http://127.0.0.1:$PORT" admin)"
url=http://127.0.0.1:$PORT/api/trpc/auth.get
for _ in $(seq 1 200); do curl -sf -o /dev/null -H "authorization: Bearer $TOKEN" "$url"; done
callgrind_control -z "$vg" >/dev/null
for _ in $(seq 1 "$N"); do curl -sf -o /dev/null -H "authorization: Bearer $TOKEN" "$url"; done
callgrind_control -d "$vg" >/dev/null
total=$(grep -h '^summary:' "$dir"/cg.*.1 | awk '{ print $2 }')
echo "$((total / N)) instructions per auth.get ($N calls${*:+, flags: $*}; $BUILD_LABEL)"
