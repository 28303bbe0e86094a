import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { size } from '../src/report/units.js';
import { readText, writeBytes } from '../src/storage/storage.js';
import { events, imgtag } from './helpers/cli.js';
import { CLI, IMAGENET_DIR, imagenetFiles } from './helpers/env.js';
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
  assert.deepEqual(plan.counts, { rows: 80, images: 60, skipped: 20, unchanged: 0, bytes: 0 });
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
  const mine = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(`imgtag-plan-${child.pid}-`));
  // Until the plan has its scratch folder (start-up takes seconds on a loaded machine); 3 M keys then take far longer.
  for (const end = Date.now() + 30_000; mine().length === 0 && Date.now() < end; ) await sleep(100);
  assert.equal(mine().length, 1, 'planning, with its scratch folder');
  assert.equal(fs.existsSync(stale), false, 'the next plan removed the killed one\'s scratch');
  const signalled = Date.now();
  child.kill('SIGTERM');
  assert.equal(await exited, 3, stderr);
  assert.ok(Date.now() - signalled < 5000, `stopped after ${Date.now() - signalled} ms`);
  assert.match(stderr, /SIGTERM while planning: stopped, nothing of it was published; exit 3/);
  assert.deepEqual(mine(), []);
  assert.equal(fs.existsSync(path.join(run, 'plan.json')), false);
});

test('a local folder as --prefix, through --include, --exclude, --min-bytes, --max-bytes and --modified-after; plan says the GB and, given --rate, hours and dollars', async () => {
  const dir = tmp();
  const photos = path.join(dir, 'photos');
  const photo = fs.readFileSync(path.join(IMAGENET_DIR, imagenetFiles()[0]!));
  const files: Record<string, Buffer> = { 'a/x.jpg': photo, 'a/tiny.jpg': photo.subarray(0, 100), 'a/old.jpg': photo, 'b/z.jpg': photo, 'b/y.PNG': photo, 'notes.txt': Buffer.from('not an image') };
  for (const [f, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(photos, f)), { recursive: true });
    fs.writeFileSync(path.join(photos, f), body);
  }
  fs.utimesSync(path.join(photos, 'a/old.jpg'), new Date('2020-01-01'), new Date('2020-01-01'));
  const plan = async (name: string, ...args: string[]) => {
    const run = path.join(dir, name);
    const res = await imgtag(['plan', '--prefix', photos, '--run', run, ...args]);
    assert.equal(res.code, 0, res.stderr);
    const uris = fs.readFileSync(path.join(run, 'shards/shard-00000.jsonl'), 'utf8').trim().split('\n').map((l) => path.relative(photos, JSON.parse(l).uri)).sort();
    return { uris, stdout: res.stdout, plan: JSON.parse(fs.readFileSync(path.join(run, 'plan.json'), 'utf8')) };
  };
  const all = await plan('all', '--rate', '10', '--instances', '2', '--instance', 'c7i.xlarge');
  assert.deepEqual(all.uris, ['a/old.jpg', 'a/tiny.jpg', 'a/x.jpg', 'b/y.PNG', 'b/z.jpg']);
  assert.equal(all.plan.counts.skipped, 1);
  assert.equal(all.plan.counts.bytes, 4 * photo.length + 100);
  assert.match(all.stdout, new RegExp(`^to read +${size(4 * photo.length + 100).replace('.', '\\.')}$`, 'm'));
  assert.match(all.stdout, /estimate +\d+:\d\d:\d\d on 2 x c7i\.xlarge: \$[\d.]+ on demand/);
  assert.equal(all.plan.options.filter, undefined);

  // Globs see the path under the folder; one without "/" matches the file name; plan.json records them.
  const jpg = await plan('jpg', '--include', '*.jpg', '--exclude', 'b/**');
  assert.deepEqual(jpg.uris, ['a/old.jpg', 'a/tiny.jpg', 'a/x.jpg']);
  assert.deepEqual(jpg.plan.options.filter, { include: ['*.jpg'], exclude: ['b/**'] });
  // An extension matches in any case, as the rule for what is an image does: *.png keeps y.PNG.
  assert.deepEqual((await plan('png', '--include', '*.png')).uris, ['b/y.PNG']);
  assert.deepEqual((await plan('PNG', '--include', 'b/*.PNG', '--exclude', '*.JPG')).uris, ['b/y.PNG']);
  // A filter that leaves no image says so plainly.
  const none = await imgtag(['plan', '--prefix', photos, '--run', path.join(dir, 'none'), '--include', '*.webp']);
  assert.equal(none.code, 0, none.stderr);
  assert.ok(events(none.stderr).some((e) => e.event === 'notice' && e.message === 'nothing to tag: the filters left out every image (5 images; globs match the key or the path under --prefix, a glob without "/" the file name)'), none.stderr);
  const sized = await plan('sized', '--min-bytes', '1000', '--max-bytes', String(photo.length));
  assert.deepEqual(sized.uris, ['a/old.jpg', 'a/x.jpg', 'b/y.PNG', 'b/z.jpg']);
  assert.equal(sized.plan.counts.filtered, 1);
  assert.match(sized.stdout, /left out by filters +1/);
  assert.deepEqual((await plan('new', '--modified-after', '2024-01-01')).uris, ['a/tiny.jpg', 'a/x.jpg', 'b/y.PNG', 'b/z.jpg']);

  // What cannot be judged is refused, with the reason; so is a folder that is not there.
  fs.writeFileSync(path.join(dir, 'keys.txt'), path.join(photos, 'a/x.jpg'));
  const dated = await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', path.join(dir, 'k'), '--modified-after', '2024-01-01']);
  assert.equal(dated.code, 1);
  assert.match(dated.stderr, /--modified-after: .*x\.jpg has no date in the manifest: it needs a --prefix listing/);
  const badDate = await imgtag(['plan', '--prefix', photos, '--run', path.join(dir, 'd'), '--modified-after', 'yesterday']);
  assert.equal(badDate.code, 1);
  assert.match(badDate.stderr, /--modified-after.*a date like 2026-11-30/);
  const missing = await imgtag(['plan', '--prefix', path.join(dir, 'nope'), '--run', path.join(dir, 'm')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^imgtag: --prefix .*nope: not a folder/m);
});
