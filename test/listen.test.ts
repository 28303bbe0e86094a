import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { deleteObjects, exists, listFolders, readText, writeBytes } from '../src/storage/storage.js';
import { assertCurrent, currentTable, truth } from './helpers/current-table.js';
import { duckdb } from './helpers/duckdb.js';
import { CLI, IMAGENET_DIR, imagenetFiles } from './helpers/env.js';
import { events, imgtag } from './helpers/cli.js';
import { readRunResults } from './helpers/results.js';
import { newBucket, testS3 } from './helpers/s3.js';
import { s3Notification, uploadNotified } from './helpers/s3-events.js';
import { startSqsServer, type SqsQueue, type SqsServer } from './helpers/sqs-server.js';
import { startFaultProxy } from './helpers/fault-proxy.js';

const photo = (i: number) => fs.readFileSync(path.join(IMAGENET_DIR, imagenetFiles()[i % imagenetFiles().length]!));

interface Stream {
  bucket: string;
  root: string;
  sqs: SqsServer;
  queue: SqsQueue;
  dlq: SqsQueue;
  env: NodeJS.ProcessEnv;
  args: string[];
}

async function stream(name: string, visibilityTimeoutS = 30): Promise<Stream> {
  const s3 = await testS3();
  const bucket = await newBucket(name);
  const sqs = await startSqsServer();
  const dlq = sqs.createQueue(`${name}-dlq`);
  const queue = sqs.createQueue(name, { visibilityTimeoutS, redrive: { dlq, maxReceiveCount: 3 } });
  const root = `s3://${bucket}/nightly`;
  return {
    bucket,
    root,
    sqs,
    queue,
    dlq,
    env: { ...s3.env, AWS_ENDPOINT_URL_SQS: sqs.endpoint, AWS_REGION: 'us-east-1' },
    args: ['listen', '--root', root, '--queue-url', queue.url, '--dead-letter-queue-url', dlq.url, '--threads', '1'],
  };
}

/** A listener sent `signal` as soon as it holds a batch's messages; its exit code. */
function signalledOnceHolding(s: Stream, args: string[], signal: NodeJS.Signals): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...s.args, ...args, '--progress', 'json'], { env: s.env, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d: Buffer) => d.toString().includes('"event":"batch-open"') && child.kill(signal));
    child.on('close', resolve);
  });
}

/** Every row the stream staged under the root, from each session's committed shards. */
async function streamRows(root: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const session of await listFolders(`${root}/stream/`)) rows.push(...(await readRunResults(session.replace(/\/$/, ''))).rows);
  return rows;
}

test('a burst of uploads, duplicates, a poison image and a message that is no event: every upload tagged once, the queue emptied, the bad message dead-lettered with its reason', async () => {
  const s = await stream('listen-burst');
  try {
    const etags: Record<string, string> = {};
    for (let i = 0; i < 12; i++) etags[`img/${i}.jpg`] = (await uploadNotified(s.sqs, s.queue, s.bucket, `img/${i}.jpg`, photo(i))).etag;
    // At-least-once: S3 (or a retry) delivers the same event twice.
    s.sqs.send(s.queue, s3Notification('created', s.bucket, 'img/3.jpg', etags['img/3.jpg'], 1));
    // A key with a space, URL-encoded in the notification.
    etags['img/with space.jpg'] = (await uploadNotified(s.sqs, s.queue, s.bucket, 'img/with space.jpg', photo(20))).etag;
    // Not an image at all, though named like one: an error row, and its message is done with.
    etags['img/poison.jpg'] = (await uploadNotified(s.sqs, s.queue, s.bucket, 'img/poison.jpg', Buffer.from('not a jpeg'))).etag;
    await uploadNotified(s.sqs, s.queue, s.bucket, 'img/notes.txt', Buffer.from('text'));
    s.sqs.send(s.queue, '{"hello": "world"}');
    s.sqs.send(s.queue, JSON.stringify({ Event: 's3:TestEvent', Service: 'Amazon S3' }));

    const res = await imgtag([...s.args, '--batch-size', '8', '--batch-seconds', '1', '--until-empty'], s.env);
    assert.equal(res.code, 0, res.stderr);
    const rows = await streamRows(s.root);
    const keys = rows.map((r) => String(r.key)).sort();
    assert.deepEqual(keys, Object.keys(etags).sort(), 'each upload once (the duplicate skipped), the .txt left out');
    for (const r of rows) assert.equal(r.etag, etags[String(r.key)], `${String(r.key)}: the event's ETag`);
    assert.match(JSON.stringify(rows.find((r) => r.key === 'img/poison.jpg')!.error), /decode/);
    assert.equal(rows.filter((r) => r.error == null).length, 13, 'every other upload tagged without error');
    assert.deepEqual([s.queue.messages.length, s.dlq.messages.length], [0, 1], 'the queue is empty; the bad message is dead-lettered');
    assert.match(s.dlq.messages[0]!.attributes.reason!.StringValue!, /not an S3 event notification/);
    const batches = events(res.stderr).filter((e) => e.event === 'stream-batch');
    assert.ok(batches.length >= 2, 'micro-batches of at most 8 objects');
    assert.ok(batches.every((b) => (b.images as number) <= 8));
  } finally {
    await s.sqs.close();
  }
});

