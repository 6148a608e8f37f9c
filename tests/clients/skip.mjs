// What a client test does when something it needs (a PostgreSQL server) is missing here:
// the one place that decides, as gateway_store::testing::skip does for the Rust tests.
// Under CI (CI set and not empty) it fails; elsewhere the test is skipped, and says so on
// stderr and in the file TEST_SKIP_LOG names (`make test` lists that file at its end).
//
// As a command, for run.sh: `node skip.mjs WHAT REASON` (exits 1 under CI).
import { appendFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Whether a missing prerequisite fails rather than skips, from the environment `env`. */
export function missingFails(env = process.env) {
  return typeof env.CI === 'string' && env.CI !== '';
}

/**
 * Says that `what` (a test file, a run) cannot run here because of `reason`. Under CI it
 * throws; elsewhere it prints and records `skipped: <what>: <reason>` and returns the
 * reason (node:test's `skip` option takes it).
 */
export function skip(what, reason, env = process.env) {
  if (missingFails(env)) throw new Error(`${what} cannot run: ${reason} (CI is set, and under CI nothing is skipped)`);
  const line = `skipped: ${what}: ${reason}`;
  console.error(line);
  if (env.TEST_SKIP_LOG) appendFileSync(env.TEST_SKIP_LOG, `${line}\n`);
  return reason;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [what, reason] = process.argv.slice(2);
  try {
    skip(what, reason);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
