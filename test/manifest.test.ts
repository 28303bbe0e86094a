import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { Table, tableToIPC, vectorFromArray, Utf8, Int64 } from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { manifestSource, readManifest, type ManifestRow } from '../src/manifest/index.js';
import { decodeInventoryKey } from '../src/manifest/inventory.js';
import { readText, writeBytes } from '../src/storage/storage.js';
import { imgtag } from './helpers/cli.js';
import { newBucket, testS3 } from './helpers/s3.js';

async function collect(pages: AsyncIterable<ManifestRow[]>): Promise<ManifestRow[]> {
  const out: ManifestRow[] = [];
  for await (const page of pages) out.push(...page);
  return out;
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-manifest-'));

/** Keys that break naive handling: spaces, unicode, plus, percent, leading slash. */
const AWKWARD_KEYS = ['photos/a b.jpg', 'photos/ünï cödé/ø.png', 'photos/c+d.jpeg', 'photos/100%.webp', '/lead/slash.gif'];

/** Form-URL-encoding as S3 Inventory writes keys: space as "+", "+" as "%2B". */
const inventoryEncode = (k: string) => encodeURIComponent(k).replace(/%20/g, '+').replace(/%2F/g, '/');

test('inventory keys decode form-URL-encoding', () => {
  assert.equal(decodeInventoryKey('a+b%2Bc%25d%C3%BC'), 'a b+c%dü');
});

test('S3 Inventory with CSV.gz data files: keys decoded, Size/ETag by fileSchema, old versions and delete markers left out', async () => {
  await testS3();
  const bucket = await newBucket('inv-csv');
  const line = (k: string, size: number, etag: string, latest = 'true', del = 'false') =>
    `"${bucket}","${inventoryEncode(k)}","v1","${latest}","${del}","${size}","2026-01-01T00:00:00.000Z","${etag}"\n`;
  const file1 = AWKWARD_KEYS.slice(0, 3).map((k, i) => line(k, 100 + i, `e${i}`)).join('') + line('old.jpg', 1, 'x', 'false');
  const file2 = AWKWARD_KEYS.slice(3).map((k, i) => line(k, 200 + i, `f${i}`)).join('') + line('gone.jpg', 1, 'y', 'true', 'true');
  await writeBytes(`s3://${bucket}/inv/data/1.csv.gz`, gzipSync(file1));
  await writeBytes(`s3://${bucket}/inv/data/2.csv.gz`, gzipSync(file2));
  const manifest = {
    sourceBucket: bucket,
    destinationBucket: `arn:aws:s3:::${bucket}`,
    fileFormat: 'CSV',
    fileSchema: 'Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag',
    files: [{ key: 'inv/data/1.csv.gz' }, { key: 'inv/data/2.csv.gz' }],
  };
  await writeBytes(`s3://${bucket}/inv/manifest.json`, JSON.stringify(manifest));
  const rows = await collect(readManifest(manifestSource({ manifest: `s3://${bucket}/inv/manifest.json` })));
  assert.deepEqual(
    rows.map((r) => r.uri),
    AWKWARD_KEYS.map((k) => `s3://${bucket}/${k}`),
  );
  assert.deepEqual(rows.map((r) => r.size), [100, 101, 102, 200, 201]);
  assert.deepEqual(rows.map((r) => r.etag), ['e0', 'e1', 'e2', 'f0', 'f1']);
});

test('Inventory CSV: lines of another shape (unquoted, CRLF, escaped quotes) are parsed in full; a short line is a clear error', async () => {
  const bucket = await newBucket('inv-odd');
  const manifest = (key: string) => ({ destinationBucket: bucket, fileFormat: 'CSV', fileSchema: 'Bucket, Key, Size, ETag', files: [{ key }] });
  const odd = `"${bucket}","a.jpg","1","e1"\r\n${bucket},b+c.jpg,2,e2\r\n"${bucket}","d.jpg","3","say ""hi"""\n`;
  await writeBytes(`s3://${bucket}/odd/data.csv.gz`, gzipSync(odd));
  await writeBytes(`s3://${bucket}/odd/manifest.json`, JSON.stringify(manifest('odd/data.csv.gz')));
  const rows = await collect(readManifest(manifestSource({ manifest: `s3://${bucket}/odd/manifest.json` })));
  assert.deepEqual(rows, [
    { uri: `s3://${bucket}/a.jpg`, size: 1, etag: 'e1' },
    { uri: `s3://${bucket}/b c.jpg`, size: 2, etag: 'e2' },
    { uri: `s3://${bucket}/d.jpg`, size: 3, etag: 'say "hi"' },
  ]);
  await writeBytes(`s3://${bucket}/short/data.csv.gz`, gzipSync(`"${bucket}"\n`));
  await writeBytes(`s3://${bucket}/short/manifest.json`, JSON.stringify(manifest('short/data.csv.gz')));
  await assert.rejects(collect(readManifest(manifestSource({ manifest: `s3://${bucket}/short/manifest.json` }))), /lines have 1 fields, the fileSchema names 4: the manifest's fileSchema "Bucket, Key, Size, ETag" does not describe this data/);
});

test('a fileSchema that does not describe the data (too short, columns in another order) is refused, naming the file', async () => {
  const bucket = await newBucket('inv-schema');
  const data = `"${bucket}","a.jpg","12","e1"\n"${bucket}","b.jpg","13","e2"\n`;
  await writeBytes(`s3://${bucket}/s/data.csv.gz`, gzipSync(data));
  let n = 0;
  const read = async (fileSchema: string) => {
    const manifest = `s3://${bucket}/s/${++n}/manifest.json`;
    await writeBytes(manifest, JSON.stringify({ sourceBucket: bucket, destinationBucket: bucket, fileFormat: 'CSV', fileSchema, files: [{ key: 's/data.csv.gz' }] }));
    return collect(readManifest(manifestSource({ manifest })));
  };
  // "Bucket, Key" over 4 columns would drop ETag and size: everything re-tagged every night.
  await assert.rejects(read('Bucket, Key'), /s\/data\.csv\.gz.*lines have 4 fields, the fileSchema names 2/);
  // Key and Bucket swapped: every key a bucket name, every object "deleted".
  await assert.rejects(read('Key, Bucket, Size, ETag'), /the Bucket column holds "a\.jpg", not the inventoried bucket inv-schema/);
  await assert.rejects(read('Bucket, Key, ETag, Size'), /the Size column holds "e1", not a number/);
  assert.equal((await read('Bucket, Key, Size, ETag')).length, 2);
});

test('S3 Inventory with Parquet data files is read row group by row group', async () => {
  const bucket = await newBucket('inv-pq');
  const keys = Array.from({ length: 25 }, (_, i) => `p/${i} é.jpg`);
  const table = new Table({
    bucket: vectorFromArray(keys.map(() => bucket), new Utf8()),
    key: vectorFromArray(keys, new Utf8()),
    size: vectorFromArray(keys.map((_, i) => BigInt(i * 10)), new Int64()),
    e_tag: vectorFromArray(keys.map((_, i) => `etag${i}`), new Utf8()),
  });
  const props = new WriterPropertiesBuilder().setCompression(Compression.SNAPPY).setMaxRowGroupSize(10).build();
  await writeBytes(`s3://${bucket}/inv/data/a.parquet`, writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), props));
  await writeBytes(
    `s3://${bucket}/inv/manifest.json`,
    JSON.stringify({ destinationBucket: bucket, fileFormat: 'Parquet', fileSchema: 'message s3.inventory {}', files: [{ key: 'inv/data/a.parquet' }] }),
  );
  const rows = await collect(readManifest(manifestSource({ manifest: `s3://${bucket}/inv/manifest.json` })));
  assert.equal(rows.length, 25);
  assert.deepEqual(rows[24], { uri: `s3://${bucket}/p/24 é.jpg`, size: 240, etag: 'etag24' });
});

