import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { deleteObjects, downloadFile, exists, listObjects, readBytes, readText, writeBytes } from '../src/storage/storage.js';
import { parquetMetadataAsync } from 'hyparquet';
import { rangedBuffer } from '../src/storage/ranged-buffer.js';
import { imgtag } from './helpers/cli.js';
import { duckdb } from './helpers/duckdb.js';
import { IMAGENET_DIR, imagenetFiles } from './helpers/env.js';
import { newBucket, testS3, type TestS3 } from './helpers/s3.js';
import { startBatchServer } from './helpers/batch-server.js';
import { assertCurrent, currentTable, truth } from './helpers/current-table.js';
import { startGlueServer } from './helpers/glue-server.js';

const photo = (i: number) => fs.readFileSync(path.join(IMAGENET_DIR, imagenetFiles()[i % imagenetFiles().length]!));
const field = (out: string, name: string) => new RegExp(`^${name}\\s+(.*)$`, 'm').exec(out)?.[1];

/** Rows in a Parquet file, from its footer (ranged reads, as a query engine plans). */
async function readRunFileRows(uri: string): Promise<number> {
  return Number((await parquetMetadataAsync(await rangedBuffer(uri))).num_rows);
}

async function nightly(s3: TestS3, root: string, bucket: string, ...args: string[]) {
  const res = await imgtag(['nightly', '--root', root, '--prefix', `s3://${bucket}/img/`, '--shard-size', '50', ...args], s3.env);
  assert.equal(res.code, 0, res.stderr);
  return res;
}

test('the current table over four nightlies: new, changed and deleted objects, a model change, and run directories deleted', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('current');
  const root = `s3://${bucket}/nightly`;
  for (let i = 0; i < 300; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(i));

  const first = await nightly(s3, root, bucket);
  assert.equal(field(first.stdout, 'images'), '300');
  assert.match(field(first.stdout, 'current table')!, /^now 300 rows in 1 file under s3:\/\/current-[^ ]*\/nightly\/current\/v=[^/ ]+\/$/);
  await assertCurrent(root, bucket, 'mobilenetv2_12_int8');

  for (let i = 300; i < 320; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(i));
  for (let i = 0; i < 10; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(i + 400));
  await deleteObjects(Array.from({ length: 15 }, (_, i) => `s3://${bucket}/img/${10 + i}.jpg`));
  const second = await nightly(s3, root, bucket);
  assert.equal(field(second.stdout, 'images'), '30', 'exactly the 20 new and 10 changed objects');
  assert.equal(field(second.stdout, 'new objects'), '20');
  assert.equal(field(second.stdout, 'deleted since parent'), '15');
  assert.equal(field(second.stdout, 'unchanged since parent'), '275');
  await assertCurrent(root, bucket, 'mobilenetv2_12_int8');

  const third = await nightly(s3, root, bucket, '--model', 'squeezenet1.1');
  assert.match(field(third.stdout, 'model change')!, /mobilenetv2-12-int8@\w+ -> squeezenet1.1@\w+/);
  assert.equal(field(third.stdout, 'images'), '305', 'a new model version re-tags every live object');
  await assertCurrent(root, bucket, 'squeezenet1_1');

  // Expire the first two runs whole, as an S3 lifecycle rule would.
  const expired = [field(first.stdout, 'run')!, field(second.stdout, 'run')!];
  const gone: string[] = [];
  for (const run of expired) for await (const o of listObjects(`${run}/`)) gone.push(o.uri);
  assert.ok(gone.length > 0);
  await deleteObjects(gone);
  for (let i = 500; i < 505; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(i));
  const fourth = await nightly(s3, root, bucket, '--model', 'squeezenet1.1');
  assert.equal(field(fourth.stdout, 'images'), '5');
  assert.equal(field(fourth.stdout, 'unchanged since parent'), '305');
  await assertCurrent(root, bucket, 'squeezenet1_1');
  const state = JSON.parse(await readText(`${root}/current.json`)) as { run: string; rows: number };
  assert.equal(state.run, field(fourth.stdout, 'run'));
  assert.equal(state.rows, 310);
});

