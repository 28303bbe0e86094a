import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { resultFiles } from '../src/rundir/result-files.js';
import { listObjects, readText } from '../src/storage/storage.js';
import { joinUri } from '../src/storage/uri.js';
import { CLI } from './helpers/env.js';
import { imgtag } from './helpers/cli.js';
import { MOBILENET_TAGS, readRunResults } from './helpers/results.js';
import { photoPaths, photos, plannedLocalRun, plannedS3Run } from './helpers/planned.js';

async function commits(run: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const o of listObjects(joinUri(run, 'commits/'))) out.set(path.basename(o.uri), await readText(o.uri));
  return out;
}

async function waitForCommits(run: string, n: number): Promise<void> {
  for (let i = 0; i < 600 && (await commits(run)).size < n; i++) await sleep(50);
}

/** Start `imgtag run` in its own process group, so the whole run can be killed at once. */
function startRun(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [CLI, 'run', ...args], { env, detached: true, stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exited };
}

async function assertExactlyOnce(run: string, keys: string[]) {
  const { rows } = await readRunResults(run);
  assert.equal(rows.length, keys.length, 'one row per planned image');
  assert.deepEqual(rows.map((r) => String(r.key)).sort(), [...keys].sort(), 'no duplicates, none missing');
  assert.ok(rows.every((r) => Array.isArray(r[MOBILENET_TAGS])));
}

test('kill -9 a worker mid-run: the run goes on, the re-run finishes, committed shards are not redone', async () => {
  const files = photos(300, 60);
  const { run, env } = await plannedS3Run('kill', files, 6);

  const { child, exited } = startRun(['--run', run, '--workers', '2', '--batch-size', '2'], env);
  await waitForCommits(run, 2);
  const workers = execFileSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
  assert.equal(workers.length, 2);
  process.kill(workers[0]!, 'SIGKILL');
  const code = await exited;
  assert.ok(code === 3 || code === 0, `exit ${code}: 3 means "some shards unfinished, run again"`);
  const before = await commits(run);
  assert.ok(before.size >= 2);

  const again = await imgtag(['run', '--run', run, '--workers', '2'], env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`${10 - before.size} tagged, ${before.size} already done`));
  const after = await commits(run);
  assert.equal(after.size, 10);
  for (const [name, body] of before) assert.equal(after.get(name), body, `${name} was redone`);
  await assertExactlyOnce(run, files.map((f) => `img/${f}`));
});

test('kill -9 the whole run (parent and workers) twice at random points: re-runs finish with exactly one row per image', async () => {
  const files = photoPaths(360, 60);
  const { run } = await plannedLocalRun('kill', files, 5);
  for (const atLeast of [1, 4]) {
    const { child, exited } = startRun(['--run', run, '--workers', '2', '--batch-size', '2'], process.env);
    await waitForCommits(run, atLeast);
    // Short enough that a fast machine has not finished all 12 shards by then.
    await sleep(Math.random() * 100);
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
  }
  const before = await commits(run);
  assert.ok(before.size < 12, 'the kills must leave work to do');
  const again = await imgtag(['run', '--run', run]);
  assert.equal(again.code, 0, again.stderr);
  const after = await commits(run);
  for (const [name, body] of before) assert.equal(after.get(name), body, `${name} was redone`);
  await assertExactlyOnce(run, files);
  // Half-written files from the killed processes are never taken for results: the 12 staged shards
  // became the run's one compacted file, and no staged Parquet is left.
  assert.deepEqual(fs.readdirSync(path.join(run, 'staging')).filter((f) => f.endsWith('.parquet')), []);
  assert.equal((await resultFiles(run)).length, 1);
});

test('a committed shard whose Parquet was truncated (its marker intact) is redone, not trusted: rows == images', async () => {
  const files = photoPaths(300, 12);
  const { run } = await plannedLocalRun('truncated', files, 4);
  const first = await imgtag(['run', '--run', run, '--no-compact']);
  assert.equal(first.code, 0, first.stderr);
  const staged = path.join(run, 'staging', 'part-00001.parquet');
  const marker = JSON.parse(fs.readFileSync(path.join(run, 'commits', 'part-00001.json'), 'utf8')) as { resultBytes: number; resultSha256: string };
  assert.equal(marker.resultBytes, fs.statSync(staged).size, 'the marker records the file it commits');
  assert.match(marker.resultSha256, /^[0-9a-f]{64}$/);
  fs.truncateSync(staged, 500);
  const report = await imgtag(['report', '--run', run]);
  assert.equal(report.code, 1, 'a report never counts a damaged shard as done');
  assert.match(report.stderr, /staging\/part-00001\.parquet has 500 bytes where its commit marker says \d+: run "imgtag run --run \S+" to redo shard 1/);
  const again = await imgtag(['run', '--run', run]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /1 tagged, 2 already done/);
  await assertExactlyOnce(run, files);
});

