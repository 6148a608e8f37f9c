#!/usr/bin/env bash
# The gateway's load benchmark (`make bench`): release build, loopback, wrk.
#
#   bash bench/run.sh                    # both backends, 20 s per scenario (~8 min per backend)
#   DURATION=5s bash bench/run.sh        # quick run
#   BACKENDS=postgres BUILD=0 bash bench/run.sh
#
# For each backend (SQLite in a temp dir; PostgreSQL in a fresh database gw_bench_<pid>,
# dropped at the end) it starts target/release/auth-gateway with bcrypt cost 10 and
# --log-level warn, prepares it through the public API (bench/setup.sh), and measures:
#   A  auth.get over tRPC (GET, superjson absent-input envelope, Bearer API token), 64 conns
#   B  one GET = a batch of 10 auth.get calls, 64 conns
#   C  auth.login (right password, bcrypt cost 10), 64 conns, from one client address, and
#      from 16 (X-Forwarded-For); the bound is cores x single-connection logins/s (wrk -c1,
#      same run: 1 / (bcrypt verify + request))
#   D  A and C at the same time (two wrk processes): auth.get p99 under login load
#   E  A at 1, 8, 64, 256 connections. Growth, with rows seeded directly with SQL and their
#      API tokens signed by bench_tokens (an example of gateway-server):
#      - cold path, 1 account: SEED API tokens of the admin, cycled (bench/cycle.lua), so that
#        each comes back only after all the others and every cache misses: each request
#        checks a signature and reads the store;
#      - SEED more accounts, each with a live session and an API token, and SEED expired
#        sessions (the admin's SEED tokens stay):
#        A again (warm: one token, answered from memory), the cold path over the SEED
#        accounts' tokens, and C again (logins of the same 4 accounts among them)
#   F  RSS: idle after setup (VmRSS), peak after A and the first cold path (full caches),
#      peak overall
# The reference peer (BACKENDS=peer, on PostgreSQL; PEER_DIR, by default
# ../shared/bench/peer) gets A and the same two cold cycles on the same seeded rows (its
# API token is its session id, so its tokens are the seeded ids).
# Output: the markdown table is printed and appended to RESULTS_FILE (bench/runs.md);
# raw wrk outputs and server logs stay in OUT (a new /tmp/gw-bench.XXXXXX).
#
# Settings (environment): DURATION (20s), BACKENDS ("sqlite postgres", plus "peer" when
# PEER_DIR exists), PORT (3090),
# WARMUP (3s), BOUND_DURATION (5s: the single-connection login run), SEED (100000),
# GROWTH_CONNS ("1 8 256"; 64 is A itself), IDLE_WAIT (60: seconds to wait for the machine
# to be < 15% busy before each run), WRK_THREADS (1), BUILD (1; 0 reuses the binary, but
# refuses one older than the sources), BIN and BIN_LABEL (another binary: bench/binary.sh),
# EXTRA_FLAGS (more `serve` flags), PG_URL (postgres://postgres@127.0.0.1:5432), OUT,
# RESULTS_FILE. Results are labelled with the commit the binary was built from, and
# "dirty" when the tree had uncommitted changes.
# Needs: cargo, curl, jq, wrk, ss; sqlite3 (SQLite seeding), psql (PostgreSQL); node (the
# peer). wrk and sqlite3 are installed with apt-get when missing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

DURATION=${DURATION:-20s}
PEER_DIR=${PEER_DIR:-$ROOT/../shared/bench/peer}
if [ -z "${BACKENDS:-}" ]; then
  BACKENDS="sqlite postgres"
  [ -x "$PEER_DIR/run.sh" ] && BACKENDS="$BACKENDS peer"