test('bad input leaves the current table as it was: a key listed twice, a truncated CSV.gz, a current table from another root', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('current-bad');
  const root = `s3://${bucket}/nightly`;
  for (let i = 0; i < 4; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(i));
  const list = (keys: number[]) => keys.map((i) => `s3://${bucket}/img/${i}.jpg`).join('\n') + '\n';
  await writeBytes(`s3://${bucket}/lists/ok.txt`, list([0, 1, 2, 3]));
  const run = (manifest: string, r = root) => imgtag(['nightly', '--root', r, '--manifest', manifest], s3.env);
  assert.equal((await run(`s3://${bucket}/lists/ok.txt`)).code, 0);
  const before = await readText(`${root}/current.json`);

  await writeBytes(`s3://${bucket}/lists/twice.txt`, list([0, 1, 2, 1]));
  const twice = await run(`s3://${bucket}/lists/twice.txt`);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /the manifest lists s3:\/\/current-bad[^ ]*\/img\/1\.jpg more than once/);

  const gz = gzipSync(list([0, 1, 2, 3]));
  await writeBytes(`s3://${bucket}/lists/cut.txt.gz`, gz.subarray(0, gz.length - 12));
  const cut = await run(`s3://${bucket}/lists/cut.txt.gz`);
  assert.equal(cut.code, 1);
  assert.match(cut.stderr, /cut\.txt\.gz is truncated or is not valid gzip/);

  const other = `s3://${bucket}/other`;
  await writeBytes(`${other}/current.json`, before);
  const foreign = await run(`s3://${bucket}/lists/ok.txt`, other);
  assert.equal(foreign.code, 1);
  assert.match(foreign.stderr, /describes the current table of s3:\/\/current-bad[^ ]*\/nightly, not of s3:\/\/current-bad[^ ]*\/other/);

  assert.equal(await readText(`${root}/current.json`), before, 'the table is as it was');
  assert.equal((await currentTable(root)).length, 4);
});

test('the nightly on the fleet: a large delta is planned and submitted; the array and compact jobs (run here) update the current table; --dry-run changes nothing', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('current-fleet');
  const root = `s3://${bucket}/nightly`;
  for (let i = 0; i < 12; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(i));
  const fleet = ['--fleet-threshold', '10', '--job-queue', 'gpu-q', '--job-definition', 'gpu-d', '--compact-job-queue', 'cpu-q', '--compact-job-definition', 'cpu-d'];
  const batch = await startBatchServer();
  const env = { ...s3.env, AWS_ENDPOINT_URL_BATCH: batch.endpoint, AWS_REGION: s3.env.AWS_REGION ?? 'us-east-1' };
  try {
    // A dry run says what would be submitted, and writes nothing under the root.
    const dry = await nightly(s3, root, bucket, '--shard-size', '4', ...fleet, '--dry-run');
    assert.match(field(dry.stdout, 'run')!, /\(dry run: nothing was written\)$/);
    const requests = JSON.parse(dry.stdout.slice(dry.stdout.indexOf('{'))) as { tag: Record<string, unknown>; compact: Record<string, unknown> };
    assert.deepEqual([requests.tag.jobQueue, requests.tag.arrayProperties], ['gpu-q', { size: 3 }]);
    assert.deepEqual([requests.compact.jobQueue, requests.compact.jobDefinition], ['cpu-q', 'cpu-d']);
    const written: string[] = [];
    for await (const o of listObjects(`${root}/`)) written.push(o.uri);
    assert.deepEqual(written, [], 'nothing under the root: no plan, no nightly.json, no lock');
    assert.equal(batch.submitted.length, 0);

    // The real one plans as if the dry run never happened, and submits the array and its compact job.
    const real = await imgtag(['nightly', '--root', root, '--prefix', `s3://${bucket}/img/`, '--shard-size', '4', ...fleet], env);
    assert.equal(real.code, 0, real.stderr);
    assert.equal(field(real.stdout, 'images'), '12');
    const run = field(real.stdout, 'run')!;
    assert.deepEqual(batch.submitted.map((r) => [r.jobQueue, r.jobDefinition, r.arrayProperties]), [['gpu-q', 'gpu-d', { size: 3 }], ['cpu-q', 'cpu-d', undefined]]);
    assert.deepEqual(batch.submitted[1]!.dependsOn, [{ jobId: 'job-1' }]);
    assert.deepEqual((batch.submitted[1]!.containerOverrides as { command: string[] }).command, ['compact', '--run', run]);

    // Until the fleet is done, the next nightly plans nothing and says why: a normal overlap, exit 0
    // (a scheduled job that succeeds pages no one), with a JSON event for the logs.
    const early = await imgtag(['nightly', '--root', root, '--prefix', `s3://${bucket}/img/`, ...fleet], env);
    assert.equal(early.code, 0);
    assert.match(early.stderr, /nothing started tonight, the previous nightly is still going: .*has 0 of 3 shards committed: nothing new is planned until it is done/);
    assert.match(early.stderr, /"event":"nightly-busy"/);
    assert.equal(batch.submitted.length, 2, 'nothing more submitted');

    // The array children and the compact job, as AWS Batch would start them.
    for (let i = 0; i < 3; i++) {
      const child = await imgtag(['run', '--run', run, '--shard-from-env'], { ...s3.env, AWS_BATCH_JOB_ARRAY_INDEX: String(i) });
      assert.equal(child.code, 0, child.stderr);
    }
    await assertCurrent(root, bucket, 'mobilenetv2_12_int8').then(
      () => assert.fail('no current table before the compact job'),
      () => undefined,
    );
    const compact = await imgtag(['compact', '--run', run], s3.env);
    assert.equal(compact.code, 0, compact.stderr);
    assert.match(field(compact.stdout, 'current table')!, /^now 12 rows/);
    await assertCurrent(root, bucket, 'mobilenetv2_12_int8');

    // A small delta is tagged by the planning job itself.
    for (let i = 12; i < 14; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(i));
    const small = await nightly(s3, root, bucket, ...fleet);
    assert.equal(field(small.stdout, 'images'), '2');
    assert.equal(field(small.stdout, 'fleet job'), undefined);
    await assertCurrent(root, bucket, 'mobilenetv2_12_int8');
  } finally {
    await batch.close();
  }
});

