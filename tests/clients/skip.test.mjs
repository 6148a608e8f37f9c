// skip.mjs in real processes: with CI=1 a skip fails, naming what and why, and records
// nothing; without CI (or with it empty) it passes and its line is in TEST_SKIP_LOG.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./skip.mjs', import.meta.url));

function run(ci, log) {
  const env = { ...process.env, TEST_SKIP_LOG: log };
  delete env.CI;
  if (ci !== undefined) env.CI = ci;
  return spawnSync(process.execPath, [script, 'the probe', 'no frobnicator on this machine'], { env, encoding: 'utf8' });
}

test('a skip fails under CI and is recorded elsewhere', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-skip-'));
  try {
    const log = join(dir, 'skipped.txt');
    const failed = run('1', log);
    assert.equal(failed.status, 1, failed.stderr);
    assert.match(failed.stderr, /the probe cannot run: no frobnicator on this machine/);
    assert.ok(!existsSync(log), 'a failure is not recorded as a skip');

    for (const ci of [undefined, '']) {
      const skipped = run(ci, log);
      assert.equal(skipped.status, 0, `CI=${ci}: ${skipped.stderr}`);
      assert.match(skipped.stderr, /skipped: the probe: no frobnicator/);
    }
    assert.equal(readFileSync(log, 'utf8'), 'skipped: the probe: no frobnicator on this machine\n'.repeat(2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