fi
PORT=${PORT:-3090}
WARMUP=${WARMUP:-3s}
BOUND_DURATION=${BOUND_DURATION:-5s}
SEED=${SEED:-100000}
GROWTH_CONNS=${GROWTH_CONNS:-1 8 256}
WRK_THREADS=${WRK_THREADS:-1}
EXTRA_FLAGS=${EXTRA_FLAGS:-}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
OUT=${OUT:-$(mktemp -d /tmp/gw-bench.XXXXXX)}
RESULTS_FILE=${RESULTS_FILE:-$ROOT/bench/runs.md}
BASE=http://127.0.0.1:$PORT
CONNS=64
mkdir -p "$OUT"

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[[ $DURATION =~ ^[0-9]+[smh]?$ ]] || die "DURATION must look like 20s, got '$DURATION'"

# ---- tools and build -------------------------------------------------------------------

apt_install() {
  log "installing $*"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
command -v wrk >/dev/null || apt_install wrk
[[ " $BACKENDS " == *" sqlite "* ]] && { command -v sqlite3 >/dev/null || apt_install sqlite3; }
for t in wrk curl jq ss; do command -v "$t" >/dev/null || die "$t is missing"; done
[[ " $BACKENDS " == *" postgres "* || " $BACKENDS " == *" peer "* ]] && { command -v psql >/dev/null || die "psql is missing"; }
[[ " $BACKENDS " == *" peer "* ]] && { [ -x "$PEER_DIR/run.sh" ] || die "no reference peer at $PEER_DIR (set PEER_DIR)"; }

# shellcheck source=bench/binary.sh
source "$ROOT/bench/binary.sh"
log "the gateway binary (BUILD=${BUILD:-1})"
BENCH_EXAMPLES=bench_tokens bench_binary "$ROOT" || die "no usable gateway binary"
TOKENS_BIN=$ROOT/target/release/examples/bench_tokens
[ -x "$TOKENS_BIN" ] || die "no $TOKENS_BIN (run with BUILD=1)"
log "measuring $BIN ($BUILD_LABEL)"

# ---- server lifecycle ------------------------------------------------------------------

SRV_PID=
DATA_DIR=
PG_DB=
cleanup() {
  local rc=$?
  stop_server
  [ -n "$PG_DB" ] && drop_pg_db
  [ -n "$DATA_DIR" ] && rm -rf "$DATA_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg() { PGOPTIONS='-c client_min_messages=warning' psql "$PG_URL/${1:-postgres}" -qAt -v ON_ERROR_STOP=1 "${@:2}"; }
drop_pg_db() { pg postgres -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true; PG_DB=; }

alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# start_server sqlite|postgres
start_server() {
  local backend=$1 url
  [ -z "$(ss -Hltn "sport = :$PORT")" ] || die "port $PORT is already in use (set PORT)"
  DATA_DIR=$(mktemp -d /tmp/gw-bench-data.XXXXXX)
  if [ "$backend" != sqlite ]; then
    PG_DB=gw_bench_$$
    pg postgres -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null
    pg postgres -c "CREATE DATABASE $PG_DB" >/dev/null
    url=$PG_URL/$PG_DB
  else
    url=sqlite://$DATA_DIR/gateway.db
  fi
  if [ "$backend" = peer ]; then
    # run.sh ends in `exec node`: the pid is the server's.
    PORT=$PORT DATABASE_URL=$url BCRYPT_COST=10 "$PEER_DIR/run.sh" >"$OUT/$backend/server.log" 2>&1 </dev/null &
  else
    # shellcheck disable=SC2086
    "$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$DATA_DIR" --database-url "$url" \
      --bcrypt-cost 10 --log-level warn --client-ip-header x-forwarded-for $EXTRA_FLAGS >"$OUT/$backend/server.log" 2>&1 </dev/null &
  fi
  SRV_PID=$!
  local deadline=$((SECONDS + 300))
  until curl -fsS -o /dev/null --max-time 2 "$BASE/health" 2>/dev/null; do
    alive "$SRV_PID" && [ $SECONDS -le $deadline ] || { tail -20 "$OUT/$backend/server.log" >&2; die "gateway did not start"; }
    sleep 0.2
  done
  log "$backend: gateway pid $SRV_PID on :$PORT ($url)"
}

stop_server() {
  [ -n "$SRV_PID" ] || return 0
  kill -TERM "$SRV_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do alive "$SRV_PID" || break; sleep 0.2; done
  { alive "$SRV_PID" && kill -KILL "$SRV_PID"; } 2>/dev/null || true   # (it may exit in between)
  wait "$SRV_PID" 2>/dev/null || true
  SRV_PID=
}

# ---- measurement helpers ---------------------------------------------------------------

TCK=$(getconf CLK_TCK)
NPROC=$(nproc)
rss_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$SRV_PID/status"; }
srv_ticks() { awk '{ print $14 + $15 }' "/proc/$SRV_PID/stat"; }

# Waits (up to 60 s) until the server used < 3 ticks of CPU in a second: queued logins
# (bcrypt) keep running after wrk stops and must not leak into the next run.
wait_server_idle() {
  local a b
  for _ in $(seq 1 60); do
    a=$(srv_ticks); sleep 1; b=$(srv_ticks)
    [ $((b - a)) -lt 3 ] && return 0
  done
  log "warning: the server is still busy after 60 s"
}

# Percent of the whole machine busy over one second.
machine_busy() {
  { head -1 /proc/stat; sleep 1; head -1 /proc/stat; } | awk '
    { t = $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; i = $5 + $6 }
    NR == 1 { t0 = t; i0 = i }
    NR == 2 { d = t - t0; printf "%d\n", (d > 0) ? 100 * (1 - (i - i0) / d) : 0 }'
}
# Waits (up to IDLE_WAIT s) for the machine to be under 15% busy: other work skews numbers.
BUSY_WARNINGS=0
wait_machine_idle() {
  local busy
  for _ in $(seq 1 "${IDLE_WAIT:-60}"); do
    busy=$(machine_busy)
    [ "$busy" -lt 15 ] && return 0
  done
  log "warning: the machine is still ${busy}% busy; measuring anyway"
  BUSY_WARNINGS=$((BUSY_WARNINGS + 1))
}

# run FILE wrk-args...: one wrk run into $OUT/$BK/FILE.txt, plus the server's CPU seconds
run() {
  local file=$OUT/$BK/$1.txt t0
  shift
  [ "${SKIP_IDLE:-0}" = 1 ] || wait_machine_idle
  t0=$(srv_ticks)
  wrk -t"$WRK_THREADS" --latency --timeout 30s "$@" >"$file"
  echo "server_cpu_s: $(awk -v a="$t0" -v b="$(srv_ticks)" -v t="$TCK" 'BEGIN { printf "%.2f", (b - a) / t }')" >>"$file"
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$file"
}

# field FILE rps|p50|p99|cpu_ms|non2xx|errors|requests : one number from a wrk output
field() {
  awk -v want="$2" '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /m$/) return substr(v, 1, length(v) - 1) * 60000
      if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
      return "nan"
    }
    /Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    / requests in / { req = $1 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { sub(/.*Socket errors: /, ""); errors = $0 }
    /^server_cpu_s:/ { cpu = $2 }
    END {
      if (want == "rps") print rps
      else if (want == "p50") printf "%.2f\n", p50
      else if (want == "p99") printf "%.2f\n", p99
      else if (want == "requests") print req
      else if (want == "non2xx") print non2xx + 0
      else if (want == "errors") print (errors == "" ? "none" : errors)
      else if (want == "cpu_ms") printf "%.3f\n", (req > 0 ? 1000 * cpu / req : 0)
    }' "$OUT/$BK/$1.txt"
}

ROWS=()
# row LABEL FILE [CALLS_PER_REQUEST]
row() {
  local f=$2 k=${3:-1} rps notes=""
  rps=$(field "$f" rps)
  [ "$k" -gt 1 ] && rps="$rps ($(awk -v r="$rps" -v k="$k" 'BEGIN { printf "%.0f", r * k }') calls/s)"
  [ "$(field "$f" non2xx)" != 0 ] && notes="$(field "$f" non2xx) non-2xx"
  [ "$(field "$f" errors)" != none ] && notes="$notes socket errors: $(field "$f" errors)"
  local cpu=""
  grep -q '^server_cpu_s:' "$OUT/$BK/$f.txt" && cpu=$(field "$f" cpu_ms)
  if [[ $f == d-get* ]]; then   # the server CPU of both streams over the requests of both
    cpu="$(awk -v c="$(field "$f" cpu_ms)" -v a="$(field "$f" requests)" -v b="$(field "${f/d-get/d-login}" requests)" \
      'BEGIN { printf "%.3f", c * a / (a + b) }') (pair)"
  fi
  ROWS+=("| $BK | $1 | $(grep -o -- '-c[0-9]*' "$OUT/$BK/$f.txt.cmd" | head -1 | cut -c3-) | $rps | $(field "$f" p50) | $(field "$f" p99) | $cpu | ${notes:-} |")
}
# wrk_run FILE args...: run + remember the command line for the table
wrk_run() { echo "wrk -t$WRK_THREADS --latency --timeout 30s ${*:2}" >"$OUT/$BK/$1.txt.cmd"; run "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# ---- seeding (E) -----------------------------------------------------------------------
# Rows go in with SQL, as an import would put them, and stay: the cold path at SEED accounts
# runs with the one account's SEED tokens still in the table. (Deleting them would need the
# gateway's SQLite: its triggers use functions newer than Debian's sqlite3.)

EXPIRES=$(($(date +%s) + 7 * 86400))

# sql BACKEND: runs standard input against the running server's database
sql() {
  if [ "$1" = sqlite ]; then
    { echo 'PRAGMA busy_timeout = 30000;'; cat; } | sqlite3 "$DATA_DIR/gateway.db" >/dev/null
  else
    pg "$PG_DB" >/dev/null
  fi
}
count_rows() {
  local q="SELECT (SELECT count(*) FROM auth) || ' accounts, ' || (SELECT count(*) FROM session) || ' session rows'"
  if [ "$1" = sqlite ]; then sqlite3 "$DATA_DIR/gateway.db" "$q"; else pg "$PG_DB" -c "$q"; fi
}
# series BACKEND: a FROM clause giving i = 1..SEED
series() {
  if [ "$1" = sqlite ]; then
    echo "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $SEED) SELECT i FROM n) AS s"
  else
    echo "generate_series(1, $SEED) AS s(i)"
  fi
}
# session_insert BACKEND ID_SQL AUTH_SQL KIND EXPIRES_UNIX: an INSERT of SEED session rows
# in that backend's schema (the peer keeps timestamps, the gateway unix seconds)
session_insert() {
  local bk=$1 id=$2 auth=$3 kind=$4 expires=$5 created
  if [ "$bk" = peer ]; then
    echo "INSERT INTO session (id, \"authId\", kind, \"expiresAt\") SELECT $id, $auth, '$kind', to_timestamp($expires) FROM $(series "$bk");"
  else
    created="(SELECT \"createdAt\" FROM auth ORDER BY \"createdAt\" LIMIT 1)"
    echo "INSERT INTO session (id, \"authId\", kind, \"expiresAt\", \"createdAt\") SELECT $id, $auth, '$kind', $expires, $created FROM $(series "$bk");"
  fi
}

# seed_one_account BACKEND AUTH_ID: SEED API tokens of one account
seed_one_account() {
  { echo "BEGIN;"; session_insert "$1" "'seed-one-api-' || i" "'$2'" api_token "$EXPIRES"; echo "COMMIT;"; } | sql "$1"
}

# seed_accounts BACKEND: SEED accounts, each with a live session and an API token, and SEED
# expired sessions of theirs
seed_accounts() {
  local bk=$1 no=false now
  [ "$bk" = sqlite ] && no=0
  now=$(date +%s)
  {
    echo "BEGIN;"
    echo "INSERT INTO auth (id, email, password, rol, \"is2FAEnabled\", \"createdAt\")
      SELECT 'seed-' || i, 'seed-' || i || '@bench.test', (SELECT password FROM auth LIMIT 1), 'user', $no,
             (SELECT \"createdAt\" FROM auth LIMIT 1) FROM $(series "$bk");"
    session_insert "$bk" "'seed-session-' || i" "'seed-' || i" session "$EXPIRES"
    session_insert "$bk" "'seed-api-' || i" "'seed-' || i" api_token "$EXPIRES"
    session_insert "$bk" "'seed-dead-' || i" "'seed-' || i" session "$((now - 3600))"
    echo "COMMIT;"
    [ "$bk" = sqlite ] && echo "ANALYZE;" || echo "ANALYZE auth; ANALYZE session;"
  } | sql "$bk"
}

# tokens BACKEND FILE SESSION_PREFIX (--account ID | --accounts PREFIX): the API tokens of
# the seeded sessions SESSION_PREFIX1..SEED, one per line
tokens() {
  local bk=$1 file=$2 prefix=$3
  if [ "$bk" = peer ]; then
    seq -f "$prefix%.0f" 1 "$SEED" >"$file"   # the peer's API token is its session id
  else
    "$TOKENS_BIN" --data-dir "$DATA_DIR" --sessions "$prefix" --count "$SEED" --expires-at "$EXPIRES" "${@:4}" >"$file"
  fi
  [ "$(wc -l <"$file")" = "$SEED" ] || die "$bk: $file does not hold $SEED tokens"
}

# cold LABEL FILE TOKENS_FILE: the cold path over the tokens, after checking one of them
cold() {
  local label=$1 f=$2 file=$3 code
  code=$(curl -s -o "$OUT/$BK/sanity.json" -w '%{http_code}' -H "Authorization: Bearer $(tail -1 "$file")" "$GET_URL")
  [ "$code" = 200 ] || die "$BK: a seeded token got $code: $(cat "$OUT/$BK/sanity.json")"
  log "$BK: E $label, $CONNS conns, $DURATION"
  TOKENS_FILE=$file wrk_run "$f" -c$CONNS -d"$DURATION" -s bench/cycle.lua "$GET_URL"
  row "E $label" "$f"
  wait_server_idle
}

# ---- one backend -----------------------------------------------------------------------

ENVELOPE='{"json":null,"meta":{"values":["undefined"],"v":1}}'
urlenc() { jq -rn --arg s "$1" '$s | @uri'; }
GET_URL="$BASE/api/trpc/auth.get?input=$(urlenc "$ENVELOPE")"
batch_input="{$(for i in 0 1 2 3 4 5 6 7 8 9; do [ "$i" = 0 ] || printf ,; printf '"%d":%s' "$i" "$ENVELOPE"; done)}"
BATCH_URL="$BASE/api/trpc/$(printf 'auth.get,%.0s' 1 2 3 4 5 6 7 8 9)auth.get?batch=1&input=$(urlenc "$batch_input")"
LOGIN_URL="$BASE/api/trpc/auth.login"
COLD_1="cold path: $SEED tokens of 1 account"
COLD_N="cold path: tokens of $SEED accounts"

SUMMARY=()
bench_backend() {
  BK=$1
  mkdir -p "$OUT/$BK"
  wait_machine_idle
  start_server "$BK"
  eval "$(bench/setup.sh "$BASE" admin)"
  local auth="Authorization: Bearer $TOKEN" code admin_id
  for url in "$GET_URL" "$BATCH_URL"; do
    code=$(curl -s -o "$OUT/$BK/sanity.json" -w '%{http_code}' -H "$auth" "$url")
    [ "$code" = 200 ] || die "$BK: GET $url -> $code: $(cat "$OUT/$BK/sanity.json")"
  done
  admin_id=$(curl -s -H "$auth" "$GET_URL" | jq -er '.result.data.json.id')
  sleep 1
  local idle_kb; idle_kb=$(rss_kb VmRSS)
  log "$BK: idle RSS ${idle_kb} kB; warm-up $WARMUP"
  wrk -t1 -c"$CONNS" -d"$WARMUP" -H "$auth" "$GET_URL" >/dev/null
  wait_server_idle

  log "$BK: A auth.get, $CONNS conns, $DURATION"
  wrk_run a-c$CONNS -c$CONNS -d"$DURATION" -H "$auth" "$GET_URL"
  row "A auth.get (1 account)" a-c$CONNS
  wait_server_idle
  if [ "$BK" != peer ]; then
    log "$BK: B batch of 10"
    wrk_run b-c$CONNS -c$CONNS -d"$DURATION" -H "$auth" "$BATCH_URL"
    row "B batch of 10 auth.get" b-c$CONNS 10
    wait_server_idle
    for c in $GROWTH_CONNS; do
      log "$BK: E auth.get at $c conns"
      wrk_run a-c"$c" -c"$c" -d"$DURATION" -H "$auth" "$GET_URL"
      row "E auth.get" a-c"$c"
      wait_server_idle
    done
  fi

  log "$BK: E seeding $SEED API tokens of the admin"
  seed_one_account "$BK" "$admin_id"
  tokens "$BK" "$OUT/$BK/tokens-1.txt" seed-one-api- --account "$admin_id"
  count_rows "$BK" | tee "$OUT/$BK/seed-1.txt" >&2
  cold "$COLD_1" e-cold-1 "$OUT/$BK/tokens-1.txt"
  local hwm_a_kb; hwm_a_kb=$(rss_kb VmHWM)

  if [ "$BK" != peer ]; then
    eval "$(bench/setup.sh "$BASE" users 4)"
    export LOGIN_EMAILS LOGIN_PASSWORD
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
      -d "{\"json\":{\"email\":\"${LOGIN_EMAILS%% *}\",\"password\":\"$LOGIN_PASSWORD\"}}" "$LOGIN_URL")
    [ "$code" = 200 ] || die "$BK: POST auth.login -> $code"
    log "$BK: C bound: logins on 1 connection, $BOUND_DURATION"
    wrk_run c-c1 -c1 -d"$BOUND_DURATION" -s bench/login.lua "$LOGIN_URL"
    row "C bound: auth.login, 1 conn" c-c1
    wait_server_idle
    log "$BK: C auth.login, $CONNS conns"
    wrk_run c-c$CONNS -c$CONNS -d"$DURATION" -s bench/login.lua "$LOGIN_URL"
    row "C auth.login (4 accounts)" c-c$CONNS
    wait_server_idle
    log "$BK: C auth.login from 16 client addresses, $CONNS conns"
    export LOGIN_ADDRESSES=16
    wrk_run c16-c$CONNS -c$CONNS -d"$DURATION" -s bench/login.lua "$LOGIN_URL"
    unset LOGIN_ADDRESSES
    row "C auth.login, 16 client addresses" c16-c$CONNS
    wait_server_idle
    log "$BK: D auth.get while logins run"
    wait_machine_idle
    echo "wrk -t$WRK_THREADS --latency --timeout 30s -c$CONNS -d$DURATION -s bench/login.lua $LOGIN_URL" >"$OUT/$BK/d-login-c$CONNS.txt.cmd"
    wrk -t"$WRK_THREADS" --latency --timeout 30s -c$CONNS -d"$DURATION" -s bench/login.lua "$LOGIN_URL" >"$OUT/$BK/d-login-c$CONNS.txt" &
    local login_pid=$!
    sleep 1   # let the logins saturate the cores first
    SKIP_IDLE=1 wrk_run d-get-c$CONNS -c$CONNS -d"$DURATION" -H "$auth" "$GET_URL"
    wait "$login_pid"
    row "D auth.get while C runs" d-get-c$CONNS
    row "D the logins beside it" d-login-c$CONNS
    wait_server_idle
  fi

  log "$BK: E seeding $SEED accounts, each with a live session and an API token, and $SEED expired sessions"
  local t0=$SECONDS
  seed_accounts "$BK"
  tokens "$BK" "$OUT/$BK/tokens-n.txt" seed-api- --accounts seed-
  { count_rows "$BK"; echo "seed time: $((SECONDS - t0)) s (signing the tokens included)"; } | tee "$OUT/$BK/seed.txt" >&2
  wait_server_idle
  wrk -t1 -c"$CONNS" -d"$WARMUP" -H "$auth" "$GET_URL" >/dev/null
  wait_server_idle
  log "$BK: E auth.get with $SEED more accounts, $CONNS conns"
  wrk_run e-c$CONNS -c$CONNS -d"$DURATION" -H "$auth" "$GET_URL"
  row "E A at $SEED accounts (warm: 1 token)" e-c$CONNS
  wait_server_idle
  cold "$COLD_N" e-cold-n "$OUT/$BK/tokens-n.txt"
  if [ "$BK" != peer ]; then
    log "$BK: C auth.login with $SEED more accounts, $CONNS conns"
    wrk_run e-login-c$CONNS -c$CONNS -d"$DURATION" -s bench/login.lua "$LOGIN_URL"
    row "E C at $SEED accounts (4 accounts' logins)" e-login-c$CONNS
    wait_server_idle
  fi
  local hwm_kb; hwm_kb=$(rss_kb VmHWM)
  [ "$hwm_kb" -ge "$hwm_a_kb" ] || hwm_kb=$hwm_a_kb   # (VmHWM is sampled lazily by the kernel)
  alive "$SRV_PID" || die "$BK: the server died"
  stop_server
  [ -n "$PG_DB" ] && drop_pg_db
  rm -rf "$DATA_DIR"; DATA_DIR=

  # Derived figures
  local a_rps a_p99 e_rps e_p99 cold1 coldn
  a_rps=$(field a-c$CONNS rps); a_p99=$(field a-c$CONNS p99)
  e_rps=$(field e-c$CONNS rps); e_p99=$(field e-c$CONNS p99)
  cold1=$(field e-cold-1 rps); coldn=$(field e-cold-n rps)
  SUMMARY+=("| $BK | A: auth.get req/s, p99 (64 conns) | $a_rps req/s, p99 $a_p99 ms |")
  SUMMARY+=("| $BK | E warm: A at $SEED accounts / A at 1 account | req/s $(ratio "$e_rps" "$a_rps")x, p99 $e_p99 vs $a_p99 ms |")
  SUMMARY+=("| $BK | E cold: $COLD_1 | $cold1 req/s, p99 $(field e-cold-1 p99) ms, $(field e-cold-1 cpu_ms) ms CPU/req |")
  SUMMARY+=("| $BK | E cold: $COLD_N | $coldn req/s, p99 $(field e-cold-n p99) ms, $(field e-cold-n cpu_ms) ms CPU/req |")
  SUMMARY+=("| $BK | E cold at $SEED accounts / cold at 1 account (goal ≥ 0.90) | $(ratio "$coldn" "$cold1")x |")
  if [ "$BK" = peer ]; then
    PEER_COLD_1=$cold1 PEER_COLD_N=$coldn
  else
    COLD_1_OF[$BK]=$cold1 COLD_N_OF[$BK]=$coldn
    local c1 bound c_rps d_p99
    c1=$(field c-c1 rps); bound=$(awk -v r="$c1" -v n="$NPROC" 'BEGIN { printf "%.1f", r * n }')
    c_rps=$(field c-c$CONNS rps); d_p99=$(field d-get-c$CONNS p99)
    SUMMARY+=("| $BK | B: batch req/s (64 conns) | $(field b-c$CONNS rps) req/s = $(awk -v r="$(field b-c$CONNS rps)" 'BEGIN { printf "%.0f", r * 10 }') calls/s |")
    SUMMARY+=("| $BK | C: bcrypt bound = $NPROC cores x $c1 logins/s on 1 conn ($(awk -v r="$c1" 'BEGIN { printf "%.1f", 1000 / r }') ms each) | $bound logins/s; measured $c_rps = $(awk -v a="$c_rps" -v b="$bound" 'BEGIN { printf "%.0f", 100 * a / b }')% of the bound |")
    SUMMARY+=("| $BK | E: C at $SEED accounts / C at 4 accounts (goal ≥ 0.90) | $(field e-login-c$CONNS rps) / $c_rps logins/s = $(ratio "$(field e-login-c$CONNS rps)" "$c_rps")x |")
    SUMMARY+=("| $BK | D: p99 of auth.get under login load / p99 of A | $d_p99 / $a_p99 ms = $(ratio "$d_p99" "$a_p99")x ($(field d-get-c$CONNS rps) req/s beside $(field d-login-c$CONNS rps) logins/s) |")
    for c in $GROWTH_CONNS; do
      SUMMARY+=("| $BK | E: A at $c conns / A at 64 conns | req/s $(ratio "$(field a-c"$c" rps)" "$a_rps")x, p99 $(field a-c"$c" p99) ms |")
    done
  fi
  SUMMARY+=("| $BK | F: RSS idle after setup / peak after the A runs and the first cold path / peak overall | $(awk -v k="$idle_kb" 'BEGIN { printf "%.1f", k / 1024 }') / $(awk -v k="$hwm_a_kb" 'BEGIN { printf "%.1f", k / 1024 }') / $(awk -v k="$hwm_kb" 'BEGIN { printf "%.1f", k / 1024 }') MB |")
}

declare -A COLD_1_OF=() COLD_N_OF=()
PEER_COLD_1= PEER_COLD_N=

START=$(date -u +%FT%TZ)
log "results in $OUT; $NPROC cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for backend in $BACKENDS; do
  case $backend in sqlite | postgres | peer) bench_backend "$backend" ;; *) die "unknown backend $backend" ;; esac
done
if [ -n "$PEER_COLD_N" ]; then
  for bk in "${!COLD_N_OF[@]}"; do
    SUMMARY+=("| $bk | E cold: gateway / peer on the same cycling (goal ≥ 5) | 1 account $(ratio "${COLD_1_OF[$bk]}" "$PEER_COLD_1")x, $SEED accounts $(ratio "${COLD_N_OF[$bk]}" "$PEER_COLD_N")x |")
  done
fi

{
  echo ""
  echo "## $START — $BUILD_LABEL"
  echo ""
  echo "Machine: $NPROC x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM."
  echo "Binary: $BIN ($BUILD_LABEL)."
  echo "Command: \`DURATION=$DURATION BACKENDS=\"$BACKENDS\" bash bench/run.sh\`; wrk $(wrk -v 2>&1 | head -1 | awk '{ print $2 }') -t$WRK_THREADS; raw outputs: $OUT."
  [ "$BUSY_WARNINGS" -gt 0 ] && echo "WARNING: $BUSY_WARNINGS run(s) started while the machine was >15% busy with other work."
  echo ""
  echo "| backend | scenario | conns | req/s | p50 ms | p99 ms | server CPU ms/req | notes |"
  echo "|---|---|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${ROWS[@]}"
  echo ""
  echo "| backend | figure | value |"
  echo "|---|---|---|"
  printf '%s\n' "${SUMMARY[@]}"
} | tee -a "$RESULTS_FILE"
log "appended to $RESULTS_FILE; raw outputs in $OUT"
