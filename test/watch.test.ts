import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeBytes } from '../src/storage/storage.js';
import { events, imgtag } from './helpers/cli.js';
import { IMAGENET_DIR, imagenetFiles } from './helpers/env.js';
import { newBucket, testS3 } from './helpers/s3.js';

test('report --watch over a 300-shard run on S3: each marker read once, a refresh costs one LIST plus the new markers, not 300 GETs', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('watch');
  const photo = fs.readFileSync(path.join(IMAGENET_DIR, imagenetFiles()[0]!));
  const keys = Array.from({ length: 300 }, (_, i) => `s3://${bucket}/img/${String(i).padStart(3, '0')}.jpg`);
  await Promise.all(keys.map((k) => writeBytes(k, photo)));
  await writeBytes(`s3://${bucket}/keys.txt`, keys.join('\n'));
  const run = `s3://${bucket}/run`;
  assert.equal((await imgtag(['plan', '--manifest', `s3://${bucket}/keys.txt`, '--run', run, '--shard-size', '1'], s3.env)).code, 0);

  const tagging = imgtag(['run', '--run', run, '--workers', '2', '--no-compact'], s3.env);
  await sleep(1500);
  const watched = await imgtag(['report', '--run', run, '--watch', '0.5', '--progress', 'json'], s3.env);
  const ran = await tagging;
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(watched.code, 0, watched.stderr);
  const refreshes = events(watched.stderr).filter((e) => e.event === 'watch') as { committed: number; planned: number; s3Requests: number }[];
  assert.ok(refreshes.length >= 3, `refreshed ${refreshes.length} times`);
  assert.equal(refreshes.at(-1)!.committed, 300);
  assert.ok(refreshes.every((r) => r.planned === 300));
  // The first refresh lists commits/ (one page) and reads what is there; each later one lists the
  // commit log once and reads only the markers committed since.
  assert.ok(refreshes[0]!.s3Requests <= 1 + refreshes[0]!.committed, JSON.stringify(refreshes[0]));
  for (let i = 1; i < refreshes.length; i++) {
    const fresh = refreshes[i]!.committed - refreshes[i - 1]!.committed;
    assert.ok(refreshes[i]!.s3Requests <= 1 + fresh, `refresh ${i}: ${JSON.stringify(refreshes[i])} after ${refreshes[i - 1]!.committed}`);
  }
  const total = refreshes.reduce((n, r) => n + r.s3Requests, 0);
  assert.ok(total <= 300 + refreshes.length, `${total} requests over ${refreshes.length} refreshes: each marker once`);
  // Refreshes while nothing new came cost one LIST.
  const idle = refreshes.filter((r, i) => i > 0 && r.committed === refreshes[i - 1]!.committed);
  for (const r of idle) assert.equal(r.s3Requests, 1);
  // Complete: the reports are written, from a full, checked read.
  assert.match(watched.stdout, /state +complete/);
  console.log(`# report --watch: ${refreshes.length} refreshes, ${total} S3 requests for 300 markers; refresh costs ${refreshes.map((r) => r.s3Requests).join(', ')}`);
});