test('ORC inventories and non-inventory JSON are refused with a clear message', async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ destinationBucket: 'b', fileFormat: 'ORC', fileSchema: 'x', files: [{ key: 'a' }] }));
  await assert.rejects(collect(readManifest(manifestSource({ manifest: path.join(dir, 'manifest.json') }))), /ORC is not supported/);
  fs.writeFileSync(path.join(dir, 'manifest.json'), '{"hello": 1}');
  await assert.rejects(collect(readManifest(manifestSource({ manifest: path.join(dir, 'manifest.json') }))), /not an S3 Inventory manifest/);
});

test('key lists: txt with URIs, bare keys and local paths; CSV with a header; JSONL; gzipped', async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'keys.txt'), '# comment\ns3://bkt/a b.jpg\n\nrel/x.png\n/abs/y.jpg\r\n');
  assert.deepEqual(
    (await collect(readManifest(manifestSource({ manifest: path.join(dir, 'keys.txt') })))).map((r) => r.uri),
    ['s3://bkt/a b.jpg', path.join(dir, 'rel/x.png'), '/abs/y.jpg'],
  );
  assert.deepEqual(
    (await collect(readManifest(manifestSource({ manifest: path.join(dir, 'keys.txt'), bucket: 'other' })))).map((r) => r.uri),
    ['s3://bkt/a b.jpg', 's3://other/rel/x.png', 's3://other//abs/y.jpg'],
  );
  fs.writeFileSync(path.join(dir, 'keys.csv'), 'bucket,key,size,etag\nbkt,"k, with comma.jpg",12,"""abc"""\nbkt,ü.png,,\n');
  assert.deepEqual(await collect(readManifest(manifestSource({ manifest: path.join(dir, 'keys.csv') }))), [
    { uri: 's3://bkt/k, with comma.jpg', size: 12, etag: 'abc' },
    { uri: 's3://bkt/ü.png', size: undefined, etag: undefined },
  ]);
  fs.writeFileSync(path.join(dir, 'keys.jsonl.gz'), gzipSync('{"uri":"s3://bkt/1.jpg","size":5}\n"s3://bkt/2.jpg"\n'));
  assert.deepEqual(
    (await collect(readManifest(manifestSource({ manifest: path.join(dir, 'keys.jsonl.gz') })))).map((r) => [r.uri, r.size]),
    [['s3://bkt/1.jpg', 5], ['s3://bkt/2.jpg', undefined]],
  );
  fs.writeFileSync(path.join(dir, 'bad.jsonl'), '{"uri":"s3://bkt/1.jpg"}\n{oops\n');
  await assert.rejects(collect(readManifest(manifestSource({ manifest: path.join(dir, 'bad.jsonl') }))), /bad\.jsonl line 2: not valid JSON/);
  await assert.rejects(collect(readManifest(manifestSource({ manifest: path.join(dir, 'missing.txt') }))), /not found/);
});

