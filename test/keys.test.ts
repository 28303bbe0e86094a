import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { writeBytes } from '../src/storage/storage.js';
import { imgtag } from './helpers/cli.js';
import { IMAGENET_DIR, imagenetFiles } from './helpers/env.js';
import { MOBILENET_TAGS, readRunResults } from './helpers/results.js';
import { newBucket, testS3 } from './helpers/s3.js';

const KEYS = ['with space/a b.jpg', 'ünïcödé/ø 猫.jpg', 'percent/100%25 %.jpg', 'plus/c+d.jpg', 'dots/x/../y.jpg', '/leading-slash.jpg'];

test('keys with spaces, unicode, %, +, .. and a leading / are kept verbatim, one row each', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('keys');
  const photo = fs.readFileSync(path.join(IMAGENET_DIR, imagenetFiles()[5]!));
  for (const key of KEYS) {
    // s3rver cannot store a key with a leading "/" (real S3 can): that object stays missing.
    await writeBytes(`s3://${bucket}/${key}`, photo).catch((e) => assert.equal(key, '/leading-slash.jpg', String(e)));
  }
  const csv = 'bucket,key\n' + KEYS.map((k) => `${bucket},"${k}"`).join('\n');
  await writeBytes(`s3://${bucket}/keys.csv`, csv);
  const run = `s3://${bucket}/run`;
  assert.equal((await imgtag(['plan', '--manifest', `s3://${bucket}/keys.csv`, '--run', run], s3.env)).code, 0);
  const res = await imgtag(['run', '--run', run], s3.env);
  assert.ok(res.code === 0 || res.code === 2, res.stderr);
  const { rows } = await readRunResults(run);
  assert.deepEqual(rows.map((r) => r.key).sort(), [...KEYS].sort());
  const tagged = rows.filter((r) => Array.isArray(r[MOBILENET_TAGS])).map((r) => r.key);
  assert.deepEqual(tagged.filter((k) => k !== '/leading-slash.jpg').sort(), KEYS.filter((k) => k !== '/leading-slash.jpg').sort());
  for (const r of rows.filter((r) => r.error)) assert.equal((r.error as { stage: string }).stage, 'fetch');
});
