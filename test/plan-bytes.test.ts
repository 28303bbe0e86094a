import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { decodeInventoryKey } from '../src/manifest/inventory-csv.js';
import { writePart } from '../src/plan/part-writer.js';
import { isImageUri } from '../src/plan/filter.js';
import { encodeShardLine } from '../src/plan/shard-file.js';
import { s3Uri } from '../src/storage/uri.js';

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
  await writePart({ uri: data, format: 'csv', schema: SCHEMA, sourceBucket: BUCKET, out });
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
