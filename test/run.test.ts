import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fixtures } from '../scripts/fixtures.js';
import { readText, writeBytes } from '../src/storage/storage.js';
import { photos, plannedS3Run } from './helpers/planned.js';
import { events, imgtag } from './helpers/cli.js';
import { IMAGENET_DIR, imagenetFiles } from './helpers/env.js';
import { MOBILENET_MODEL, MOBILENET_TAGS, readRunResults } from './helpers/results.js';
import { newBucket, testS3 } from './helpers/s3.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-run-'));
const MOBILENET_ID = 'mobilenetv2-12-int8@cc028fe6cae7';

type Tag = { label: string; score: number };

function assertTags(tags: Tag[] | undefined, key: unknown) {
  assert.ok(tags && tags.length === 5, `${key}: expected 5 tags`);
  for (let i = 1; i < tags.length; i++) assert.ok(tags[i - 1]!.score >= tags[i]!.score, `${key}: tags not best first`);
  assert.ok(tags[0]!.score > 0 && tags[0]!.score <= 1);
}

/** One line, the problem named first in plain words, never "Unknown error", nothing said twice. */
function assertClearMessage(message: string, problem: RegExp, name: string): void {
  assert.match(message, problem, name);
  assert.doesNotMatch(message, /\n/, `${name}: one line`);
  assert.doesNotMatch(message, /unknown error/i, name);
  for (let i = 0; i + 16 <= message.length; i++) assert.equal(message.indexOf(message.slice(i, i + 16), i + 1), -1, `${name} repeats "${message.slice(i, i + 16)}": ${message}`);
}

