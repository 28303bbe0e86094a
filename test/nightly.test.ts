import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { listObjects, writeBytes } from '../src/storage/storage.js';
import { imgtag } from './helpers/cli.js';
import { IMAGENET_DIR, imagenetFiles } from './helpers/env.js';
import { readRunResults } from './helpers/results.js';
import { newBucket, testS3 } from './helpers/s3.js';

const photo = (i: number) => fs.readFileSync(path.join(IMAGENET_DIR, imagenetFiles()[i]!));
const field = (out: string, name: string) => new RegExp(`^${name}\\s+(.*)$`, 'm').exec(out)?.[1];

test('nightly tags only new and changed objects; the union of latest rows covers every object once', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('nightly');
  for (let i = 0; i < 20; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(i));
  const nightly = () => imgtag(['nightly', '--root', `s3://${bucket}/nightly`, '--prefix', `s3://${bucket}/img/`, '--shard-size', '8'], s3.env);

  const first = await nightly();
  assert.equal(first.code, 0, first.stderr);
  assert.equal(field(first.stdout, 'images'), '20');
  assert.equal(field(first.stdout, 'parent'), '(none: first run)');

  for (let i = 20; i < 30; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(i));
  for (const i of [3, 7]) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(100 + i));
  const second = await nightly();
  assert.equal(second.code, 0, second.stderr);
  assert.equal(field(second.stdout, 'images'), '12', second.stdout);
  assert.equal(field(second.stdout, 'unchanged since parent'), '18');
  assert.equal(field(second.stdout, 'parent'), field(first.stdout, 'run'));

  const current = new Map<string, string>();
  for await (const o of listObjects(`s3://${bucket}/img/`)) current.set(o.uri.split('/img/')[1]!, o.etag!);
  const latest = new Map<string, Record<string, unknown>>();
  for (const run of [field(first.stdout, 'run')!, field(second.stdout, 'run')!]) {
    for (const r of (await readRunResults(run)).rows) latest.set(String(r.key).replace('img/', ''), r);
  }
  assert.equal(latest.size, 30);
  for (const [key, etag] of current) assert.equal(latest.get(key)?.etag, etag, `${key}: the latest row must be of the current object`);
  const secondKeys = (await readRunResults(field(second.stdout, 'run')!)).rows.map((r) => String(r.key)).sort();
  assert.deepEqual(secondKeys, ['img/20.jpg', 'img/21.jpg', 'img/22.jpg', 'img/23.jpg', 'img/24.jpg', 'img/25.jpg', 'img/26.jpg', 'img/27.jpg', 'img/28.jpg', 'img/29.jpg', 'img/3.jpg', 'img/7.jpg']);

  // Nothing new: nothing written, no run folder, no new table version, and said so.
  const objects = async () => {
    const all: string[] = [];
    for await (const o of listObjects(`s3://${bucket}/nightly/`)) if (!o.uri.endsWith('nightly.lock')) all.push(`${o.uri} ${o.etag}`);
    return all.sort();
  };
  const before = await objects();
  const third = await nightly();
  assert.equal(third.code, 0, third.stderr);
  assert.equal(field(third.stdout, 'images'), '0');
  assert.equal(field(third.stdout, 'unchanged since parent'), '30');
  assert.match(field(third.stdout, 'run')!, /^none: nothing new, changed or deleted since the parent, so the dataset and the current table are as they were$/);
  assert.match(third.stderr, /"event":"nightly-unchanged"/);
  assert.deepEqual(await objects(), before);
});

test('a second nightly is refused while one holds the lock: a normal overlap, exit 0 with an event saying so', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-nightly-'));
  fs.writeFileSync(path.join(root, 'keys.txt'), path.join(IMAGENET_DIR, imagenetFiles()[0]!));
  const holder = { owner: 'cron-host:4242:abcd', since: '2026-11-23T01:00:00.000Z', expiresAt: new Date(Date.now() + 600_000).toISOString() };
  fs.writeFileSync(path.join(root, 'nightly.lock'), JSON.stringify(holder));
  const res = await imgtag(['nightly', '--root', root, '--manifest', path.join(root, 'keys.txt')]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stderr, /"event":"nightly-busy"/);
  assert.match(res.stderr, /nothing started tonight, the previous nightly is still going: another nightly run holds .*nightly\.lock \(owner cron-host:4242:abcd, since 2026-11-23T01:00:00.000Z\)/);
  assert.equal(fs.existsSync(path.join(root, 'runs')), false, 'nothing was planned');
});

