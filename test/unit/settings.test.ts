import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readSettings, VARIABLES } from '../../src/settings.js';

test('settings: defaults when unset; values parsed; a bad value refused by its name', () => {
  const d = readSettings({});
  assert.equal(d.leaseTtlMs, 120_000);
  assert.equal(d.hedgeMs, 500);
  assert.equal(d.leanGet, true);
  assert.equal(d.planNative, true);
  assert.equal(d.jpeg, 'fast');
  assert.equal(d.planThreads, undefined);
  const s = readSettings({ IMGTAG_HEDGE_MS: '0', IMGTAG_LEAN_GET: '0', IMGTAG_PLAN_THREADS: '3', IMGTAG_JPEG: 'sharp', IMGTAG_MODEL_DIR: '/m', IMGTAG_DEBUG: '1', IMGTAG_HEARTBEAT_S: '0.3' });
  assert.deepEqual([s.hedgeMs, s.leanGet, s.planThreads, s.jpeg, s.modelDir, s.debug, s.heartbeatSeconds], [0, false, 3, 'sharp', '/m', true, 0.3]);
  assert.throws(() => readSettings({ IMGTAG_HEDGE_READS: '0' }), /IMGTAG_HEDGE_READS="0" is not a whole number >= 1/);
  assert.throws(() => readSettings({ IMGTAG_LEASE_TTL_MS: 'two minutes' }), /IMGTAG_LEASE_TTL_MS="two minutes" is not milliseconds/);
  assert.throws(() => readSettings({ IMGTAG_PLAN_THREADS: '1.5' }), /IMGTAG_PLAN_THREADS/);
  assert.throws(() => readSettings({ IMGTAG_LEAN_GET: 'no' }), /IMGTAG_LEAN_GET="no" is not 1 or 0/);
  assert.throws(() => readSettings({ IMGTAG_JPEG: 'turbo' }), /IMGTAG_JPEG="turbo"/);
});

/** Every .ts file under a folder. */
const walkTs = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walkTs(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : []));

test("README's settings table names every variable src/settings.ts reads, and no other; no other module reads IMGTAG_*; the tests' own variables have a table too", () => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const readme = fs.readFileSync(`${root}README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('### Settings: environment variables'), readme.indexOf('#### For the test suite'));
  assert.deepEqual([...section.matchAll(/^\| `(IMGTAG_\w+)`/gm)].map((m) => m[1]), VARIABLES.map((v) => v.name));
  // The tests' own variables (test/, scripts/) have a table of their own below it.
  const tests = readme.slice(readme.indexOf('#### For the test suite'), readme.indexOf('## Benchmarks'));
  const program = new Set(VARIABLES.map((v) => v.name));
  const testFiles = [...walkTs(`${root}test`), ...walkTs(`${root}scripts`)];
  const read = new Set(testFiles.flatMap((f) => [...fs.readFileSync(f, 'utf8').matchAll(/\bIMGTAG_[A-Z0-9_]+/g)].map((m) => m[0]).filter((n) => !program.has(n))));
  assert.deepEqual([...tests.matchAll(/^\| `(IMGTAG_\w+)`/gm)].map((m) => m[1]).sort(), [...read].sort());
  const readers = [...walkTs(`${root}src`), ...walkTs(`${root}cli`)].filter((f) => /process\.env(\.IMGTAG_|\[)/.test(fs.readFileSync(f, 'utf8')));
  assert.deepEqual(readers.map((f) => f.slice(root.length)).filter((f) => f !== 'cli/common/progress.ts'), []);
});