test('run over S3 with 2 workers: one row per planned image, odd images tagged, broken ones error rows, then nothing redone', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('run');
  const photos = imagenetFiles().slice(0, 24);
  const fx = await fixtures();
  const uris: string[] = [];
  for (const f of photos) {
    uris.push(`s3://${bucket}/photos/${f}`);
    await writeBytes(uris.at(-1)!, fs.readFileSync(path.join(IMAGENET_DIR, f)));
  }
  for (const f of fx) {
    uris.push(`s3://${bucket}/odd/${f.name}`);
    await writeBytes(uris.at(-1)!, f.bytes);
  }
  uris.push(`s3://${bucket}/missing/never-uploaded.jpg`);
  await writeBytes(`s3://${bucket}/keys.txt`, uris.join('\n'));
  const run = `s3://${bucket}/runs/r1`;
  const plan = await imgtag(['plan', '--manifest', `s3://${bucket}/keys.txt`, '--run', run, '--shard-size', '10'], s3.env);
  assert.equal(plan.code, 0, plan.stderr);

  const first = await imgtag(['run', '--run', run, '--workers', '2', '--batch-size', '4'], s3.env);
  assert.equal(first.code, 0, `error rows are data: a row for every planned image is exit 0\n${first.stderr}`);
  const shards = Math.ceil(uris.length / 10);
  const shardList = Array.from({ length: shards }, (_, i) => i);
  assert.match(first.stdout, new RegExp(`${shards} tagged, 0 already done, 0 held by other workers, 0 unfinished`));

  const { rows, columns } = await readRunResults(run);
  assert.deepEqual(columns, ['key', 'bucket', 'etag', 'size', 'width', 'height', MOBILENET_MODEL, MOBILENET_TAGS, 'error', 'run_id', 'tagged_at']);
  assert.equal(rows.length, uris.length);
  assert.deepEqual(rows.map((r) => `s3://${r.bucket}/${r.key}`).sort(), [...uris].sort());
  const byName = new Map(rows.map((r) => [String(r.key).split('/').pop(), r]));
  for (const f of fx) {
    const r = byName.get(f.name)!;
    if (f.expect === 'ok') {
      assert.equal(r.error, undefined, `${f.name}: ${JSON.stringify(r.error)}`);
      assertTags(r[MOBILENET_TAGS] as Tag[], f.name);
      if (f.size) assert.deepEqual([r.width, r.height], f.size, `${f.name} must be reported upright`);
    } else {
      assert.equal((r.error as { stage: string }).stage, 'decode', f.name);
      assertClearMessage((r.error as { message: string }).message, f.problem!, f.name);
      assert.equal(r[MOBILENET_TAGS], undefined);
    }
  }
  assert.equal((byName.get('never-uploaded.jpg')!.error as { stage: string }).stage, 'fetch');
  for (const f of photos) {
    const r = byName.get(f)!;
    assertTags(r[MOBILENET_TAGS] as Tag[], f);
    assert.equal(r[MOBILENET_MODEL], MOBILENET_ID);
    assert.equal(r.size, BigInt(fs.statSync(path.join(IMAGENET_DIR, f)).size));
    assert.match(String(r.etag), /^[0-9a-f]{32}$/);
  }
  const readMarkers = () => Promise.all(shardList.map(async (i) => JSON.parse(await readText(`${run}/commits/part-0000${i}.json`))));
  const markers = await readMarkers();
  assert.equal(markers.reduce((n, m) => n + m.rows, 0), uris.length);
  assert.equal(markers.reduce((n, m) => n + m.failures, 0), fx.filter((f) => f.expect !== 'ok').length + 1);
  assert.equal(markers.reduce((n, m) => n + (m.failuresByStage.fetch ?? 0), 0), 1);
  assert.ok(markers.every((m) => m.model === MOBILENET_ID && m.seconds > 0 && m.bytes > 0));

  // A second run finds every shard committed and does nothing; the markers are untouched.
  const second = await imgtag(['run', '--run', run, '--workers', '2'], s3.env);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, new RegExp(`0 tagged, ${shards} already done`));
  assert.deepEqual(await readMarkers(), markers);
  const one = await imgtag(['run', '--run', run, '--shard', '2'], s3.env);
  assert.equal(one.code, 0);
  const shardEvent = events(one.stderr).find((e) => e.event === 'shard');
  assert.equal(shardEvent?.shard, 2);
  assert.equal(shardEvent?.status, 'committed');
  const outOfRange = await imgtag(['run', '--run', run, '--shard', '9'], s3.env);
  assert.equal(outOfRange.code, 1);
  assert.match(outOfRange.stderr, new RegExp(`--shard 9 is out of range: the plan has shards 0\\.\\.${shards - 1}`));
});

test('run over local paths into a local run directory, one shard at a time', async () => {
  const dir = tmp();
  const files = imagenetFiles().slice(100, 110).map((f) => path.join(IMAGENET_DIR, f));
  fs.writeFileSync(path.join(dir, 'keys.txt'), files.join('\n'));
  const run = path.join(dir, 'run');
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', run, '--shard-size', '6'])).code, 0);
  const shard1 = await imgtag(['run', '--run', run, '--shard', '1']);
  assert.equal(shard1.code, 0, shard1.stderr);
  assert.deepEqual(fs.readdirSync(path.join(run, 'commits')), ['part-00001.json']);
  const rest = await imgtag(['run', '--run', run]);
  assert.equal(rest.code, 0, rest.stderr);
  assert.match(rest.stdout, /1 tagged, 1 already done/);
  const { rows } = await readRunResults(run);
  assert.deepEqual(rows.map((r) => r.key).sort(), [...files].sort());
  for (const r of rows) {
    assert.equal(r.bucket, null);
    assert.equal(r.etag, null);
    assert.equal(r.size, BigInt(fs.statSync(String(r.key)).size));
    assertTags(r[MOBILENET_TAGS] as Tag[], r.key);
  }
});

