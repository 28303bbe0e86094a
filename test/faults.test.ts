import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { statObject, readText, writeBytes } from '../src/storage/storage.js';
import { IMAGENET_DIR } from './helpers/env.js';
import { newBucket } from './helpers/s3.js';
import { imgtag } from './helpers/cli.js';
import { startFaultProxy } from './helpers/fault-proxy.js';
import { readRunResults } from './helpers/results.js';
import { photos, plannedS3Run } from './helpers/planned.js';
import { testS3 } from './helpers/s3.js';

/** A planned run of `n` photos in a new bucket, uploaded straight to the S3 server (no faults yet). */
async function plannedRun(n: number): Promise<{ bucket: string; run: string; keys: string[] }> {
  const keys = photos(200, n);
  const { bucket, run } = await plannedS3Run('faults', keys, 10);
  return { bucket, run, keys };
}

async function markers(run: string, shards: number) {
  return Promise.all(Array.from({ length: shards }, async (_, i) => JSON.parse(await readText(`${run}/commits/part-0000${i}.json`))));
}

test('with 10% of S3 requests failing (503 SlowDown, 500, resets, stalls) every image is tagged, retries counted', async () => {
  const s3 = await testS3();
  const { run, keys } = await plannedRun(40);
  const proxy = await startFaultProxy(s3.endpoint, { rate: 0.1, seed: 7 });
  try {
    const env = { ...s3.env, AWS_ENDPOINT_URL: proxy.endpoint, IMGTAG_S3_REQUEST_TIMEOUT_MS: '1000' };
    const res = await imgtag(['run', '--run', run, '--workers', '2'], env);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const injected = Object.values(proxy.injected).reduce((a, b) => a + b, 0);
    assert.ok(injected >= 5, `only ${injected} faults injected: ${JSON.stringify(proxy.injected)}`);
    const all = await markers(run, 4);
    const retries = all.reduce((n, m) => n + m.s3.retries, 0);
    assert.ok(retries > 0 && retries <= injected, `retries ${retries}, injected ${injected}`);
    assert.equal(all.reduce((n, m) => n + m.s3.failed, 0), 0);
  } finally {
    await proxy.close();
  }
  const { rows } = await readRunResults(run);
  assert.equal(rows.length, keys.length);
  assert.equal(new Set(rows.map((r) => r.key)).size, keys.length);
  assert.ok(rows.every((r) => r.error === undefined), JSON.stringify(rows.find((r) => r.error)));
});

test('a store that keeps failing for one object leaves its shard unfinished (exit 3), never an error row; the next run tags it', async () => {
  const s3 = await testS3();
  const { run, keys } = await plannedRun(12);
  const proxy = await startFaultProxy(s3.endpoint, { rate: 0, alwaysFail: [keys[3]!] });
  try {
    const env = { ...s3.env, AWS_ENDPOINT_URL: proxy.endpoint, IMGTAG_S3_MAX_ATTEMPTS: '3' };
    const res = await imgtag(['run', '--run', run], env);
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stdout, /1 unfinished/);
    assert.match(res.stderr, /injected persistent failure \(after retries; the shard is left for the next run\)/);
  } finally {
    await proxy.close();
  }
  assert.equal((await readText(`${run}/commits/part-00000.json`).catch(() => 'absent')), 'absent', 'the shard with the failing object is not committed');
  // The outage is over: the next run tags what was left, and nothing is an error row.
  const again = await imgtag(['run', '--run', run], s3.env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /1 tagged, 1 already done/);
  const { rows } = await readRunResults(run);
  assert.equal(rows.length, 12);
  assert.ok(rows.every((r) => r.error === undefined), JSON.stringify(rows.find((r) => r.error)));
});

test('refused credentials stop the run at once with one clear message, and commit nothing', async () => {
  const s3 = await testS3();
  const { run } = await plannedRun(12);
  const res = await imgtag(['run', '--run', run, '--workers', '2'], { ...s3.env, AWS_ACCESS_KEY_ID: 'NOT-A-KEY', AWS_SECRET_ACCESS_KEY: 'nope' });
  assert.equal(res.code, 1, res.stdout + res.stderr);
  const lines = res.stderr.split('\n').filter((l) => l.startsWith('imgtag: '));
  assert.equal(lines.length, 1, res.stderr);
  assert.match(lines[0]!, /^imgtag: S3 refused access to s3:\/\/\S+ \(HTTP 403[^)]*\): check the credentials, the region and the bucket policy/);
  assert.doesNotMatch(res.stderr, /nope/, 'no secret in the message');
  const committed = await readText(`${run}/commits/part-00000.json`).then(() => true, () => false);
  assert.equal(committed, false);
});

test('an 8-second total outage mid-run: shards caught in it are left unfinished, never error rows; after it, the next run tags every image', async () => {
  const s3 = await testS3();
  const { run, keys } = await plannedRun(40);
  const proxy = await startFaultProxy(s3.endpoint, { rate: 0, outage: { afterRequests: 25, ms: 8_000 } });
  const started = Date.now();
  try {
    const env = { ...s3.env, AWS_ENDPOINT_URL: proxy.endpoint, IMGTAG_S3_MAX_ATTEMPTS: '3' };
    const during = await imgtag(['run', '--run', run, '--workers', '2'], env);
    assert.equal(during.code, 3, during.stdout + during.stderr);
    assert.match(during.stdout, /[1-9]\d* unfinished/);
    // The outage is over: the same endpoint answers again.
    await sleep(Math.max(0, (proxy.outageEndsAt ?? started) + 500 - Date.now()));
    const after = await imgtag(['run', '--run', run, '--workers', '2'], env);
    assert.equal(after.code, 0, after.stdout + after.stderr);
  } finally {
    await proxy.close();
  }
  assert.ok(proxy.injected.internal > 0, 'the outage happened');
  const { rows } = await readRunResults(run);
  assert.equal(rows.length, keys.length);
  assert.equal(new Set(rows.map((r) => r.key)).size, keys.length);
  assert.ok(rows.every((r) => r.error === undefined), JSON.stringify(rows.find((r) => r.error)));
});

