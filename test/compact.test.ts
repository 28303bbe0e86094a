import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { resultFiles } from '../src/rundir/result-files.js';
import { imgtag } from './helpers/cli.js';
import { duckdb } from './helpers/duckdb.js';
import { CLI, IMAGENET_DIR, imagenetFiles } from './helpers/env.js';
import { photoPaths, plannedLocalRun } from './helpers/planned.js';
import { MOBILENET_TAGS, readRunResults } from './helpers/results.js';

const parquetIn = (dir: string): string[] =>
  fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet')).map((f) => path.join(dir, f)) : [];

/** `n` distinct local keys: links to the ImageNet samples in as many folders as it takes. */
function manyPhotos(n: number): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-many-'));
  const files = imagenetFiles();
  return Array.from({ length: n }, (_, i) => {
    const sub = path.join(dir, `copy-${Math.floor(i / files.length)}`);
    fs.mkdirSync(sub, { recursive: true });
    const link = path.join(sub, files[i % files.length]!);
    fs.symlinkSync(path.join(IMAGENET_DIR, files[i % files.length]!), link);
    return link;
  });
}

test('1,200 images in 24 shards end as one sorted file in the dataset, one row each, read alike by DuckDB and hyparquet', async () => {
  const keys = manyPhotos(1200);
  const { run } = await plannedLocalRun('compact-1k', keys, 50);
  const res = await imgtag(['run', '--run', run, '--workers', '2', '--batch-size', '32']);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /^dataset\s+compacted into 1 file(?:\(s\))?, 1,?200 rows/m);

  const dataset = path.join(run, 'tags');
  const files = parquetIn(dataset);
  assert.ok(files.length >= 1 && files.length <= 2, `${files.length} data files`);
  assert.ok(files.every((f) => /[/\\]run_date=\d{4}-\d{2}-\d{2}[/\\]/.test(f)), 'Hive-style run_date partitions');
  assert.deepEqual(parquetIn(path.join(run, 'staging')), [], 'the staged shard files are gone');
  assert.deepEqual(await resultFiles(run), files);

  const [stats] = await duckdb(
    `SELECT count(*) AS n, count(DISTINCT key) AS keys, count(run_id) AS run_ids, count(DISTINCT run_id) AS runs, count(tagged_at) AS times, ` +
      `min(run_date)::VARCHAR AS day, count(${MOBILENET_TAGS}) AS tagged FROM read_parquet('${dataset}/**/*.parquet', hive_partitioning = true)`,
  );
  assert.deepEqual(stats, { n: '1200', keys: '1200', run_ids: '1200', runs: '1', times: '1200', day: new Date().toISOString().slice(0, 10), tagged: '1200' });
  const { rows, columns } = await readRunResults(run);
  assert.equal(rows.length, 1200);
  assert.deepEqual(new Set(rows.map((r) => r.key)), new Set(keys));
  assert.ok(columns.includes('run_id') && columns.includes('tagged_at'));
  const sorted = rows.map((r) => String(r.key));
  assert.deepEqual(sorted, [...sorted].sort(), 'rows sorted by key');
  assert.ok(rows.every((r) => r.tagged_at instanceof Date && typeof r.run_id === 'string'));
});

test('column names do not depend on the order of the --model flags', async () => {
  const keys = photoPaths(0, 4);
  const orders = [['mobilenetv2-12-int8', 'squeezenet1.1'], ['squeezenet1.1', 'mobilenetv2-12-int8']];
  const columns: string[][] = [];
  for (const models of orders) {
    const { run } = await plannedLocalRun('model-order', keys, 4);
    const res = await imgtag(['run', '--run', run, ...models.flatMap((m) => ['--model', m])]);
    assert.equal(res.code, 0, res.stderr);
    columns.push((await readRunResults(run)).columns);
  }
  assert.deepEqual(columns[0], columns[1]);
  assert.ok(columns[0]!.includes('tags_squeezenet1_1') && columns[0]!.includes(MOBILENET_TAGS));
});

/** A run of 400 images tagged once, staged but not compacted: copied for each experiment. */
async function stagedRun(): Promise<{ run: string; keys: string[] }> {
  const keys = manyPhotos(400);
  const { run } = await plannedLocalRun('compact-kill', keys, 10);
  const res = await imgtag(['run', '--run', run, '--workers', '2', '--no-compact']);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(parquetIn(path.join(run, 'staging')).length, 40);
  assert.equal(fs.existsSync(path.join(run, 'tags')), false, 'nothing in the dataset before compaction');
  return { run, keys };
}

