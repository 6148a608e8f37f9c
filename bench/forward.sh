#!/usr/bin/env bash
# Forwarding (`--upstream`), part of `make bench`: the tests' tRPC v11 upstream
# (tests/clients/upstream.mjs: Node, superjson, checking the identity header with the
# TypeScript package's helper) called directly and through the gateway, SQLite store.
# Prints a markdown table and appends it to RESULTS_FILE. Budget (issue of record): signed
# forwarding >= 90% of direct req/s, <= 0.5 ms more at p50 on one connection, and a batch of
# auth.get + 9 forwarded no dearer than 10 forwarded.
#
#   bash bench/forward.sh                  # 10 s per run
#   DURATION=20s BUILD=0 bash bench/forward.sh
#
# Needs: node and npm (installs tests/clients and clients/typescript when missing), wrk, curl, jq.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-10s}
UP_PORT=${UP_PORT:-3291}
GW_PORT=${GW_PORT:-3292}
RESULTS_FILE=${RESULTS_FILE:-$ROOT/bench/runs.md}

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
[ -d tests/clients/node_modules ] || (cd tests/clients && npm ci --no-audit --no-fund >/dev/null)
[ -d clients/typescript/node_modules ] || (cd clients/typescript && npm ci --no-audit --no-fund >/dev/null)
# shellcheck source=bench/binary.sh
source "$ROOT/bench/binary.sh"
bench_binary "$ROOT" || exit 1

dir=$(mktemp -d /tmp/gw-forward.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
"$BIN" keygen --data-dir "$dir" >/dev/null
key=$("$BIN" public-key --data-dir "$dir")
(cd tests/clients && exec node --experimental-wasm-modules upstream.mjs "$UP_PORT" "$key" >"$dir/upstream.log" 2>&1) &
pids+=($!)
"$BIN" serve --bind "127.0.0.1:$GW_PORT" --data-dir "$dir" --bcrypt-cost 10 --log-level warn \
  --upstream "http://127.0.0.1:$UP_PORT/api/trpc" >"$dir/gateway.log" 2>&1 &
pids+=($!)
up=http://127.0.0.1:$UP_PORT/api/trpc gw=http://127.0.0.1:$GW_PORT/api/trpc
for _ in $(seq 1 300); do
  curl -sf -o /dev/null "http://127.0.0.1:$GW_PORT/health" && curl -sf -o /dev/null "$up/project.all" && break
  sleep 0.1
done
eval "$(bash bench/setup.sh "http://127.0.0.1:$GW_PORT" admin)"
bearer=(-H "authorization: Bearer $TOKEN")
ten=$(printf 'project.all,%.0s' {1..10}); ten=${ten%,}
mixed="auth.get,$(printf 'project.all,%.0s' {1..9})"; mixed=${mixed%,}

# measure CONNS URL [wrk args]: "req/s p50_ms"
measure() {
  wrk -t1 -c"$1" -d"$DURATION" --latency "${@:3}" "$2" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { r = $2 } /^ +50%/ { p = ms($2) } END { printf "%.0f %.3f\n", r, p }'
}
wrk -t1 -c64 -d3s "$up/project.all" >/dev/null
wrk -t1 -c64 -d3s "${bearer[@]}" "$gw/project.all" >/dev/null
read -r direct direct_p50 < <(measure 64 "$up/project.all")
read -r anon anon_p50 < <(measure 64 "$gw/project.all")
read -r signed signed_p50 < <(measure 64 "$gw/project.all" "${bearer[@]}")
read -r direct1 direct1_p50 < <(measure 1 "$up/project.all")
read -r signed1 signed1_p50 < <(measure 1 "$gw/project.all" "${bearer[@]}")
read -r ten_direct ten_direct_p50 < <(measure 64 "$up/$ten?batch=1")
read -r ten_fwd ten_fwd_p50 < <(measure 64 "$gw/$ten?batch=1" "${bearer[@]}")
read -r mix mix_p50 < <(measure 64 "$gw/$mixed?batch=1" "${bearer[@]}")
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
{
  echo
  echo "### forwarding, $(date -u +%F) at $BUILD_LABEL, $DURATION per run"
  echo
  echo "| what | req/s | p50 ms |"
  echo "|---|---|---|"
  echo "| project.all direct, 64 conns | $direct | $direct_p50 |"
  echo "| through the gateway, anonymous | $anon ($(pct "$anon" "$direct")) | $anon_p50 |"
  echo "| through the gateway, Bearer (signed identity) | $signed ($(pct "$signed" "$direct")) | $signed_p50 |"
  echo "| direct, 1 conn | $direct1 | $direct1_p50 |"
  echo "| through the gateway, Bearer, 1 conn | $signed1 | $signed1_p50 (+$(awk -v a="$signed1_p50" -v b="$direct1_p50" 'BEGIN { printf "%.3f", a - b }')) |"
  echo "| batch of 10, direct | $ten_direct | $ten_direct_p50 |"
  echo "| batch of 10 forwarded, Bearer | $ten_fwd ($(pct "$ten_fwd" "$ten_direct")) | $ten_fwd_p50 |"
  echo "| auth.get + 9 forwarded, Bearer | $mix | $mix_p50 |"
} | tee -a "$RESULTS_FILE"