test('killed -9 in the middle of a batch: its messages come back after their visibility timeout and are tagged by the next listener; deletions are recorded', async () => {
  const s = await stream('listen-kill', 3);
  try {
    for (let i = 0; i < 6; i++) await uploadNotified(s.sqs, s.queue, s.bucket, `img/${i}.jpg`, photo(i));
    // The first listener dies as it starts tagging its first batch.
    // Killed once it holds the batch: the batch is being tagged, or about to be.
    await signalledOnceHolding(s, ['--batch-size', '6', '--visibility-timeout', '10'], 'SIGKILL');
    assert.equal(s.queue.messages.length, 6, 'nothing was deleted');
    s.sqs.send(s.queue, s3Notification('removed', s.bucket, 'img/gone.jpg'));
    // The next listener starts once they are visible again (10 s after the dead one received them).
    while (s.queue.messages.some((m) => m.visibleAt > Date.now())) await new Promise((r) => setTimeout(r, 200));
    const res = await imgtag([...s.args, '--batch-size', '20', '--batch-seconds', '1', '--until-empty'], s.env);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual([s.queue.messages.length, s.dlq.messages.length], [0, 0]);
    const keys = (await streamRows(s.root)).map((r) => String(r.key));
    assert.deepEqual([...new Set(keys)].sort(), ['img/0.jpg', 'img/1.jpg', 'img/2.jpg', 'img/3.jpg', 'img/4.jpg', 'img/5.jpg']);
    assert.equal(s.queue.messages.length, 0);
    const sessions = await listFolders(`${s.root}/stream/`);
    const deletions = [];
    for (const session of sessions) {
      for (const f of ['deletions/part-00000.json']) deletions.push(...(await readText(`${session}${f}`).then((t) => (JSON.parse(t) as { removed: { uri: string }[] }).removed, () => [])));
    }
    assert.deepEqual(deletions.map((d) => d.uri), [`s3://${s.bucket}/img/gone.jpg`]);
  } finally {
    await s.sqs.close();
  }
});

test('SIGTERM stops a listener within seconds, the messages in hand back on the queue at once', async () => {
  const s = await stream('listen-term', 60);
  try {
    for (let i = 0; i < 3; i++) await uploadNotified(s.sqs, s.queue, s.bucket, `img/${i}.jpg`, photo(i));
    // A long batch window: the messages are in hand, not yet tagged, when SIGTERM comes.
    const code = await signalledOnceHolding(s, ['--batch-seconds', '600'], 'SIGTERM');
    assert.equal(code, 3, 'messages in hand were not tagged: exit 3');
    assert.ok(s.queue.messages.every((m) => m.visibleAt <= Date.now()), 'visible again at once, not after 60 s');
    assert.equal(s.queue.messages.length, 3);
  } finally {
    await s.sqs.close();
  }
});

