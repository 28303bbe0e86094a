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

test("README's settings table names every variable src/settings.ts reads, and no other; no other module reads IMGTAG_*", () => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const readme = fs.readFileSync(`${root}README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('### Settings: environment variables'), readme.indexOf('## Benchmarks'));
  assert.deepEqual([...section.matchAll(/^\| `(IMGTAG_\w+)`/gm)].map((m) => m[1]), VARIABLES.map((v) => v.name));
  const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : []));
  const readers = [...walk(`${root}src`), ...walk(`${root}cli`)].filter((f) => /process\.env(\.IMGTAG_|\[)/.test(fs.readFileSync(f, 'utf8')));
  assert.deepEqual(readers.map((f) => f.slice(root.length)).filter((f) => f !== 'cli/common/progress.ts'), []);
});
