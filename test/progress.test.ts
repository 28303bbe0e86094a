import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { progressReporter } from '../cli/common/progress.js';
import { events, imgtag } from './helpers/cli.js';
import { photoPaths, plannedLocalRun } from './helpers/planned.js';

test('fleet logs: every JSON line names the run, host and array index; heartbeats move inside a shard; the summary comes last', async () => {
  const files = photoPaths(0, 160);
  const { run } = await plannedLocalRun('progress', files, 160);
  const res = await imgtag(['run', '--run', run, '--batch-size', '4'], { ...process.env, IMGTAG_HEARTBEAT_S: '0.3', AWS_BATCH_JOB_ARRAY_INDEX: '7' });
  assert.equal(res.code, 0, res.stderr);
  const lines = events(res.stderr);
  for (const e of lines) {
    assert.equal(e.run, run);
    assert.equal(e.host, os.hostname());
    assert.equal(e.arrayIndex, 7);
    assert.ok(!Number.isNaN(Date.parse(String(e.time))));
  }
  // One shard of 160 images: heartbeats between its start and its commit already count images.
  const shardAt = lines.findIndex((e) => e.event === 'shard');
  const inside = lines.slice(0, shardAt).filter((e) => e.event === 'heartbeat');
  assert.ok(inside.some((h) => Number(h.images) > 0 && Number(h.images) < 160), `no heartbeat inside the shard: ${JSON.stringify(inside)}`);
  for (const h of inside) for (const k of ['images', 'errors', 'imagesPerSecond', 'mbPerSecond', 'todoImages']) assert.equal(typeof h[k], 'number', k);
  const last = lines.at(-1)!;
  assert.equal(last.event, 'summary');
  assert.equal(last.exitCode, 0);
  assert.equal(last.images, 160);
  assert.equal(last.failures, 0);
  assert.equal(lines.filter((e) => e.event === 'progress').length, 0, 'per-batch progress stays off the log');
  assert.doesNotMatch(res.stderr, /NodeVersionSupportWarning/);
});

test('a terminal: the bar moves per image, with images/s, MB/s, error rows and ETA, and ends on its own line', async () => {
  let out = '';
  const tty = { isTTY: true, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
  const report = progressReporter(tty);
  report({ event: 'start', run: 'r', shards: 1, todo: 1, images: 100, workers: 1, threads: 1, batchSize: 4, concurrency: 4 });
  // Redrawn a few times a second at most.
  await sleep(250);
  report({ event: 'progress', images: 40, errors: 1, bytes: 4e6 });
  const frames = out.split('\r\x1b[2K').filter(Boolean);
  assert.match(frames.at(-1)!, /^\[#{9,10}\.{14,15}\] 40\/100 images {2}[\d.]+ images\/s {2}[\d.]+ MB\/s {2}1 error rows {2}0\/1 shards {2}ETA \d+:\d\d:\d\d$/);
  report({ event: 'summary', exitCode: 0 });
  assert.ok(out.endsWith('\n'));
});
