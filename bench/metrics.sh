#!/usr/bin/env bash
# What metrics cost (part of `make bench`): scenario A (auth.get over tRPC with a Bearer API
# token, 64 connections) with --metrics-bind off and on, alternating, each run on a fresh
# PostgreSQL database (as compare.sh does); with metrics on, the listener is scraped once a
# second meanwhile, as Prometheus would. Budget: on within 3% of off (medians).
# Prints a markdown table and appends it to RESULTS_FILE.
#
#   bash bench/metrics.sh                    # 3 pairs, 10 s per run
#   RUNS=5 DURATION=20s BUILD=0 bash bench/metrics.sh
#
# Needs: wrk, curl, jq, psql; PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-10s}
RUNS=${RUNS:-3}
PORT=${PORT:-3390}
METRICS_PORT=${METRICS_PORT:-3391}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
RESULTS_FILE=${RESULTS_FILE:-$ROOT/bench/runs.md}

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
# shellcheck source=bench/binary.sh
source "$ROOT/bench/binary.sh"
bench_binary "$ROOT" || exit 1

dir=$(mktemp -d /tmp/gw-metrics.XXXXXX)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

# run off|on: one measured A run on a fresh database; prints req/s.
run() {
  local db="gw_metrics_$$_$RANDOM" flags=()
  psql -q "$PG_URL/postgres" -c "CREATE DATABASE $db" >/dev/null
  [ "$1" = on ] && flags=(--metrics-bind "127.0.0.1:$METRICS_PORT")
  rm -rf "$dir/data"
  "$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$dir/data" --database-url "$PG_URL/$db" \
    --bcrypt-cost 10 --log-level warn "${flags[@]}" >"$dir/gateway.log" 2>&1 &
  local gw=$!
  for _ in $(seq 1 300); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.1; done
  eval "$(bash bench/setup.sh "http://127.0.0.1:$PORT" admin)"
  local url="http://127.0.0.1:$PORT/api/trpc/auth.get" scraper=
  wrk -t1 -c64 -d3s -H "authorization: Bearer $TOKEN" "$url" >/dev/null
  if [ "$1" = on ]; then
    (while curl -sf -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics"; do sleep 1; done) &
    scraper=$!
  fi
  wrk -t1 -c64 -d"$DURATION" -H "authorization: Bearer $TOKEN" "$url" | awk '/Requests\/sec/ { printf "%.0f\n", $2 }'
  [ -n "$scraper" ] && kill "$scraper" 2>/dev/null || true
  kill "$gw"; wait "$gw" 2>/dev/null || true
  psql -q "$PG_URL/postgres" -c "DROP DATABASE $db" >/dev/null
}

off=() on=()
for _ in $(seq 1 "$RUNS"); do
  off+=("$(run off)")
  on+=("$(run on)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
m_off=$(median "${off[@]}") m_on=$(median "${on[@]}")
{
  echo
  echo "### metrics, $(date -u +%F) at $BUILD_LABEL, A on PostgreSQL, $RUNS alternating pairs of $DURATION"
  echo
  echo "| metrics | runs, req/s | median |"
  echo "|---|---|---|"
  echo "| off | ${off[*]} | $m_off |"
  echo "| on, scraped every second | ${on[*]} | $m_on ($(awk -v a="$m_on" -v b="$m_off" 'BEGIN { printf "%+.1f%%", 100 * (a - b) / b }')) |"
} | tee -a "$RESULTS_FILE"