test('bad input never empties the table: an empty key list, or one deleting more than --max-deletions, is refused (exit 1, table unchanged)', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('current-guard');
  const root = `s3://${bucket}/nightly`;
  for (let i = 0; i < 20; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(i));
  await nightly(s3, root, bucket);
  const before = await readText(`${root}/current.json`);
  assert.equal((await currentTable(root)).length, 20);

  // What a crash between replacing current.json and deleting older versions leaves: a third one.
  const named = (JSON.parse(before) as { files: { uri: string }[] }).files.map((f) => f.uri);
  await writeBytes(`${root}/current/v=crashed/part-00000.parquet`, await readBytes(named[0]!));
  const list = (keys: string[]) => writeBytes(`s3://${bucket}/keys.txt`, keys.map((k) => `s3://${bucket}/img/${k}\n`).join(''));
  const fromList = (...args: string[]) => imgtag(['nightly', '--root', root, '--manifest', `s3://${bucket}/keys.txt`, '--shard-size', '50', ...args], s3.env);
  await list([]);
  const empty = await fromList();
  assert.equal(empty.code, 1, empty.stderr);
  assert.match(empty.stderr, /would delete 20 of the current table's 20 objects \(100\.0%\), over --max-deletions 0\.1: refused, the table is unchanged/);
  // The crash's leftover went first thing, even on a night that changed nothing else.
  const files: string[] = [];
  for await (const o of listObjects(`${root}/current/`)) files.push(o.uri);
  assert.deepEqual(files.sort(), [...named].sort());
  // 3 of 20 gone (15%): over the default 10%, let through when the user says so.
  await list(Array.from({ length: 17 }, (_, i) => `${i}.jpg`));
  const three = await fromList();
  assert.equal(three.code, 1, three.stderr);
  assert.equal(await readText(`${root}/current.json`), before, 'the table is untouched');
  assert.equal((await currentTable(root)).length, 20);
  const allowed = await fromList('--max-deletions', '0.2');
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal((await currentTable(root)).length, 17);
});

test('plan --since: content that reverts (A -> B -> A) is tagged again, judged by each object\'s newest row', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('revert');
  for (let i = 0; i < 3; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(i));
  const runs = [1, 2, 3].map((n) => `s3://${bucket}/runs/r${n}`);
  const planAndRun = async (run: string, since?: string) => {
    const plan = await imgtag(['plan', '--prefix', `s3://${bucket}/img/`, '--run', run, ...(since ? ['--since', since] : [])], s3.env);
    assert.equal(plan.code, 0, plan.stderr);
    const res = await imgtag(['run', '--run', run], s3.env);
    assert.equal(res.code, 0, res.stderr);
    return Number(/^images\s+(\d+)$/m.exec(res.stdout)?.[1]);
  };
  assert.equal(await planAndRun(runs[0]!), 3);
  await writeBytes(`s3://${bucket}/img/0.jpg`, photo(10)); // A -> B
  assert.equal(await planAndRun(runs[1]!, runs[0]), 1);
  await writeBytes(`s3://${bucket}/img/0.jpg`, photo(0)); // B -> A: r1 tagged A, but the newest row (r2) is B's
  assert.equal(await planAndRun(runs[2]!, runs[1]), 1, 'A is tagged again');
});

