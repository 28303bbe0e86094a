import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeBytes } from '../../src/storage/storage.js';
import { imgtag } from './cli.js';
import { IMAGENET_DIR, imagenetFiles } from './env.js';
import { newBucket, testS3 } from './s3.js';

/** ImageNet sample photos `from` .. `from + n` (file names). */
export const photos = (from: number, n: number) => imagenetFiles().slice(from, from + n);

/** Photos uploaded to a new bucket under img/, a key list of them, and a run planned from it. */
export async function plannedS3Run(prefix: string, files: string[], shardSize: number): Promise<{ bucket: string; run: string; env: NodeJS.ProcessEnv }> {
  const s3 = await testS3();
  const bucket = await newBucket(prefix);
  for (const f of files) await writeBytes(`s3://${bucket}/img/${f}`, fs.readFileSync(path.join(IMAGENET_DIR, f)));
  await writeBytes(`s3://${bucket}/keys.txt`, files.map((f) => `s3://${bucket}/img/${f}`).join('\n'));
  const run = `s3://${bucket}/run`;
  const plan = await imgtag(['plan', '--manifest', `s3://${bucket}/keys.txt`, '--run', run, '--shard-size', String(shardSize)], s3.env);
  assert.equal(plan.code, 0, plan.stderr);
  return { bucket, run, env: s3.env };
}

/** A key list of local paths (photos, or any files) in a new temp folder, and a run planned from it. */
export async function plannedLocalRun(prefix: string, paths: string[], shardSize: number): Promise<{ dir: string; run: string; keys: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `imgtag-${prefix}-`));
  const keys = path.join(dir, 'keys.txt');
  fs.writeFileSync(keys, paths.join('\n'));
  const run = path.join(dir, 'run');
  const plan = await imgtag(['plan', '--manifest', keys, '--run', run, '--shard-size', String(shardSize)]);
  assert.equal(plan.code, 0, plan.stderr);
  return { dir, run, keys };
}

export const photoPaths = (from: number, n: number) => photos(from, n).map((f) => path.join(IMAGENET_DIR, f));