function copyRun(run: string): string {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-copy-'));
  fs.cpSync(run, copy, { recursive: true });
  return copy;
}

/** What any reader sees now: the run's files (resultFiles) and everything in the dataset folder. */
async function assertNeverDoubled(run: string, keys: string[], when: string) {
  const { rows } = await readRunResults(run);
  assert.equal(rows.length, keys.length, `${when}: the run's files hold one row per image`);
  assert.equal(new Set(rows.map((r) => r.key)).size, keys.length, `${when}: no key twice`);
  const inDataset = parquetIn(path.join(run, 'tags'));
  if (inDataset.length > 0) {
    const [d] = await duckdb(`SELECT count(*) AS n, count(DISTINCT key) AS k FROM read_parquet([${inDataset.map((f) => `'${f}'`).join(',')}])`);
    assert.equal(d!.n, d!.k, `${when}: the dataset never holds a row twice`);
  }
}

test('kill -9 during compaction at several points, then compact again: exactly one row per image, never doubled', async () => {
  const { run, keys } = await stagedRun();
  // Each shard its own merged file (a tiny target), so a kill can land between any two steps.
  const args = (dir: string) => [CLI, 'compact', '--run', dir, '--target-file-mb', '0.001'];
  // [moment, reached?, must the process still be running then?]: removing 40 local files after
  // done.json may be over before the kill lands.
  const moments: [string, (dir: string) => boolean, boolean][] = [
    ['after compaction/plan.json', (d) => fs.existsSync(path.join(d, 'compaction', 'plan.json')), true],
    ['after 3 merged files', (d) => fs.existsSync(path.join(d, 'compaction', 'group-00002.json')), true],
    ['after 25 merged files', (d) => fs.existsSync(path.join(d, 'compaction', 'group-00024.json')), true],
    ['after done.json, while staged files are removed', (d) => fs.existsSync(path.join(d, 'compaction', 'done.json')), false],
  ];
  for (const [when, reached, running] of moments) {
    const dir = copyRun(run);
    const child = spawn(process.execPath, args(dir), { stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    for (let i = 0; i < 4000 && !reached(dir) && child.exitCode === null; i++) await sleep(2);
    if (running) assert.equal(child.exitCode, null, `the kill ${when} came after compaction had finished`);
    assert.ok(reached(dir), `compaction never got ${when}`);
    child.kill('SIGKILL');
    await exited;
    await assertNeverDoubled(dir, keys, `killed ${when}`);
    const again = await imgtag(args(dir).slice(1));
    assert.equal(again.code, 0, again.stderr);
    await assertNeverDoubled(dir, keys, `re-run after a kill ${when}`);
    assert.equal(parquetIn(path.join(dir, 'tags')).length, 40, `${when}: one merged file per group`);
    assert.deepEqual(parquetIn(path.join(dir, 'staging')), []);
  }
});

test('compaction on the fleet: merge-only children in parallel, one killed with -9, then the last step: exactly one row per image', async () => {
  const { run, keys } = await stagedRun();
  const dir = copyRun(run);
  // Short leases: a child killed while it holds the run's lock (making the plan) or a file's is waited out in seconds.
  const env = { ...process.env, IMGTAG_LEASE_TTL_MS: '4000' };
  const merge = () => {
    const child = spawn(process.execPath, [CLI, 'compact', '--run', dir, '--target-file-mb', '0.001', '--merge-only'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    return { child, exited: new Promise<{ code: number | null; out: string }>((r) => child.on('exit', (code) => r({ code, out }))) };
  };
  const [a, b] = [merge(), merge()];
  const marked = () => (fs.existsSync(path.join(dir, 'compaction')) ? fs.readdirSync(path.join(dir, 'compaction')).filter((f) => /^group-\d+\.json$/.test(f)).length : 0);
  for (let i = 0; i < 4000 && marked() < 6 && a.child.exitCode === null; i++) await sleep(2);
  a.child.kill('SIGKILL');
  await a.exited;
  const survivor = await b.exited;
  assert.equal(survivor.code, 0, survivor.out);
  assert.match(survivor.out, /of its files merged here; the last step is the compact job's/);
  assert.equal(fs.existsSync(path.join(dir, 'compaction', 'done.json')), false, 'merge-only children never write done.json');
  await assertNeverDoubled(dir, keys, 'after the merge children');
  // The last step (the job that depends on the merge array): merges what the killed child left, then done.json.
  const last = await imgtag(['compact', '--run', dir, '--target-file-mb', '0.001'], env);
  assert.equal(last.code, 0, last.stderr);
  await assertNeverDoubled(dir, keys, 'after the last step');
  assert.equal(parquetIn(path.join(dir, 'tags')).length, 40);
  assert.deepEqual(parquetIn(path.join(dir, 'staging')), []);

  // Locally, --workers merges several files at once, to the same result.
  const local = copyRun(run);
  const workers = await imgtag(['compact', '--run', local, '--target-file-mb', '0.001', '--workers', '3']);
  assert.equal(workers.code, 0, workers.stderr);
  await assertNeverDoubled(local, keys, 'with --workers 3');
  assert.equal(parquetIn(path.join(local, 'tags')).length, 40);
});

test('the last step waits out a group a dead fleet child on another host still leases, then merges it: exit 0, every row once', async () => {
  const { run, keys } = await stagedRun();
  const dir = copyRun(run);
  // A reclaimed merge child's lease: another host (its process cannot be checked), 3 s to live.
  fs.mkdirSync(path.join(dir, 'compaction', 'leases'), { recursive: true });
  const lease = { owner: 'reclaimed-host:1:abcd', since: new Date().toISOString(), expiresAt: new Date(Date.now() + 3000).toISOString() };
  fs.writeFileSync(path.join(dir, 'compaction', 'leases', 'group-00000.json'), JSON.stringify(lease));
  const started = Date.now();
  const last = await imgtag(['compact', '--run', dir, '--target-file-mb', '0.001'], { ...process.env, IMGTAG_LEASE_TTL_MS: '3000' });
  assert.equal(last.code, 0, last.stderr);
  assert.ok(Date.now() - started >= 2000, 'it waited for the lease to expire');
  assert.match(last.stdout, /compacted into 40 files?(?:\(s\))?, 400 rows/);
  await assertNeverDoubled(dir, keys, 'after the wait');
});

test('compaction refuses an unfinished run, and stops at a damaged shard file naming it, losing nothing', async () => {
  const { run, keys } = await stagedRun();
  const dir = copyRun(run);
  fs.rmSync(path.join(dir, 'commits', 'part-00007.json'));
  const unfinished = await imgtag(['compact', '--run', dir]);
  assert.equal(unfinished.code, 3, unfinished.stderr);
  assert.match(unfinished.stderr, /not every shard is committed: run "imgtag run --run/);
  assert.match(unfinished.stdout, /not compacted: 39 of 40 shards committed/);

  const damaged = copyRun(run);
  const victim = path.join(damaged, 'staging', 'part-00031.parquet');
  const good = fs.readFileSync(victim);
  fs.writeFileSync(victim, good.subarray(0, 500));
  const res = await imgtag(['compact', '--run', damaged, '--target-file-mb', '0.02']);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /part-00031\.parquet is damaged/);
  assert.equal(res.stderr.trim().split('\n').length, 1, 'one line');
  // Files merged before it stay; the staged files are all still there, and readers still see every row once.
  assert.ok(parquetIn(path.join(damaged, 'tags')).length > 0);
  assert.equal(parquetIn(path.join(damaged, 'staging')).length, 40);
  fs.writeFileSync(victim, good);
  const fixed = await imgtag(['compact', '--run', damaged, '--target-file-mb', '0.02']);
  assert.equal(fixed.code, 0, fixed.stderr);
  await assertNeverDoubled(damaged, keys, 'after the repair');
});

test('a damaged compacted file is named by run, report and verify, never trusted; verify --repair and run make it again with every row', async () => {
  const keys = photoPaths(0, 60);
  const { run } = await plannedLocalRun('damaged', keys, 10);
  assert.equal((await imgtag(['run', '--run', run, '--no-compact'])).code, 0);
  const first = await imgtag(['compact', '--run', run, '--target-file-mb', '0.001']);
  assert.equal(first.code, 0, first.stderr);
  const files = parquetIn(path.join(run, 'tags')).sort();
  assert.ok(files.length >= 2, `${files.length} compacted files: one is damaged, the others stay`);
  assert.equal((await imgtag(['verify', '--run', run])).code, 0);
  // Truncated, as a bad copy or a partial restore leaves it.
  fs.truncateSync(files[0]!, Math.floor(fs.statSync(files[0]!).size / 2));

  const again = await imgtag(['run', '--run', run]);
  assert.equal(again.code, 1, again.stdout);
  assert.match(again.stderr, new RegExp(`${path.basename(files[0]!)} is \\d+ bytes where done.json records \\d+: the run's dataset is damaged`));
  assert.doesNotMatch(again.stdout, /already compacted/);
  const report = await imgtag(['report', '--run', run]);
  assert.notEqual(report.code, 0);
  assert.match(report.stderr, /the run's dataset is damaged/);
  const verify = await imgtag(['verify', '--run', run]);
  assert.equal(verify.code, 1);
  assert.match(verify.stderr, new RegExp(`${path.basename(files[0]!)} is \\d+ bytes where done.json records`));

  const repair = await imgtag(['verify', '--run', run, '--repair']);
  assert.equal(repair.code, 0, repair.stderr);
  assert.match(repair.stdout, /1 file\(s\) to make again from \d+ shard\(s\)/);
  const fixed = await imgtag(['run', '--run', run]);
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.match(fixed.stdout, /^shards\s+[1-5] tagged/m);
  assert.equal((await imgtag(['verify', '--run', run])).code, 0);
  const { rows } = await readRunResults(run);
  assert.deepEqual(rows.map((r) => String(r.key)).sort(), [...keys].sort(), 'every row once');
});

test('verify sees the dataset folder whole: an extra copy of a compacted file, and a file gone from both done.json and the folder, are named; --repair deletes the copy and makes the lost file again', async () => {
  const keys = photoPaths(0, 60);
  const { run } = await plannedLocalRun('whole', keys, 10);
  assert.equal((await imgtag(['run', '--run', run, '--no-compact'])).code, 0);
  assert.equal((await imgtag(['compact', '--run', run, '--target-file-mb', '0.001'])).code, 0);
  const files = parquetIn(path.join(run, 'tags')).sort();
  assert.ok(files.length >= 2, `${files.length} compacted files`);

  // A copy beside the file (a bad restore): readers of the folder would read its rows twice.
  const copy = path.join(path.dirname(files[0]!), `copy of ${path.basename(files[0]!)}`);
  fs.copyFileSync(files[0]!, copy);
  const extra = await imgtag(['verify', '--run', run]);
  assert.equal(extra.code, 1);
  assert.match(extra.stderr, new RegExp(`copy of ${path.basename(files[0]!)} is a copy of ${path.basename(files[0]!)} that done.json does not list: readers of the folder get its \\d+ rows twice`));
  const refused = await imgtag(['run', '--run', run]);
  assert.equal(refused.code, 1, 'run does not call it compacted');
  assert.match(refused.stderr, /is in the dataset folder but not in done.json/);
  const repaired = await imgtag(['verify', '--run', run, '--repair']);
  assert.equal(repaired.code, 0, repaired.stderr);
  assert.match(repaired.stdout, /0 file\(s\) to make again from 0 shard\(s\), 1 copy\(ies\) deleted/);
  assert.ok(!fs.existsSync(copy));
  assert.equal((await imgtag(['verify', '--run', run])).code, 0);

  // A file gone from the folder and from done.json, its totals edited to match: its rows are lost.
  const donePath = path.join(run, 'compaction', 'done.json');
  const done = JSON.parse(fs.readFileSync(donePath, 'utf8')) as { rows: number; bytes: number; files: { uri: string; rows: number; bytes: number }[] };
  const lost = done.files.find((f) => path.resolve(f.uri) === path.resolve(files[1]!))!;
  fs.writeFileSync(donePath, JSON.stringify({ ...done, rows: done.rows - lost.rows, bytes: done.bytes - lost.bytes, files: done.files.filter((f) => f !== lost) }));
  fs.rmSync(files[1]!);
  const missing = await imgtag(['verify', '--run', run]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, new RegExp(`${path.basename(files[1]!)} is in compaction/plan.json \\(${lost.rows} rows of shard\\(s\\) [\\d, ]+\\) but not in done.json`));
  const again = await imgtag(['run', '--run', run]);
  assert.equal(again.code, 1);
  assert.doesNotMatch(again.stdout, /already compacted/);
  assert.equal((await imgtag(['verify', '--run', run, '--repair'])).code, 0);
  assert.equal((await imgtag(['run', '--run', run])).code, 0);
  assert.equal((await imgtag(['verify', '--run', run])).code, 0);
  const { rows } = await readRunResults(run);
  assert.deepEqual(rows.map((r) => String(r.key)).sort(), [...keys].sort(), 'every row once');
});