test('a fixed-batch model (SqueezeNet, batch 1) runs with any --batch-size', async () => {
  const dir = tmp();
  const files = imagenetFiles().slice(0, 7).map((f) => path.join(IMAGENET_DIR, f));
  fs.writeFileSync(path.join(dir, 'keys.txt'), files.join('\n'));
  const run = path.join(dir, 'run');
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', run])).code, 0);
  const res = await imgtag(['run', '--run', run, '--model', 'squeezenet1.1', '--batch-size', '4']);
  assert.equal(res.code, 0, res.stderr);
  const { rows } = await readRunResults(run);
  assert.equal(rows.length, 7);
  for (const r of rows) {
    assert.equal(r.model_squeezenet1_1, 'squeezenet1.1@21f25e3d9254');
    assertTags(r.tags_squeezenet1_1 as Tag[], r.key);
  }
});

test('error rows are data: one undecodable image among good ones exits 0; --max-error-rate turns too many into exit 4', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-errrate-'));
  const keys = imagenetFiles().slice(40, 47).map((f) => path.join(IMAGENET_DIR, f));
  fs.writeFileSync(path.join(dir, 'broken.jpg'), 'not a jpeg at all');
  fs.writeFileSync(path.join(dir, 'keys.txt'), [...keys, path.join(dir, 'broken.jpg')].join('\n'));
  const plan = await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', path.join(dir, 'run')]);
  assert.equal(plan.code, 0, plan.stderr);
  const ok = await imgtag(['run', '--run', path.join(dir, 'run'), '--no-compact']);
  assert.equal(ok.code, 0, ok.stderr);
  // The summary names the reason and the key: no SQL needed to find what failed.
  assert.match(ok.stdout, /top error reasons.*\n +1 {2}decode: .+\n +e\.g\. .*broken\.jpg$/m);
  const strict = await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', path.join(dir, 'strict')]);
  assert.equal(strict.code, 0);
  const over = await imgtag(['run', '--run', path.join(dir, 'strict'), '--max-error-rate', '0.1']);
  assert.equal(over.code, 4, over.stderr);
  // A JSON line in a log (stderr is not a terminal here), as every line of a run is.
  assert.ok(events(over.stderr).some((e) => e.event === 'notice' && e.message === '1 of 8 images are error rows (12.50%), over --max-error-rate 0.1: exit 4'), over.stderr);
  const within = await imgtag(['run', '--run', path.join(dir, 'strict'), '--max-error-rate', '0.2']);
  assert.equal(within.code, 0, 'already done: nothing counted this time');
  assert.equal((await imgtag(['run', '--run', path.join(dir, 'strict'), '--max-error-rate', 'lots'])).code, 1);
  // 0: not one error row allowed; the summary line says the same code.
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', path.join(dir, 'zero')])).code, 0);
  const zero = await imgtag(['run', '--run', path.join(dir, 'zero'), '--max-error-rate', '0']);
  assert.equal(zero.code, 4, zero.stderr);
  assert.equal(events(zero.stderr).at(-1)!.exitCode, 4);
});

test('each commit marker counts exactly its own shard\'s S3 requests, though one shard\'s writes overlap the next one\'s reads', async () => {
  const { run, env } = await plannedS3Run('counts', photos(200, 24), 8);
  const res = await imgtag(['run', '--run', run, '--workers', '1', '--batch-size', '4', '--no-compact'], { ...env, IMGTAG_HEDGE_MS: '0' });
  assert.equal(res.code, 0, res.stderr);
  for (const shard of [0, 1, 2]) {
    const marker = JSON.parse(await readText(`${run}/commits/part-0000${shard}.json`)) as { rows: number; s3: { requests: number; retries: number; failed: number } };
    // HEAD commit (404), GET lease (404), PUT lease, HEAD commit again (404), GET shard file,
    // one GET per image, PUT Parquet, PUT marker.
    // A retry (a lean GET that timed out on a loaded machine, then the SDK's) is counted as one,
    // never as another request: the request count is exact whatever the machine's load.
    assert.deepEqual({ ...marker.s3, retries: 0 }, { requests: 7 + marker.rows, retries: 0, failed: 0 }, `shard ${shard}`);
    assert.ok(marker.s3.retries <= 2, `shard ${shard}: ${marker.s3.retries} retries on loopback`);
  }
});