test('a bare key in a key list on S3 is a key in that bucket', async () => {
  const bucket = await newBucket('keys');
  await writeBytes(`s3://${bucket}/lists/k.txt`, 'img/a.jpg\n');
  const rows = await collect(readManifest(manifestSource({ manifest: `s3://${bucket}/lists/k.txt` })));
  assert.deepEqual(rows, [{ uri: `s3://${bucket}/img/a.jpg` }]);
});

test('--prefix lists every object under the prefix across pages, with size and ETag', async () => {
  const bucket = await newBucket('prefix');
  const keys = Array.from({ length: 11 }, (_, i) => `in/${String(i).padStart(2, '0')} ü.jpg`);
  await Promise.all(keys.map((k) => writeBytes(`s3://${bucket}/${k}`, `body ${k}`)));
  await writeBytes(`s3://${bucket}/out/other.jpg`, 'x');
  const rows = await collect(readManifest(manifestSource({ prefix: `s3://${bucket}/in/` }), 3));
  assert.deepEqual(rows.map((r) => r.uri), keys.map((k) => `s3://${bucket}/${k}`));
  assert.equal(rows[0]!.size, Buffer.byteLength(`body ${keys[0]}`));
  assert.match(rows[0]!.etag!, /^[0-9a-f]{32}$/);
  assert.throws(() => manifestSource({ prefix: '/no/such/dir' }), /--prefix \/no\/such\/dir: not a folder/);
  assert.throws(() => manifestSource({}), /exactly one of --manifest/);
});

test('--manifest naming an Inventory configuration\'s folder plans its newest dated report (what a nightly schedule names once)', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('inv-dated');
  const config = `s3://${bucket}/inventory/photos/all/`;
  const report = async (date: string, keys: string[]) => {
    const data = `inventory/photos/all/data/${date}.csv.gz`;
    await writeBytes(`s3://${bucket}/${data}`, gzipSync(keys.map((k, i) => `"photos","${k}","${100 + i}","e${i}"\n`).join('')));
    const manifest = { destinationBucket: `arn:aws:s3:::${bucket}`, fileFormat: 'CSV', fileSchema: 'Bucket, Key, Size, ETag', files: [{ key: data }] };
    await writeBytes(`${config}${date}/manifest.json`, JSON.stringify(manifest));
  };
  await report('2026-11-21T01-00Z', ['a.jpg']);
  await report('2026-11-22T01-00Z', ['a.jpg', 'b.jpg', 'c.jpg']);
  // Athena's hive/ folder sits beside the dated ones and is not a report.
  await writeBytes(`${config}hive/dt=2026-11-22-01-00/symlink.txt`, 'x');
  const run = `s3://${bucket}/runs/r1`;
  const plan = await imgtag(['plan', '--manifest', config, '--run', run], s3.env);
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /^images\s+3$/m);
  const recorded = JSON.parse(await readText(`${run}/plan.json`)) as { source: { uri: string } };
  assert.equal(recorded.source.uri, `${config}2026-11-22T01-00Z/manifest.json`, 'plan.json names the report it read');
  const empty = await imgtag(['plan', '--manifest', `s3://${bucket}/inventory/other/`, '--run', `s3://${bucket}/runs/r2`], s3.env);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /has no dated Inventory reports \(folders like 2026-11-22T01-00Z\/\)/);
});
