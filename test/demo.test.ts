import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { imgtag } from './helpers/cli.js';
import { MOBILENET_TAGS, readRunResults } from './helpers/results.js';

test('imgtag demo: loopback S3, generated images, plan, run, summary with top tags', async () => {
  const run = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-demo-')), 'run');
  const res = await imgtag(['demo', '--count', '16', '--run', run]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /^images\s+16$/m);
  assert.match(res.stdout, /^error rows\s+0$/m);
  assert.match(res.stdout, /top tags\n\S/);
  const { rows } = await readRunResults(run);
  assert.equal(rows.length, 16);
  assert.ok(rows.every((r) => r.bucket === 'imgtag-demo' && Array.isArray(r[MOBILENET_TAGS])));
});
