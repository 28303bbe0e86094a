import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { readText, writeBytes } from '../src/storage/storage.js';
import { imgtag } from './helpers/cli.js';
import { CLI } from './helpers/env.js';
import { newBucket, testS3 } from './helpers/s3.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-plan-'));

function keyList(bucket: string, n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(`s3://${bucket}/img/${i}.${['jpg', 'JPEG', 'png', 'webp', 'txt', 'json', 'Tif', 'heic'][i % 8]}`);
  }
  return lines.join('\n') + '\n';
}

test('plan keeps image objects only, writes plan.json and shards of --shard-size, byte-identical every time', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('plan');
  await writeBytes(`s3://${bucket}/keys.txt`, keyList(bucket, 80));
  const runs = [`s3://${bucket}/runs/a`, path.join(tmp(), 'b')];
  for (const run of runs) {
    const res = await imgtag(['plan', '--manifest', `s3://${bucket}/keys.txt`, '--run', run, '--shard-size', '25'], s3.env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /images\s+60/);
  }
  const plan = JSON.parse(await readText(`${runs[0]}/plan.json`));
  assert.deepEqual(plan.counts, { rows: 80, images: 60, skipped: 20, unchanged: 0 });
  assert.equal(plan.shards, 3);
  assert.deepEqual(plan.options, { shardSize: 25 });
  for (let i = 0; i < 3; i++) {
    const name = `shards/shard-0000${i}.jsonl`;
    const a = await readText(`${runs[0]}/${name}`);
    assert.equal(a, await readText(path.join(runs[1]!, name)), `${name} differs between two plans`);
    assert.equal(a.trim().split('\n').length, i < 2 ? 25 : 10);
    assert.ok(a.split('\n').every((l) => l === '' || !/\.(txt|json)"/.test(l)));
  }
});

test('--shards N spreads images by hash: every image in exactly one shard, deterministically', async () => {
  const dir = tmp();
  const list = path.join(dir, 'keys.txt');
  fs.writeFileSync(list, keyList('bkt', 200));
  for (const run of ['r1', 'r2']) {
    const res = await imgtag(['plan', '--manifest', list, '--run', path.join(dir, run), '--shards', '7']);
    assert.equal(res.code, 0, res.stderr);
  }
  const all: string[] = [];
  for (let i = 0; i < 7; i++) {
    const a = fs.readFileSync(path.join(dir, 'r1/shards', `shard-0000${i}.jsonl`), 'utf8');
    assert.equal(a, fs.readFileSync(path.join(dir, 'r2/shards', `shard-0000${i}.jsonl`), 'utf8'));
    all.push(...a.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).uri as string));
  }
  assert.equal(all.length, 150);
  assert.equal(new Set(all).size, 150);
});

test('plan refuses bad options and a run directory that already has results', async () => {
  const dir = tmp();
  const list = path.join(dir, 'keys.txt');
  fs.writeFileSync(list, keyList('bkt', 8));
  const both = await imgtag(['plan', '--manifest', list, '--run', path.join(dir, 'r'), '--shards', '2', '--shard-size', '3']);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /cannot be used with/);
  const zero = await imgtag(['plan', '--manifest', list, '--run', path.join(dir, 'r'), '--shard-size', '0']);
  assert.equal(zero.code, 1);
  assert.match(zero.stderr, /must be an integer >= 1/);
  const missing = await imgtag(['plan', '--manifest', path.join(dir, 'nope.txt'), '--run', path.join(dir, 'r')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /imgtag: not found: .*nope\.txt/);
  fs.mkdirSync(path.join(dir, 'r/commits'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'r/commits/part-00000.json'), '{}');
  const again = await imgtag(['plan', '--manifest', list, '--run', path.join(dir, 'r')]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already has committed shards/);
});

test('SIGTERM during a long plan: stopped within seconds, exit 3, nothing planned, its scratch folder gone; a killed plan\'s scratch is removed by the next', async () => {
  const dir = tmp();
  // A scratch folder of a process that no longer exists (kill -9 leaves it).
  const stale = path.join(os.tmpdir(), 'imgtag-plan-999999999-stale');
  fs.mkdirSync(stale, { recursive: true });
  const keys = path.join(dir, 'keys.txt');
  fs.writeFileSync(keys, keyList('big-bucket', 3_000_000));
  const run = path.join(dir, 'run');
  const child = spawn(process.execPath, [CLI, 'plan', '--manifest', keys, '--run', run], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await sleep(1500);
  assert.equal(fs.existsSync(stale), false, 'the next plan removed the killed one\'s scratch');
  const mine = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(`imgtag-plan-${child.pid}-`));
  assert.equal(mine().length, 1, 'planning, with its scratch folder');
  const signalled = Date.now();
  child.kill('SIGTERM');
  assert.equal(await exited, 3, stderr);
  assert.ok(Date.now() - signalled < 5000, `stopped after ${Date.now() - signalled} ms`);
  assert.match(stderr, /SIGTERM while planning: stopped, nothing of it was published; exit 3/);
  assert.deepEqual(mine(), []);
  assert.equal(fs.existsSync(path.join(run, 'plan.json')), false);
});
