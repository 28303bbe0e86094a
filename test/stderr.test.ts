import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../src/storage/s3-client.js';
import { sendNoticesTo } from '../src/storage/notices.js';
import { readText, writeBytes } from '../src/storage/storage.js';
import { imgtag } from './helpers/cli.js';
import { photos, plannedS3Run } from './helpers/planned.js';
import { newBucket } from './helpers/s3.js';

/** Every stderr line an S3 plan and run print with --progress json: a fleet's log holds nothing else. */
test('an S3 run with --progress json writes JSON lines only on stderr: no SDK warning per shard, no Node version notice', async () => {
  const { bucket, env } = await plannedS3Run('stderr', photos(0, 12), 3);
  // The CLI silences the SDK's Node 20 notice itself; the test does not do it for it.
  const bare = { ...env };
  delete bare.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  const run = `s3://${bucket}/run2`;
  const plan = await imgtag(['plan', '--manifest', `s3://${bucket}/keys.txt`, '--run', run, '--shard-size', '3', '--progress', 'json'], bare);
  const tagged = await imgtag(['run', '--run', run, '--progress', 'json'], bare);
  assert.equal(plan.code, 0, plan.stderr);
  assert.equal(tagged.code, 0, tagged.stderr);
  for (const line of [...plan.stderr.split('\n'), ...tagged.stderr.split('\n')].filter((l) => l !== '')) {
    assert.doesNotThrow(() => JSON.parse(line), `not a JSON line: ${line}`);
  }
  assert.ok(tagged.stderr.includes('"event":"summary"'));
  // A run that fails its --max-error-rate: the line that explains exit 4 is a JSON line too, the summary still last.
  await writeBytes(`s3://${bucket}/img/broken.jpg`, 'not a jpeg');
  await writeBytes(`s3://${bucket}/keys2.txt`, `s3://${bucket}/img/broken.jpg\n${(await readText(`s3://${bucket}/keys.txt`)).trim()}\n`);
  const strict = `s3://${bucket}/run3`;
  assert.equal((await imgtag(['plan', '--manifest', `s3://${bucket}/keys2.txt`, '--run', strict], bare)).code, 0);
  const over = await imgtag(['run', '--run', strict, '--progress', 'json', '--max-error-rate', '0'], bare);
  assert.equal(over.code, 4, over.stderr);
  const lines = over.stderr.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { event: string; message?: string });
  assert.ok(lines.some((e) => e.event === 'notice' && /over --max-error-rate 0: exit 4$/.test(e.message ?? '')), over.stderr);
  assert.equal(lines.at(-1)!.event, 'summary');
  // A command that cannot run says why in a JSON line too.
  const missing = await imgtag(['run', '--run', `s3://${bucket}/no-run-here`, '--progress', 'json'], bare);
  assert.equal(missing.code, 1);
  const [why, ...more] = missing.stderr.trim().split('\n').map((l) => JSON.parse(l) as { level: string; event: string; message: string });
  assert.deepEqual(more, []);
  assert.equal(why!.level, 'error');
  assert.match(why!.message, /^no plan in s3:\/\/\S+\/no-run-here: run "imgtag plan --run/);
});

test('an AWS SDK warning reaches imgtag\'s notices once, never stderr as the SDK prints it', async () => {
  const bucket = await newBucket('sdk-warn');
  const said: string[] = [];
  sendNoticesTo((m) => said.push(m));
  // An empty body without its length is what the SDK warns about (the commit log's objects did).
  for (const Key of ['a', 'b']) await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key, Body: '' }));
  assert.equal(said.length, 1, said.join('\n'));
  assert.match(said[0]!, /^the AWS SDK warns: Are you using a Stream of unknown length/);
});
