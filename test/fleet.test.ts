import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { resultFiles } from '../src/rundir/result-files.js';
import { writeBytes } from '../src/storage/storage.js';
import { imgtag } from './helpers/cli.js';
import { IMAGENET_DIR, imagenetFiles } from './helpers/env.js';
import { readRunResults } from './helpers/results.js';
import { newBucket, testS3 } from './helpers/s3.js';
import { photoPaths, photos, plannedLocalRun, plannedS3Run } from './helpers/planned.js';

const withoutIndex = () => {
  const env = { ...process.env };
  delete env.AWS_BATCH_JOB_ARRAY_INDEX;
  delete env.JOB_COMPLETION_INDEX;
  delete env.AWS_BATCH_JOB_ID;
  return env;
};

test('a simulated fleet: array children with their own index complete the plan together, one row per image', async () => {
  const files = photos(40, 30);
  const { run, env } = await plannedS3Run('fleet', files, 4);

  const dry = await imgtag(['submit', '--run', run, '--job-queue', 'q', '--job-definition', 'd', '--shards-per-task', '3', '--dry-run'], env);
  assert.equal(dry.code, 0, dry.stderr);
  const { tag: input, compact } = JSON.parse(dry.stdout);
  assert.deepEqual(input.arrayProperties, { size: 3 });
  assert.deepEqual(input.parameters, { run, shards_per_task: '3' });
  // Compaction runs once, after every child: a job that depends on the array job.
  assert.deepEqual(compact.dependsOn, [{ jobId: '<tag job id>' }]);
  assert.deepEqual(compact.containerOverrides.command, ['compact', '--run', run]);

  // Three AWS Batch children and one Kubernetes indexed-Job pod past the end (nothing left for it).
  const tasks = [
    { AWS_BATCH_JOB_ARRAY_INDEX: '0' },
    { AWS_BATCH_JOB_ARRAY_INDEX: '1' },
    { AWS_BATCH_JOB_ARRAY_INDEX: '2' },
    { JOB_COMPLETION_INDEX: '3' },
  ];
  const results = await Promise.all(
    tasks.map((t) => imgtag(['run', '--run', run, '--shard-from-env', '--shards-per-task', '3', '--threads', '1'], { ...withoutIndex(), ...env, ...t })),
  );
  results.forEach((r, i) => assert.equal(r.code, 0, `task ${i}: ${r.stderr}`));
  const tagged = results.map((r) => Number(/(\d+) tagged/.exec(r.stdout)![1]));
  assert.deepEqual(tagged, [3, 3, 2, 0]);
  // Children leave their shards staged; the chained compact job merges the run once.
  assert.ok(results.every((r) => !/^dataset/m.test(r.stdout)), 'a fleet child never compacts');
  const merged = await imgtag(['compact', '--run', run], env);
  assert.equal(merged.code, 0, merged.stderr);
  assert.match(merged.stdout, /compacted into 1 file\(s\), 30 rows/);
  const { rows } = await readRunResults(run);
  assert.deepEqual(rows.map((r) => r.key).sort(), files.map((f) => `img/${f}`).sort());
  assert.match((await resultFiles(run))[0]!, new RegExp(`^${run}/tags/run_date=\\d{4}-\\d{2}-\\d{2}/run-[0-9a-f]{8}-00000\\.parquet$`));
});

test('submit fits any run in 10,000 children by itself, and refuses a --shards-per-task that does not fit', async () => {
  const s3 = await testS3();
  const run = `s3://${await newBucket('submit')}/run`;
  const plan = { version: 1, createdAt: '', source: { kind: 'keylist', uri: 'x' }, options: {}, counts: {}, shards: 300_000 };
  await writeBytes(`${run}/plan.json`, JSON.stringify(plan));
  // No flag: the fewest shards per child that fit (a nightly's delta can be a whole bucket).
  const auto = await imgtag(['submit', '--run', run, '--job-queue', 'q', '--job-definition', 'd', '--dry-run'], s3.env);
  assert.equal(auto.code, 0, auto.stderr);
  const request = JSON.parse(auto.stdout).tag as { arrayProperties: unknown; parameters: Record<string, string> };
  assert.deepEqual([request.arrayProperties, request.parameters.shards_per_task], [{ size: 10_000 }, '30']);
  // 300 M images: the dataset's files are merged by 30 children, then the last step.
  await writeBytes(`${run}/plan.json`, JSON.stringify({ ...plan, counts: { images: 300_000_000 } }));
  const large = JSON.parse((await imgtag(['submit', '--run', run, '--job-queue', 'q', '--job-definition', 'd', '--compact-job-queue', 'cpu', '--dry-run'], s3.env)).stdout) as Record<string, Record<string, unknown>>;
  assert.deepEqual([large.merge!.arrayProperties, large.merge!.jobQueue, (large.merge!.containerOverrides as { command: string[] }).command], [{ size: 30 }, 'cpu', ['compact', '--run', run, '--merge-only']]);
  assert.deepEqual([large.merge!.dependsOn, large.compact!.dependsOn], [[{ jobId: '<tag job id>' }], [{ jobId: '<merge job id>' }]]);
  const big = await imgtag(['submit', '--run', run, '--job-queue', 'q', '--job-definition', 'd', '--shards-per-task', '1', '--dry-run'], s3.env);
  assert.equal(big.code, 1);
  assert.match(big.stderr, /300000 shards at 1 per task need 300000 array children, over AWS Batch's 10000: use --shards-per-task 30 or more, or leave it out/);
  const fits = await imgtag(['submit', '--run', run, '--job-queue', 'q', '--job-definition', 'd', '--shards-per-task', '30', '--dry-run'], s3.env);
  assert.deepEqual(JSON.parse(fits.stdout).tag.arrayProperties, { size: 10_000 });
});

test('--device cuda without the CUDA provider names the missing library and how to install it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-device-'));
  fs.writeFileSync(path.join(dir, 'keys.txt'), path.join(IMAGENET_DIR, imagenetFiles()[0]!));
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', path.join(dir, 'run')])).code, 0);
  const res = await imgtag(['run', '--run', path.join(dir, 'run'), '--device', 'cuda']);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /--device cuda: (libonnxruntime_providers_\w+\.so.* not found|onnxruntime could not start).*ONNXRUNTIME_NODE_INSTALL=cuda12/);
  const bad = await imgtag(['run', '--run', path.join(dir, 'run'), '--device', 'tpu']);
  assert.match(bad.stderr, /Allowed choices are cpu, cuda, tensorrt/);
  const noIndex = await imgtag(['run', '--run', path.join(dir, 'run'), '--shard-from-env'], withoutIndex());
  assert.equal(noIndex.code, 1);
  assert.match(noIndex.stderr, /none of AWS_BATCH_JOB_ARRAY_INDEX, JOB_COMPLETION_INDEX is set/);
});

test('submit refuses a run directory that is not on S3: the fleet could not reach it', async () => {
  const { run } = await plannedLocalRun('fleet-local', photoPaths(60, 2), 1);
  const res = await imgtag(['submit', '--run', run, '--job-queue', 'q', '--job-definition', 'd', '--dry-run']);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /--run \S+ is not on S3: the fleet's jobs can only reach a run directory at s3:\/\/bucket\/prefix/);
});
