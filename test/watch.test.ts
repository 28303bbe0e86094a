import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeBytes } from '../src/storage/storage.js';
import { events, imgtag } from './helpers/cli.js';
import { CLI, IMAGENET_DIR, imagenetFiles } from './helpers/env.js';
import { photoPaths, plannedLocalRun } from './helpers/planned.js';
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

test('report --watch on a run killed with -9: once nothing has moved for a lease time and every lease has expired, it says so and exits 3 (no ETA for ever)', async () => {
  const { run } = await plannedLocalRun('watch-dead', photoPaths(0, 60), 2);
  // A short lease time, so the killed workers' leases expire within the test.
  const env = { ...process.env, IMGTAG_LEASE_TTL_MS: '3000' };
  const child = spawn(process.execPath, [CLI, 'run', '--run', run, '--workers', '1', '--batch-size', '2', '--no-compact'], { env, detached: true, stdio: 'ignore' });
  const commits = () => (fs.existsSync(path.join(run, 'commits')) ? fs.readdirSync(path.join(run, 'commits')).filter((f) => f.endsWith('.json')).length : 0);
  for (let i = 0; i < 1200 && commits() < 2; i++) await sleep(50);
  assert.ok(commits() >= 2 && commits() < 30, `${commits()} shards committed before the kill`);
  // The whole run at once, workers included, as a lost machine.
  process.kill(-child.pid!, 'SIGKILL');
  const watched = await imgtag(['report', '--run', run, '--watch', '0.5', '--progress', 'json'], env);
  assert.equal(watched.code, 3, watched.stderr);
  assert.match(watched.stderr, /has not moved for [\d:.]+ \(\d+\/30 shards committed\) and no worker holds a live lease: it is not running .*"imgtag run --run /);
  const refreshes = events(watched.stderr).filter((e) => e.event === 'watch');
  assert.ok(refreshes.length >= 2);
  assert.equal(typeof refreshes.at(-1)!.stalledSeconds, 'number');
  assert.equal(refreshes.at(-1)!.etaSeconds, undefined, 'no ETA for a run that is not running');
});
