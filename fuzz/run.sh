#!/usr/bin/env bash
# Runs every cargo-fuzz (libFuzzer) target for SECONDS each (default 60) from the checked-in
# seed corpus, and fails on any crash, panic, timeout or out-of-memory. Prints each
# target's executions. Usage: bash fuzz/run.sh [SECONDS] [TARGET...]
#
# Environment: FUZZ_SANITIZER (address, the default; or none: faster, finds panics only),
# FUZZ_JOBS (parallel libFuzzer processes per target, default 1).
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:-60}
shift $(( $# > 0 ? 1 : 0 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(trpc_request superjson query_coercion token hostile_token upstream_answer user_agent)
sanitizer=${FUZZ_SANITIZER:-address}
jobs=${FUZZ_JOBS:-1}

# cargo-fuzz passes nightly -Z flags (sanitizer, coverage passes); the machine's stable
# toolchain accepts them with RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1
if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked
fi

cargo fuzz build -O -s "$sanitizer"

declare -A dict=([trpc_request]=dict/json.dict [superjson]=dict/json.dict [query_coercion]=dict/query.dict [token]=dict/token.dict [hostile_token]=dict/datalog.dict [upstream_answer]=dict/json.dict)
mkdir -p logs
failed=()
summary=()
for t in "${targets[@]}"; do
  mkdir -p "corpus-work/$t" "artifacts/$t"
  log="logs/$t.log"
  args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -max_len=65536)
  [ -n "${dict[$t]:-}" ] && args+=(-dict="${dict[$t]}")
  [ "$jobs" -gt 1 ] && args+=(-fork="$jobs")
  echo "=== fuzz $t for ${seconds}s ($sanitizer sanitizer)"
  set +e
  # corpus-work/ gets the inputs the fuzzer finds; corpus/ holds the checked-in seeds.
  cargo fuzz run -O -s "$sanitizer" "$t" "corpus-work/$t" "corpus/$t" -- "${args[@]}" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | awk '{n += $2} END {if (NR) print n}' || true)
  rate=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | awk '{n += $2} END {if (NR) print n}' || true)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 || true)
  line="$t: ${execs:-?} executions (${rate:-?}/s), ${cov:-cov: ?}, exit $rc"
  summary+=("$line")
  echo "$line"
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    echo "--- $t failed: the end of $log:"
    tail -60 "$log"
    ls -1 "artifacts/$t" | sed "s|^|    artifact: fuzz/artifacts/$t/|"
  fi
done

echo
echo "=== fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run -O -s $sanitizer TARGET fuzz/artifacts/TARGET/FILE)"
  exit 1
fi