test('the untaggable are not fetched again: three nightlies with an empty file, an HTML page and a truncated JPEG unchanged; --retry-errors tags them again', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('untaggable');
  const root = `s3://${bucket}/nightly`;
  for (let i = 0; i < 5; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(i));
  await writeBytes(`s3://${bucket}/img/empty.jpg`, Buffer.alloc(0));
  await writeBytes(`s3://${bucket}/img/page.jpg`, '<!doctype html><html><body>Not Found</body></html>');
  await writeBytes(`s3://${bucket}/img/cut.jpg`, photo(6).subarray(0, 3000));
  const first = await nightly(s3, root, bucket);
  assert.equal(field(first.stdout, 'images'), '8');
  assert.equal(field(first.stdout, 'error rows'), '3');
  for (const night of [2, 3]) {
    const again = await nightly(s3, root, bucket);
    assert.equal(field(again.stdout, 'images'), '0', `night ${night} fetches none of them`);
    assert.match(field(again.stdout, 'unchanged since parent')!, /^8 \(3 of them untaggable, left as error rows/);
  }
  // The current table keeps their error rows: one row per live object.
  const rows = await currentTable(root);
  assert.equal(rows.length, 8);
  assert.equal(rows.filter((r) => r.error !== null).length, 3);
  // A new ETag is a new object: the repaired file is tagged.
  await writeBytes(`s3://${bucket}/img/cut.jpg`, photo(6));
  const fixed = await nightly(s3, root, bucket);
  assert.equal(field(fixed.stdout, 'images'), '1');
  const retried = await nightly(s3, root, bucket, '--retry-errors');
  assert.equal(field(retried.stdout, 'images'), '2');
});

test('one current table at any instant: each version in its own folder, current.json and the Glue table moved to it, the previous kept for readers in flight', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('current-swap');
  const root = `s3://${bucket}/nightly`;
  for (let i = 0; i < 30; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(i));
  const glue = await startGlueServer('imgtag', 'current', `${root}/current/`);
  const env = { ...s3.env, AWS_ENDPOINT_URL_GLUE: glue.endpoint, AWS_REGION: s3.env.AWS_REGION ?? 'us-east-1' };
  const night = async () => {
    const res = await imgtag(['nightly', '--root', root, '--prefix', `s3://${bucket}/img/`, '--shard-size', '10', '--glue-table', 'imgtag.current'], env);
    assert.equal(res.code, 0, res.stderr);
    return JSON.parse(await readText(`${root}/current.json`)) as { location: string; rows: number; files: { uri: string; rows: number }[] };
  };
  try {
    const first = await night();
    assert.match(first.location, new RegExp(`^${root}/current/v=[^/]+/$`));
    assert.equal(glue.location, first.location, 'the Glue table points at the version');
    assert.equal(field((await imgtag(['current', '--root', root], env)).stdout, 'location'), first.location);

    // A reader following current.json all through the next night: always one whole version.
    for (let i = 30; i < 36; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, photo(i));
    let running = true;
    const seen: number[] = [];
    const reader = (async () => {
      while (running) {
        // s3rver rewrites an object in place, so a read can catch half of current.json; S3 never
        // shows half an object. Such a read is not an observation.
        let t: { rows: number; files: { uri: string; rows: number }[] };
        try {
          t = JSON.parse(await readText(`${root}/current.json`)) as typeof t;
        } catch (e) {
          if (e instanceof SyntaxError) continue;
          throw e;
        }
        let rows = 0;
        for (const f of t.files) rows += (await readRunFileRows(f.uri));
        assert.equal(rows, t.rows, 'the files current.json names are all there, and all of the table');
        seen.push(rows);
      }
    })();
    const second = await night();
    running = false;
    await reader;
    assert.ok(seen.length > 0 && seen.every((n) => n === 30 || n === 36), `one version at a time: ${[...new Set(seen)].join(', ')}`);
    assert.notEqual(second.location, first.location);
    assert.equal(glue.location, second.location);
    assert.equal(glue.updates.length, 2, 'one UpdateTable a night');
    // The previous version stays for queries planned before the switch; the one before goes next night.
    for (const f of first.files) assert.ok(await exists(f.uri), `${f.uri} kept`);
    await writeBytes(`s3://${bucket}/img/99.jpg`, photo(99));
    await night();
    for (const f of first.files) assert.equal(await exists(f.uri), false, `${f.uri} gone two versions later`);
    assert.equal((await currentTable(root)).length, 37);
  } finally {
    await glue.close();
  }
});
