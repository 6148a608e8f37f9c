#!/usr/bin/env bash
# Usage: bash tests/skipped.sh COMMAND...
# Runs COMMAND with an empty TEST_SKIP_LOG, where each test that cannot run here writes
# "skipped: <test>: <reason>" (gateway_store::testing::skip, tests/clients/skip.mjs); then
# lists those lines, clears the file and exits as COMMAND did.
set -uo pipefail
log=${TEST_SKIP_LOG:?TEST_SKIP_LOG names the file tests record their skips in}
mkdir -p "$(dirname "$log")"
rm -f "$log"
"$@"
rc=$?
if [ -s "$log" ]; then
  # A test that makes two databases says it twice.
  sort -u "$log" -o "$log"
  printf '\n=== Skipped: %d (they passed without running; under CI they fail)\n' "$(wc -l <"$log")"
  cat "$log"
else
  printf '\n=== Nothing skipped\n'
fi
rm -f "$log"
exit $rc