test('the stream and the nightly together: what the stream tagged is folded into the current table, never tagged again; what it missed the nightly finds; one row per live object', async () => {
  const s = await stream('listen-fold');
  try {
    const nightly = async () => {
      const res = await imgtag(['nightly', '--root', s.root, '--prefix', `s3://${s.bucket}/img/`, '--max-deletions', '0.5'], s.env);
      assert.equal(res.code, 0, res.stderr);
      return res;
    };
    for (let i = 0; i < 6; i++) await writeBytes(`s3://${s.bucket}/img/${i}.jpg`, photo(i));
    await nightly();
    await assertCurrent(s.root, s.bucket, 'mobilenetv2_12_int8');

    // Today's uploads, a changed photo, a deleted one, a duplicate delivery: tagged by the stream.
    for (let i = 6; i < 10; i++) await uploadNotified(s.sqs, s.queue, s.bucket, `img/${i}.jpg`, photo(i));
    const changed = await uploadNotified(s.sqs, s.queue, s.bucket, 'img/2.jpg', photo(102));
    s.sqs.send(s.queue, s3Notification('created', s.bucket, 'img/2.jpg', changed.etag, 1));
    await deleteObjects([`s3://${s.bucket}/img/3.jpg`]);
    s.sqs.send(s.queue, s3Notification('removed', s.bucket, 'img/3.jpg'));
    const listened = await imgtag([...s.args, '--batch-seconds', '1', '--until-empty'], s.env);
    assert.equal(listened.code, 0, listened.stderr);
    assert.equal((await streamRows(s.root)).length, 5);
    // A redelivery after that listener was gone (its delete lost): another listener tags it again.
    const again = (await streamRows(s.root)).find((r) => r.key === 'img/6.jpg')!;
    s.sqs.send(s.queue, s3Notification('created', s.bucket, 'img/6.jpg', String(again.etag), 1));
    assert.equal((await imgtag([...s.args, '--batch-seconds', '1', '--until-empty'], s.env)).code, 0);
    assert.equal((await streamRows(s.root)).filter((r) => r.key === 'img/6.jpg').length, 2, 'two stream rows for one (key, ETag)');
    // Uploaded and deleted a second later, the removal seen only after the upload was tagged.
    const uploadedAt = new Date();
    const brief = await uploadNotified(s.sqs, s.queue, s.bucket, 'img/brief.jpg', photo(30));
    assert.equal((await imgtag([...s.args, '--batch-seconds', '1', '--until-empty'], s.env)).code, 0);
    await deleteObjects([`s3://${s.bucket}/img/brief.jpg`]);
    s.sqs.send(s.queue, s3Notification('removed', s.bucket, 'img/brief.jpg', undefined, undefined, new Date(uploadedAt.getTime() + 1000).toISOString()));
    assert.equal((await imgtag([...s.args, '--batch-seconds', '1', '--until-empty'], s.env)).code, 0);
    assert.ok(brief.etag);

    // "Now", before any nightly: the current table and the stream's rows, one row per live object.
    const nowFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-now-')), 'now.parquet');
    const now = await imgtag(['current', '--root', s.root, '--now', nowFile], s.env);
    assert.equal(now.code, 0, now.stderr);
    const live = await truth(s.bucket);
    const nowRows = await duckdb(`SELECT key, etag FROM read_parquet('${nowFile}') ORDER BY key`);
    assert.deepEqual(nowRows.map((r) => [r.key, r.etag]), [...live].sort(([a], [b]) => (a < b ? -1 : 1)), 'one row per live object, at its ETag: img/3 removed, img/2 changed, img/6-9 new, img/brief gone though tagged after its removal');

    // The night: nothing to tag (the stream did it), one deletion, the stream's five rows folded in.
    const second = await nightly();
    assert.match(second.stdout, /^images\s+0$/m, second.stdout);
    assert.match(second.stdout, /^deleted since parent\s+1$/m);
    await assertCurrent(s.root, s.bucket, 'mobilenetv2_12_int8');
    const table = await currentTable(s.root);
    assert.equal(table.filter((r) => String(r.run_id).startsWith('stream-')).length, 5, 'the stream\'s rows, once each (img/6 tagged twice, one row)');
    // The closed session was merged into the dataset: one file, not one per batch.
    for (const session of await listFolders(`${s.root}/stream/`)) assert.ok(await exists(`${session}compaction/done.json`), 'each closed session compacted into the dataset');

    // An upload whose event never came (a lost event, a queue outage): the Inventory is the truth.
    await writeBytes(`s3://${s.bucket}/img/10.jpg`, photo(10));
    const third = await nightly();
    assert.match(third.stdout, /^images\s+1$/m, third.stdout);
    await assertCurrent(s.root, s.bucket, 'mobilenetv2_12_int8');
  } finally {
    await s.sqs.close();
  }
});

test('a batch that keeps failing (its rows cannot be written): its messages stay on the queue, then go to the dead-letter queue with the reason on their last receive', async () => {
  const s = await stream('listen-failing');
  // Every staged Parquet upload fails: the batch is never committed.
  const proxy = await startFaultProxy((await testS3()).endpoint, { rate: 0, alwaysFail: ['/staging/'] });
  try {
    for (let i = 0; i < 2; i++) await uploadNotified(s.sqs, s.queue, s.bucket, `img/${i}.jpg`, photo(i));
    const env = { ...s.env, AWS_ENDPOINT_URL: proxy.endpoint, IMGTAG_S3_MAX_ATTEMPTS: '1' };
    const res = await imgtag([...s.args, '--batch-seconds', '1', '--visibility-timeout', '2', '--until-empty'], env);
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /^imgtag: stopped with uploads not tagged: 2 messages of failing batches in the dead-letter queue, with the reason: exit 3$/m);
    assert.equal(events(res.stderr).filter((e) => e.event === 'batch-failed').length, 3, 'tried once per receive, maxReceiveCount 3');
    assert.deepEqual([s.queue.messages.length, s.dlq.messages.length], [0, 2]);
    for (const m of s.dlq.messages) assert.match(m.attributes.reason!.StringValue!, /^tagging failed 3 times, last: injected persistent failure/);
    assert.deepEqual(await streamRows(s.root), [], 'nothing committed');
  } finally {
    await proxy.close();
    await s.sqs.close();
  }
});
