#!/usr/bin/env bash
# CPU profile of scenario A (auth.get over tRPC, Bearer token, 64 conns) on PostgreSQL:
# starts the release gateway on a fresh database gw_profile_<pid>, prepares it through the
# public API, and samples the gateway with `perf record` (software cpu-clock event, so it
# works in VMs without hardware counters) while wrk runs.
#   bash bench/profile.sh [DURATION]        (10s)
# Output: OUT (a new /tmp/gw-profile.XXXXXX): perf.data, report.txt (flat, by symbol),
# report-children.txt (inclusive), wrk.txt. Needs perf (apt-get install linux-perf), wrk.
# CALL_GRAPH (dwarf,16384; "none" for a flat profile) is passed to perf record --call-graph.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
D=${1:-10s}
PORT=${PORT:-3095}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
CALL_GRAPH=${CALL_GRAPH:-dwarf,16384}
OUT=${OUT:-$(mktemp -d /tmp/gw-profile.XXXXXX)}
DB=gw_profile_$$
BASE=http://127.0.0.1:$PORT
DATA_DIR=$(mktemp -d /tmp/gw-profile-data.XXXXXX)
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null; }
# shellcheck source=bench/binary.sh
source "$ROOT/bench/binary.sh"
bench_binary "$ROOT" || exit 1

pg() { psql "$PG_URL/postgres" -qAt -v ON_ERROR_STOP=1 "$@"; }
SRV_PID=
cleanup() {
  [ -n "$SRV_PID" ] && { kill -TERM "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null || true; }
  pg -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$DATA_DIR"
}
trap cleanup EXIT
pg -c "CREATE DATABASE $DB" >/dev/null
"$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$DATA_DIR" --database-url "$PG_URL/$DB" \
  --bcrypt-cost 10 --log-level warn >"$OUT/server.log" 2>&1 </dev/null &
SRV_PID=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "$BASE/health" 2>/dev/null && break; sleep 0.2; done
eval "$(bench/setup.sh "$BASE" admin)"
URL="$BASE/api/trpc/auth.get?input=$(jq -rn '{json: null, meta: {values: ["undefined"], v: 1}} | tojson | @uri')"
wrk -t1 -c64 -d3s -H "Authorization: Bearer $TOKEN" "$URL" >/dev/null   # warm-up

cg=(--call-graph "$CALL_GRAPH")
[ "$CALL_GRAPH" = none ] && cg=()
perf record -e cpu-clock -F 499 "${cg[@]}" -p "$SRV_PID" -o "$OUT/perf.data" -- sleep "${D%s}" 2>"$OUT/perf-record.log" &
perf_pid=$!
wrk -t1 -c64 -d"$D" --latency -H "Authorization: Bearer $TOKEN" "$URL" >"$OUT/wrk.txt"
wait "$perf_pid" || true
perf report -i "$OUT/perf.data" --stdio --no-children --percent-limit 0.5 2>/dev/null >"$OUT/report.txt" || true
perf report -i "$OUT/perf.data" --stdio --no-children --sort dso 2>/dev/null >"$OUT/report-dso.txt" || true
perf report -i "$OUT/perf.data" --stdio --children --percent-limit 2 -g none 2>/dev/null >"$OUT/report-children.txt" || true
grep -E 'Requests/sec|99%' "$OUT/wrk.txt"
echo "profile in $OUT"
