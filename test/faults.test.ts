import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readText } from '../src/storage/storage.js';
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

test('an object that always fails becomes its own error row after the retry budget; the run finishes', async () => {
  const s3 = await testS3();
  const { run, keys } = await plannedRun(12);
  const proxy = await startFaultProxy(s3.endpoint, { rate: 0, alwaysFail: [keys[3]!] });
  try {
    const env = { ...s3.env, AWS_ENDPOINT_URL: proxy.endpoint, IMGTAG_S3_MAX_ATTEMPTS: '3' };
    const res = await imgtag(['run', '--run', run], env);
    assert.equal(res.code, 2, res.stderr);
  } finally {
    await proxy.close();
  }
  const { rows } = await readRunResults(run);
  assert.equal(rows.length, 12);
  const failed = rows.filter((r) => r.error);
  assert.equal(failed.length, 1);
  assert.equal(failed[0]!.key, `img/${keys[3]}`);
  assert.equal((failed[0]!.error as { stage: string }).stage, 'fetch');
  assert.match((failed[0]!.error as { message: string }).message, /injected persistent failure/);
  const [first] = await markers(run, 1);
  assert.equal(first.s3.failed, 1);
  assert.ok(first.s3.retries >= 2);
});
