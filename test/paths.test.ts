import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { imgtag } from './helpers/cli.js';
import { photoPaths } from './helpers/planned.js';

/** A folder with six photos in photos/: the commands below run in it with relative paths, as the README writes them. */
function workdir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-paths-'));
  fs.mkdirSync(path.join(dir, 'photos'));
  for (const p of photoPaths(0, 6)) fs.copyFileSync(p, path.join(dir, 'photos', path.basename(p)));
  return dir;
}

async function ok(args: string[], cwd: string): Promise<string> {
  const res = await imgtag(args, process.env, cwd);
  assert.equal(res.code, 0, `imgtag ${args.join(' ')} in ${cwd}: ${res.stderr}`);
  return res.stdout;
}

test('a relative --run is the same run as its absolute path: verify and report agree from any folder', async () => {
  const dir = workdir();
  await ok(['plan', '--prefix', './photos', '--run', './runs/r1', '--shard-size', '3'], dir);
  await ok(['run', '--run', './runs/r1', '--progress', 'none'], dir);
  const abs = path.join(dir, 'runs', 'r1');
  const elsewhere = os.tmpdir();
  const verified = [await ok(['verify', '--run', './runs/r1'], dir), await ok(['verify', '--run', 'runs/r1'], dir), await ok(['verify', '--run', abs], elsewhere)];
  for (const v of verified) assert.match(v, /1 file\b.*6 rows/, v);
  // The report's own lines, not its "run" and "reports" rows that repeat the path as given.
  const body = (out: string) => out.split('\n').filter((l) => /^(state|images done|error rows|cost so far)/.test(l));
  const [rel, full] = [await ok(['report', '--run', './runs/r1'], dir), await ok(['report', '--run', abs], elsewhere)];
  assert.deepEqual(body(rel), body(full));
  assert.match(rel, /^state\s+complete$/m);
});

test('a relative nightly --root: current names the same table given relative or absolute', async () => {
  const dir = workdir();
  await ok(['nightly', '--root', './nightly', '--prefix', './photos', '--shard-size', '3', '--progress', 'none'], dir);
  const rel = await ok(['current', '--root', './nightly'], dir);
  const full = await ok(['current', '--root', path.join(dir, 'nightly')], os.tmpdir());
  assert.equal(rel, full);
  assert.match(rel, /^rows\s+6$/m);
  assert.match(rel, new RegExp(`^location\\s+${path.join(dir, 'nightly', 'current')}`, 'm'));
});
