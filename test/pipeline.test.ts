import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CommitMarker } from '../src/rundir/commits.js';
import { ShardDispatch } from '../src/pool/dispatch.js';
import { listObjects, readText } from '../src/storage/storage.js';
import { joinUri } from '../src/storage/uri.js';
import { imgtag } from './helpers/cli.js';
import { photoPaths, plannedS3Run, photos } from './helpers/planned.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Classifier } from '../src/infer/session.js';
import type { ResolvedModel } from '../src/model/resolve.js';
import { modelSet } from '../src/pipeline/model-set.js';
import { StageClock } from '../src/pipeline/stage-clock.js';
import { decodeStage, tagRows, through } from '../src/pipeline/tag-rows.js';
import type { ModelSet } from '../src/pipeline/model-set.js';
import fs from 'node:fs';
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

test('dispatch: a retired engine (a signal to it alone) is handed nothing more, and one with nothing to do exits at once', () => {
  const sent: number[] = [];
  let exited = 0;
  const queue = [5, 6, 7];
  const d = new ShardDispatch(queue, (s) => sent.push(s), () => exited++);
  d.start();
  d.retire();
  d.finished(5);
  assert.deepEqual(sent, [5]);
  assert.deepEqual(queue, [6, 7], 'what it was not handed stays for the others');
  assert.equal(exited, 0, 'it leaves by itself: no exit message');
  const idle = new ShardDispatch([], () => assert.fail('nothing to send'), () => exited++);
  idle.start();
  assert.equal(exited, 1);
});

test('the stage graph alone, with a fake model as its neighbour: inference never runs more batches than its bound, every image reaches it once, rows in order', async () => {
  let inFlight = 0;
  let peak = 0;
  const seen: number[] = [];
  // The model handler interface (run a packed batch, release): here a fake that takes its time.
  const fake: Classifier = {
    model: {
      id: 'fake@000000000000',
      labels: ['a', 'b'],
      source: 'memory',
      bytes: new Uint8Array(),
      sha256: '0'.repeat(64),
      spec: { name: 'fake', file: 'fake.onnx', input: { name: 'x', layout: 'NHWC', channels: 'RGB', width: 32, height: 32, scale: 1, mean: [0, 0, 0], std: [1, 1, 1] }, output: { name: 'y', kind: 'logits', topK: 1 } },
    } as unknown as ResolvedModel,
    async classify(pixels, count) {
      assert.equal(pixels.length, count * 32 * 32 * 3, 'one packed uint8 tensor per batch');
      peak = Math.max(peak, ++inFlight);
      seen.push(count);
      await sleep(5);
      inFlight -= 1;
      return Array.from({ length: count }, () => ({ tags: [{ label: 'a', score: 1 }], embedding: null }));
    },
    batchBuffer: (count) => new Uint8Array(count * 32 * 32 * 3),
    release: async () => undefined,
  };
  const entries = photoPaths(0, 23).map((uri) => ({ uri }));
  const clock = new StageClock();
  const limits = { fetch: 4, maxBytes: 1e9, decode: 3, batchSize: 5, infer: 1 };
  const { rows } = await tagRows(entries, modelSet([fake], 1e8), limits, clock);
  assert.equal(peak, 1, 'one batch in the model at a time');
  assert.equal(seen.reduce((a, b) => a + b, 0), 23, 'every image inferred once');
  assert.ok(seen.every((n) => n <= 5), 'batches never over the batch size');
  assert.ok(clock.peak.fetch <= 4 && clock.peak.decode <= 3, `fetch ${clock.peak.fetch}, decode ${clock.peak.decode}`);
  assert.deepEqual(rows.map((r) => r.key), entries.map((e) => e.uri), 'rows in manifest order');
  assert.ok(rows.every((r) => r.error === null && r.models[0]!.tags?.[0]?.label === 'a'));
});

test('one stage alone: the decode stage turns fetched bytes into pixels, or an error row saying why, fed and drained by the test', async () => {
  const photo = fs.readFileSync(photoPaths(3, 1)[0]!);
  const models = { targets: [{ width: 32, height: 32, shortSide: 32, maxPixels: 1e8 }] } as unknown as ModelSet;
  const row = (key: string) => ({ key, bucket: null, etag: null, size: null, width: null, height: null, models: [], error: null });
  const tally = { bytes: 0, decodes: 0 };
  const out = [];
  for await (const d of through([{ at: 0, row: row('good'), body: photo }, { at: 1, row: row('html'), body: Buffer.from('<html>503</html>') }], decodeStage(models, { fetch: 1, maxBytes: 1e9, decode: 2, batchSize: 1, infer: 1 }, new StageClock(), tally))) out.push(d);
  const byKey = new Map(out.map((d) => [d.row.key, d]));
  assert.equal(byKey.get('good')!.pixels![0]!.length, 32 * 32 * 3);
  assert.equal(byKey.get('good')!.row.error, null);
  assert.match(byKey.get('html')!.row.error!.message, /^not an image: it looks like HTML/);
  assert.equal(tally.decodes, 1);
});
