import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { decodeInventoryKey } from '../src/manifest/inventory-csv.js';
import { writePart } from '../src/plan/part-writer.js';
import { isImageUri } from '../src/plan/filter.js';
import { encodeShardLine } from '../src/plan/shard-line.js';
import { s3Uri } from '../src/storage/uri.js';
import { writeBytes } from '../src/storage/storage.js';
import { newBucket, testS3 } from './helpers/s3.js';

// Keys as an Inventory writes them (URL-encoded), and the odd ones a hand-made report may hold.
const KEYS = [
  'photos/IMG_1.jpg',
  'photos/%C3%89t%C3%A9+2024+%5Bcopy%5D/IMG+12%2B3.jpg', // "Été 2024 [copy]/IMG 12+3.jpg"
  'p/%ED%95%9C%EA%B5%AD%EC%96%B4.png', // Korean: lead bytes EA-ED
  'p/%F0%9F%93%B7+%E0%A4%95.webp', // an emoji (4 bytes) and Devanagari (E0)
  'p/%22quoted%22+%5Cback.jpg', // JSON escapes them
  'p/tab%09and%0Anewline.jpg',
  'p/photo%2Ejpg', // the extension escaped
  'p/100%25+sure.JPEG',
  'p/raw é bytes.jpg', // not encoded at all (hand-made)
  'p/notes.txt',
  'p/%7E%21%2A%28%29.gif',
];
// decodeURIComponent refuses these: both paths must refuse them alike.
const BAD = ['p/overlong%C0%AF.jpg', 'p/surrogate%ED%A0%80.jpg', 'p/cut%E2%82.jpg', 'p/bad%ZZ.jpg', 'p/past%F4%90%80%80.jpg'];

const BUCKET = 'my-photos';
const SCHEMA = 'Bucket, Key, Size, LastModifiedDate, ETag';
const line = (key: string, i: number) => `"${BUCKET}","${key}","${1000 + i}","2026-11-22T01:00:00.000Z","e${i}"\n`;

async function viaBytes(keys: string[]): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-bytes-'));
  const data = path.join(dir, 'data.csv.gz');
  fs.writeFileSync(data, gzipSync(keys.map(line).join('')));
  const out = path.join(dir, 'part.ndjson');
  await writePart({ uri: data, format: 'csv', schema: SCHEMA, sourceBucket: BUCKET, out }, fs.createReadStream(data));
  return fs.readFileSync(out, 'utf8');
}

/** What the string path writes for the same rows: decode, filter, encode. */
function viaStrings(keys: string[]): string {
  return keys
    .map((k, i) => ({ uri: s3Uri(BUCKET, decodeInventoryKey(k)), i }))
    .filter(({ uri }) => isImageUri(uri))
    .map(({ uri, i }) => encodeShardLine(uri, String(1000 + i), `e${i}`))
    .join('');
}

test('Inventory keys URL-decoded byte by byte give the same shard lines, byte for byte, as the string path', async () => {
  const bytes = await viaBytes(KEYS);
  assert.equal(bytes, viaStrings(KEYS));
  assert.match(bytes, /"uri":"s3:\/\/my-photos\/photos\/Été 2024 \[copy\]\/IMG 12\+3\.jpg"/);
  // Many rows, every kind, in one file: the same again.
  const many = Array.from({ length: 5000 }, (_, i) => KEYS[i % KEYS.length]!.replace('p/', `p/${i}/`));
  assert.equal(await viaBytes(many), viaStrings(many));
});

test('keys decodeURIComponent refuses are refused alike, naming the key', async () => {
  for (const key of BAD) {
    assert.throws(() => decodeInventoryKey(key), /is not URL-encoded as S3 writes it/);
    await assert.rejects(viaBytes([KEYS[0]!, key]), new RegExp(`Inventory key "${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" is not URL-encoded as S3 writes it`));
  }
});

const CLI = fileURLToPath(new URL('../cli/imgtag.js', import.meta.url));

/** `imgtag plan` of an Inventory report in its own process; the native line reader on or off. */
function planShards(manifest: string, run: string, native: boolean, env: NodeJS.ProcessEnv): { shards: string; stderr: string } {
  const res = spawnSync(process.execPath, [CLI, 'plan', '--manifest', manifest, '--run', run, '--shard-size', '700'], { env: { ...env, IMGTAG_PLAN_NATIVE: native ? '1' : '0' }, encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  const dir = path.join(run, 'shards');
  const shards = fs.readdirSync(dir).sort().map((f) => `${f}\n${fs.readFileSync(path.join(dir, f), 'utf8')}`).join('');
  return { shards, stderr: res.stderr };
}

test('the native line reader plans the same shards, byte for byte, as JavaScript: every kind of key and line, versions, a key longer than its buffer', async () => {
  const { env } = await testS3();
  const bucket = await newBucket('native-lines');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-native-'));
  const schema = 'Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, ETag';
  const q = (...f: string[]) => `"${f.join('","')}"`;
  const lines: string[] = [];
  for (let i = 0; i < 6000; i++) {
    const key = KEYS[i % KEYS.length]!.replace('p/', `p/${i}/`);
    const latest = i % 13 === 5 ? 'FALSE' : 'true';
    const marker = i % 17 === 3 ? 'True' : 'false';
    lines.push(i % 29 === 7 ? q(bucket, key, `v${i}`, latest, marker, '', '') : q(bucket, key, `v${i}`, latest, marker, String(i), `etag${i}`));
    if (i % 500 === 0) lines.push(`${bucket},p/${i}/unquoted.jpg,v,true,false,${i},e${i}`); // another shape: csv-parse reads it
    if (i % 700 === 1) lines.push(`${q(bucket, `p/${i}/say ""hi"".png`, 'v', 'true', 'false', '9', 'e')}\r`); // escaped quotes, CRLF
  }
  lines.push(q(bucket, `${'long/'.repeat(250_000)}x.jpg`, 'v', 'true', 'false', '1', 'e')); // 1.25 MB: more than the 1 MiB output buffer
  await writeBytes(`s3://${bucket}/inv/data.csv.gz`, gzipSync(lines.join('\n') + '\n'));
  const manifest = `s3://${bucket}/inv/manifest.json`;
  await writeBytes(manifest, JSON.stringify({ sourceBucket: bucket, destinationBucket: bucket, fileFormat: 'CSV', fileSchema: schema, files: [{ key: 'inv/data.csv.gz' }] }));
  const native = planShards(manifest, path.join(dir, 'native'), true, env);
  const js = planShards(manifest, path.join(dir, 'js'), false, env);
  assert.equal(native.shards, js.shards);
  assert.match(js.stderr, /planning read Inventory lines in JavaScript.*IMGTAG_PLAN_NATIVE=0/);
  assert.doesNotMatch(native.stderr, /in JavaScript/, 'the native line reader is built (a C compiler is all it needs)');
  const plan = JSON.parse(fs.readFileSync(path.join(dir, 'native', 'plan.json'), 'utf8')) as { counts: { rows: number; images: number } };
  assert.ok(plan.counts.images > 3000 && plan.counts.rows > plan.counts.images, JSON.stringify(plan.counts));
  assert.match(native.shards, new RegExp(`"uri":"s3://${bucket}/p/1/say \\\\"hi\\\\"\\.png"`));
  assert.match(native.shards, /long\/long\/.*x\.jpg/);
  fs.rmSync(dir, { recursive: true, force: true });
});