/** Image GETs only (not the plan, commits or leases). */
const imageGets = (method: string, path: string) => method === 'GET' && /\/img\/|\.jpe?g/i.test(path) && !path.includes('/run/');

test('a 301 on every image GET (a bucket in another region) stops the run: exit 1, nothing committed, the region named', async () => {
  const s3 = await testS3();
  const { run } = await plannedRun(20);
  const proxy = await startFaultProxy(s3.endpoint, { rate: 1, kinds: ['moved'], only: imageGets });
  try {
    const res = await imgtag(['run', '--run', run], { ...s3.env, AWS_ENDPOINT_URL: proxy.endpoint });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stderr, /the bucket is in another region, or the endpoint is not its own \(set --region or AWS_REGION/);
    assert.ok(proxy.injected.moved > 0);
  } finally {
    await proxy.close();
  }
  for (let i = 0; i < 2; i++) assert.equal(await readText(`${run}/commits/part-0000${i}.json`).catch(() => 'absent'), 'absent', 'no shard committed');
});

/** A fault on 10% of image GETs that a GET's own retry must absorb: exit 0, every image tagged, no error row. */
async function absorbed(kind: 'redirect' | 'cut', seed: number): Promise<void> {
  const s3 = await testS3();
  const { run, keys } = await plannedRun(40);
  const proxy = await startFaultProxy(s3.endpoint, { rate: 0.1, seed, kinds: [kind], only: imageGets });
  try {
    const res = await imgtag(['run', '--run', run], { ...s3.env, AWS_ENDPOINT_URL: proxy.endpoint });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.ok(proxy.injected[kind] >= 2, JSON.stringify(proxy.injected));
  } finally {
    await proxy.close();
  }
  const { rows } = await readRunResults(run);
  assert.equal(rows.length, keys.length);
  assert.ok(rows.every((r) => r.error === undefined), JSON.stringify(rows.find((r) => r.error)));
}

test('a 307 on 10% of image GETs is sent again: every image tagged, no error row', () => absorbed('redirect', 3));

test('a body cut short on 10% of image GETs costs a GET, not the shard: every image tagged, exit 0', () => absorbed('cut', 11));

test('a trickling GET (10 bytes/s) meets its deadline: every other image is tagged, its shard left for later (exit 3), no worker left waiting', async () => {
  const s3 = await testS3();
  const { run, keys } = await plannedRun(20);
  const slow = keys[13]!;
  const proxy = await startFaultProxy(s3.endpoint, { rate: 0, trickle: [slow] });
  const started = Date.now();
  try {
    const env = { ...s3.env, AWS_ENDPOINT_URL: proxy.endpoint, IMGTAG_READ_FIRST_BYTE_MS: '1500', IMGTAG_READ_MIN_BYTES_PER_S: '100000000' };
    const res = await imgtag(['run', '--run', run, '--workers', '2'], env);
    assert.equal(res.code, 3, res.stdout + res.stderr);
    assert.match(res.stderr, new RegExp(`${slow}: not read within its deadline of [\\d.]+ s .*2 tries \\(after retries; the shard is left for the next run\\)`));
    assert.match(res.stdout, /1 tagged, 0 already done, 0 held by other workers, 1 unfinished/);
  } finally {
    await proxy.close();
  }
  // Two tries of 1.5 s, not the 240 s a trickle held a worker before.
  assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`);
  const { rows } = await readRunResults(run).catch(() => ({ rows: [] as Record<string, unknown>[] }));
  assert.ok(rows.every((r) => r.key !== `img/${slow}`));
  // Readable again: the next run finishes it.
  const again = await imgtag(['run', '--run', run], s3.env);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await readRunResults(run)).rows.length, keys.length);
});

test('an object replaced between plan and run: its row has the ETag and size of the bytes it was tagged from', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('changed');
  const files = photos(240, 4);
  for (const f of files) await writeBytes(`s3://${bucket}/img/${f}`, fs.readFileSync(path.join(IMAGENET_DIR, f)));
  const run = `s3://${bucket}/run`;
  assert.equal((await imgtag(['plan', '--prefix', `s3://${bucket}/img/`, '--run', run], s3.env)).code, 0);
  // Replaced by another photo after planning: the manifest's ETag and size are now stale.
  const other = fs.readFileSync(path.join(IMAGENET_DIR, photos(250, 1)[0]!));
  await writeBytes(`s3://${bucket}/img/${files[0]}`, other);
  const now = await statObject(`s3://${bucket}/img/${files[0]}`);
  const res = await imgtag(['run', '--run', run], s3.env);
  assert.equal(res.code, 0, res.stderr);
  const row = (await readRunResults(run)).rows.find((r) => r.key === `img/${files[0]}`)!;
  assert.deepEqual([row.etag, Number(row.size)], [now.etag, other.length]);
});
