import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CommitMarker } from '../src/output/commit.js';
import { ShardDispatch } from '../src/pool/dispatch.js';
import { listObjects, readText } from '../src/storage/storage.js';
import { joinUri } from '../src/storage/uri.js';
import { imgtag } from './helpers/cli.js';
import { plannedS3Run, photos } from './helpers/planned.js';
import { MOBILENET_TAGS, readRunResults } from './helpers/results.js';

test('each stage holds no more than its bound in flight, and rows come back in manifest order', async () => {
  const files = photos(40, 20);
  const { run, env, bucket } = await plannedS3Run('bounds', files, 10);
  const res = await imgtag(['run', '--run', run, '--workers', '1', '--threads', '1', '--concurrency', '3', '--batch-size', '4'], env);
  assert.equal(res.code, 0, res.stderr);
  const markers: CommitMarker[] = [];
  for await (const o of listObjects(joinUri(run, 'commits/'))) markers.push(JSON.parse(await readText(o.uri)));
  assert.equal(markers.length, 2);
  for (const m of markers) {
    // Fetches start 3 at a time and never more; decodes at most 2 per thread; one batch in the model on CPU.
    assert.ok(m.stagePeak.fetch >= 2 && m.stagePeak.fetch <= 3, `fetch peak ${m.stagePeak.fetch}`);
    assert.ok(m.stagePeak.decode >= 1 && m.stagePeak.decode <= 2, `decode peak ${m.stagePeak.decode}`);
    assert.equal(m.stagePeak.infer, 1);
    assert.equal(m.decodes, 10);
  }
  const { rows } = await readRunResults(run);
  const keys = rows.map((r) => r.key);
  assert.deepEqual(keys, files.map((f) => `img/${f}`), 'rows in manifest order, shard by shard');
  assert.ok(rows.every((r) => r.bucket === bucket && r.error === undefined && Array.isArray(r[MOBILENET_TAGS])));
});

test('dispatch: the next shard goes out when the previous one has computed, before its write finishes; exit after the last answer', () => {
  const sent: number[] = [];
  let exited = 0;
  const d = new ShardDispatch([0, 1, 2], (s) => sent.push(s), () => exited++);
  d.start();
  assert.deepEqual(sent, [0]);
  d.computed(0); // shard 0 now writes its Parquet
  assert.deepEqual(sent, [0, 1]);
  assert.deepEqual(d.outstanding.sort(), [0, 1]);
  d.finished(1); // leased elsewhere: answered without computing
  assert.deepEqual(sent, [0, 1, 2]);
  d.computed(2);
  assert.equal(exited, 0, 'shards 0 and 2 are still being written');
  d.finished(2);
  assert.equal(exited, 0);
  d.finished(0);
  assert.equal(exited, 1);
  assert.deepEqual(d.outstanding, []);
});

test('dispatch: stop hands out nothing more, and an engine with nothing to do exits at once', () => {
  const sent: number[] = [];
  let exited = 0;
  const d = new ShardDispatch([5, 6, 7], (s) => sent.push(s), () => exited++);
  d.start();
  d.stop();
  d.finished(5);
  assert.deepEqual(sent, [5]);
  assert.equal(exited, 1);
  const idle = new ShardDispatch([], () => assert.fail('nothing to send'), () => exited++);
  idle.start();
  assert.equal(exited, 2);
});