/** A nightly root whose previous run was planned and left unfinished, shard 0 held by another host's worker right now. */
async function heldPreviousRun(name: string): Promise<{ root: string; keys: string; run: string }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `imgtag-nightly-${name}-`));
  const keys = path.join(root, 'keys.txt');
  fs.writeFileSync(keys, imagenetFiles().slice(0, 4).map((f) => path.join(IMAGENET_DIR, f)).join('\n'));
  const run = path.join(root, 'runs', 'previous');
  assert.equal((await imgtag(['plan', '--manifest', keys, '--run', run, '--shard-size', '2'])).code, 0);
  fs.writeFileSync(path.join(root, 'nightly.json'), JSON.stringify({ version: 1, run }));
  fs.mkdirSync(path.join(run, 'leases'), { recursive: true });
  const live = { owner: 'other-host:7:abcd', since: new Date().toISOString(), expiresAt: new Date(Date.now() + 60_000).toISOString() };
  fs.writeFileSync(path.join(run, 'leases', 'part-00000.json'), JSON.stringify(live));
  return { root, keys, run };
}

test('a previous nightly run with a shard under another host\'s live lease: exit 3 (run again later), not 1, and a line saying so', async () => {
  const { root, keys } = await heldPreviousRun('held');
  const res = await imgtag(['nightly', '--root', root, '--manifest', keys]);
  assert.equal(res.code, 3, res.stderr);
  assert.match(res.stderr, /has 1 shard\(s\) held by another worker's lease: run the nightly again later: exit 3/);
});

test('nightly --include/--exclude: only the keys kept are tagged and in the current table; a key the filters later leave out leaves it as a deletion', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('nightly-filter');
  for (let i = 0; i < 6; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(i));
  for (let i = 6; i < 8; i++) await writeBytes(`s3://${bucket}/img/${i}.png`, photo(i));
  const nightly = (...filters: string[]) => imgtag(['nightly', '--root', `s3://${bucket}/nightly`, '--prefix', `s3://${bucket}/img/`, '--shard-size', '8', ...filters], s3.env);

  const jpegsOnly = await nightly('--include', '*.jpg');
  assert.equal(jpegsOnly.code, 0, jpegsOnly.stderr);
  assert.equal(field(jpegsOnly.stdout, 'images'), '6');
  assert.match(field(jpegsOnly.stdout, 'left out by filters') ?? '', /^2 /);
  const tagged = (await readRunResults(field(jpegsOnly.stdout, 'run')!)).rows.map((r) => String(r.key)).sort();
  assert.deepEqual(tagged, ['img/0.jpg', 'img/1.jpg', 'img/2.jpg', 'img/3.jpg', 'img/4.jpg', 'img/5.jpg']);

  // Without filters the PNGs are new; nothing is deleted.
  const all = await nightly();
  assert.equal(all.code, 0, all.stderr);
  assert.equal(field(all.stdout, 'images'), '2');
  assert.equal(field(all.stdout, 'new objects'), '2');
  assert.equal(field(all.stdout, 'deleted since parent'), '0');
  assert.equal(field(all.stdout, 'left out by filters'), undefined);

  // Leaving them out again takes them out of the current table: 2 of 8 is over the default 10% share, refused.
  const refused = await nightly('--exclude', '*.png');
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(refused.stderr, /delete/i);
  const dropped = await nightly('--exclude', '*.png', '--max-deletions', '0.5');
  assert.equal(dropped.code, 0, dropped.stderr);
  assert.equal(field(dropped.stdout, 'images'), '0');
  assert.equal(field(dropped.stdout, 'deleted since parent'), '2');
});

test('nightly --abandon-previous: an operator gives up the previous unfinished run; tonight plans again what it would have tagged, and it never becomes the table', async () => {
  // The previous night's run, stuck (its fleet job stopped by hand).
  const { root, keys, run } = await heldPreviousRun('abandon');
  assert.equal((await imgtag(['nightly', '--root', root, '--manifest', keys])).code, 3, 'without it: retry later');

  const res = await imgtag(['nightly', '--root', root, '--manifest', keys, '--abandon-previous']);
  assert.equal(res.code, 0, res.stderr);
  assert.match(field(res.stdout, 'abandoned') ?? '', /previous \(not finished; planned again from the current table\)/);
  assert.equal(field(res.stdout, 'images'), '4');
  const table = JSON.parse(fs.readFileSync(path.join(root, 'current.json'), 'utf8')) as { run: string; rows: number };
  assert.deepEqual([table.rows, table.run === run], [4, false]);
  // The next night knows nothing of it.
  const next = await imgtag(['nightly', '--root', root, '--manifest', keys]);
  assert.equal(next.code, 0, next.stderr);
  assert.equal(field(next.stdout, 'abandoned'), undefined);
});