test('a garbled commit marker or plan.json is a clear error that names the file', async () => {
  const { run } = await plannedLocalRun('garbled', photoPaths(320, 4), 2);
  const marker = path.join(run, 'commits', 'part-00000.json');
  fs.mkdirSync(path.dirname(marker), { recursive: true });
  fs.writeFileSync(marker, 'garbage{{{');
  const bad = await imgtag(['run', '--run', run]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^imgtag: \S+commits\/part-00000\.json is damaged: delete it \(and the shard's Parquet\) to redo the shard$/m);
  fs.rmSync(marker);
  fs.writeFileSync(path.join(run, 'plan.json'), '{"version": 1, "sha');
  const plan = await imgtag(['run', '--run', run]);
  assert.equal(plan.code, 1);
  assert.match(plan.stderr, /^imgtag: \S+plan\.json is damaged \(not JSON\): restore it, or plan the run again into a new directory$/m);
});

test('kill -9 the run alone: its workers stop at once instead of tagging on for nobody; the re-run finishes', async () => {
  const files = photoPaths(380, 40);
  const { run } = await plannedLocalRun('orphans', files, 4);
  const { child, exited } = startRun(['--run', run, '--workers', '2', '--batch-size', '2'], process.env);
  await waitForCommits(run, 1);
  const workers = execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).trim().split('\n').map(Number);
  assert.equal(workers.length, 2);
  process.kill(child.pid!, 'SIGKILL');
  await exited;
  const alive = () => workers.filter((pid) => {
    try {
      process.kill(pid, 0);
      return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  });
  for (let i = 0; i < 50 && alive().length > 0; i++) await sleep(100);
  assert.deepEqual(alive(), [], 'no worker outlives its run by more than 5 s');
  const again = await imgtag(['run', '--run', run]);
  assert.equal(again.code, 0, again.stderr);
  await assertExactlyOnce(run, files);
});

test('SIGTERM mid-shard (a spot reclaim, docker stop): the run stops within its stop timeout, exit 3, no lease held; the re-run tags every image exactly once', async () => {
  const files = photos(100, 240);
  const { run, env } = await plannedS3Run('sigterm', files, 40);
  const { child, exited } = startRun(['--run', run, '--workers', '2', '--batch-size', '1', '--stop-timeout', '0.5'], env);
  await waitForCommits(run, 1);
  const signalled = Date.now();
  // As docker stop and AWS Batch do it: to the run's process alone, which tells its workers.
  process.kill(child.pid!, 'SIGTERM');
  const code = await exited;
  const seconds = (Date.now() - signalled) / 1000;
  assert.equal(code, 3, 'exit 3: interrupted, run again');
  assert.ok(seconds < 0.5 + 10, `stopped ${seconds.toFixed(1)} s after SIGTERM`);
  const leases: string[] = [];
  for await (const o of listObjects(joinUri(run, 'leases/'))) leases.push(o.uri);
  assert.deepEqual(leases, [], 'every lease released at once (none left to go stale)');
  const before = await commits(run);
  assert.ok(before.size < 6, 'the stop left shards to do');

  const again = await imgtag(['run', '--run', run, '--workers', '2'], env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`${6 - before.size} tagged, ${before.size} already done`));
  await assertExactlyOnce(run, files.map((f) => `img/${f}`));
});

test('SIGTERM to one worker alone: it takes no more shards, the other worker finishes them all, exit 0', async () => {
  const files = photoPaths(100, 80);
  const { run } = await plannedLocalRun('lone-stop', files, 4);
  const { child, exited } = startRun(['--run', run, '--workers', '2', '--batch-size', '2', '--threads', '1'], process.env);
  await waitForCommits(run, 2);
  const workers = execFileSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
  assert.equal(workers.length, 2);
  process.kill(workers[0]!, 'SIGTERM');
  assert.equal(await exited, 0, 'the run is not stopping: the healthy worker takes the stopped one\'s shards');
  assert.equal((await commits(run)).size, 20, 'every shard committed');
  await assertExactlyOnce(run, files);
});
