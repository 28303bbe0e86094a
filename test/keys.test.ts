import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { listObjects, readText, writeBytes } from '../src/storage/storage.js';
import { imgtag } from './helpers/cli.js';
import { IMAGENET_DIR, imagenetFiles } from './helpers/env.js';
import { MOBILENET_TAGS, readRunResults } from './helpers/results.js';
import { newBucket, testS3 } from './helpers/s3.js';

const KEYS = ['with space/a b.jpg', 'ünïcödé/ø 猫.jpg', 'percent/100%25 %.jpg', 'plus/c+d.jpg', "marks/(it's)!*~.jpg", 'dots/x/../y.jpg', '/leading-slash.jpg'];

test('keys with spaces, unicode, %, + and a leading / are kept verbatim, one row each; a key with a .. segment is a row, never fetched', async () => {
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
  // With the opt-in lean GET path, whose key encoding this checks.
  const res = await imgtag(['run', '--run', run], { ...s3.env, IMGTAG_LEAN_GET: '1' });
  assert.equal(res.code, 0, res.stderr);
  const { rows } = await readRunResults(run);
  assert.deepEqual(rows.map((r) => r.key).sort(), [...KEYS].sort());
  const tagged = rows.filter((r) => Array.isArray(r[MOBILENET_TAGS])).map((r) => r.key);
  const fetched = KEYS.filter((k) => k !== '/leading-slash.jpg' && k !== 'dots/x/../y.jpg');
  assert.deepEqual(tagged.sort(), fetched.sort());
  for (const r of rows.filter((r) => r.error)) assert.equal((r.error as { stage: string }).stage, 'fetch');
  // Every GET answered on its first, lean attempt (signed here, not by the SDK): a key it encoded
  // wrongly would be refused (403) and sent again through the SDK, a retry the markers count. The
  // one retry is the leading-slash key, which s3rver answers with something other than NoSuchKey.
  let retries = 0;
  for await (const o of listObjects(`${run}/commits/`)) retries += (JSON.parse(await readText(o.uri)) as { s3: { retries: number } }).s3.retries;
  assert.equal(retries, 1);
  const dots = rows.find((r) => r.key === 'dots/x/../y.jpg')!;
  assert.match((dots.error as { message: string }).message, /has a "\." or "\.\." path segment, which HTTP layers rewrite into another object's name: not fetched/);
});

test('a key that climbs out with .. (or sits still with .) never returns another object\'s bytes', async () => {
  const s3 = await testS3();
  const [photos, other] = [await newBucket('dots'), await newBucket('private')];
  const photo = (i: number) => fs.readFileSync(path.join(IMAGENET_DIR, imagenetFiles()[i]!));
  await writeBytes(`s3://${other}/secret.jpg`, photo(7));
  await writeBytes(`s3://${photos}/img/x.jpg`, photo(8));
  await writeBytes(`s3://${photos}/keys.txt`, `../${other}/secret.jpg\nimg/./x.jpg\nimg/x.jpg\n`);
  const run = `s3://${photos}/run`;
  assert.equal((await imgtag(['plan', '--manifest', `s3://${photos}/keys.txt`, '--bucket', photos, '--run', run], s3.env)).code, 0);
  const res = await imgtag(['run', '--run', run], s3.env);
  assert.equal(res.code, 0, res.stderr);
  const { rows } = await readRunResults(run);
  const byKey = new Map(rows.map((r) => [String(r.key), r]));
  for (const key of [`../${other}/secret.jpg`, 'img/./x.jpg']) {
    const r = byKey.get(key)!;
    assert.ok(!Array.isArray(r[MOBILENET_TAGS]), `${key} is not tagged`);
    assert.equal(r.etag, null, `${key} carries no other object's ETag`);
    assert.equal((r.error as { stage: string }).stage, 'fetch');
  }
  assert.ok(Array.isArray(byKey.get('img/x.jpg')![MOBILENET_TAGS]));
});

test('--max-bytes refuses an oversized object before reading it: from the listing\'s size, or from the response\'s length', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('maxbytes');
  await writeBytes(`s3://${bucket}/img/big.jpg`, Buffer.alloc(3_000_000, 0xff));
  await writeBytes(`s3://${bucket}/img/small.jpg`, fs.readFileSync(path.join(IMAGENET_DIR, imagenetFiles()[9]!)));
  await writeBytes(`s3://${bucket}/keys.txt`, 'img/big.jpg\nimg/small.jpg\n');
  for (const source of [['--prefix', `s3://${bucket}/img/`], ['--manifest', `s3://${bucket}/keys.txt`, '--bucket', bucket]]) {
    const run = `s3://${bucket}/run-${source[0]!.slice(2)}`;
    assert.equal((await imgtag(['plan', ...source, '--run', run], s3.env)).code, 0);
    const res = await imgtag(['run', '--run', run, '--max-bytes', '1000000'], s3.env);
    assert.equal(res.code, 0, res.stderr);
    const byKey = new Map((await readRunResults(run)).rows.map((r) => [String(r.key), r]));
    const big = byKey.get('img/big.jpg')!.error as { stage: string; message: string };
    assert.deepEqual([big.stage, big.message], ['fetch', 'the object is 3000000 bytes, over the 1000000-byte limit (--max-bytes): not read']);
    assert.ok(Array.isArray(byKey.get('img/small.jpg')![MOBILENET_TAGS]));
  }
});

test('a .txt key list line is the key as written: spaces at its ends are part of it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-space-'));
  // A relative key that begins with a space, beside the list.
  fs.copyFileSync(path.join(IMAGENET_DIR, imagenetFiles()[7]!), path.join(dir, ' photo.jpg'));
  fs.writeFileSync(path.join(dir, 'keys.txt'), ' photo.jpg\n');
  const run = path.join(dir, 'run');
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', run])).code, 0);
  const res = await imgtag(['run', '--run', run]);
  assert.equal(res.code, 0, res.stderr);
  const { rows } = await readRunResults(run);
  assert.deepEqual(rows.map((r) => [r.key, r.error ?? null]), [[path.join(dir, ' photo.jpg'), null]]);
});
