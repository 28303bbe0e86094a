import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { decodeInventoryKey } from '../../src/manifest/inventory-csv.js';
import { writePart } from '../../src/plan/part-writer.js';
import { isImageUri } from '../../src/plan/filter.js';
import { encodeShardLine } from '../../src/rundir/shard-line.js';
import { s3Uri } from '../../src/storage/uri.js';
import { LineBytes } from '../../src/plan/line-bytes.js';
import { KEYS } from '../helpers/inventory-keys.js';
import { ESCAPED_KEYS as ESCAPED } from '../helpers/escaped-keys.js';

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
  // Escapes that make another extension or last segment: x.jpeg is an image, a/.jpg is not.
  const escaped = await viaBytes(ESCAPED);
  assert.equal(escaped, viaStrings(ESCAPED));
  assert.match(escaped, /"uri":"s3:\/\/my-photos\/p\/x\.jpeg"/);
  assert.match(escaped, /"uri":"s3:\/\/my-photos\/p\/photo\.jpg"/);
  assert.doesNotMatch(escaped, /a\/\.jpg|b\/\.png|x\.txt/);
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


/** A key as a user might upload it, from pieces that need every kind of encoding, URL-encoded as S3 Inventory writes it. */
function randomKey(next: () => number): string {
  const pieces = ['a', 'Z', '0', ' ', '+', '%', '/', '.', '-', '_', '~', '(', ')', '[', ']', '"', '\\', 'é', 'Ω', '한', '📷', '\t', '!', '*', "'", '&', '='];
  let key = `p/${Math.floor(next() * 1000)}/`;
  for (let n = 1 + Math.floor(next() * 12); n > 0; n--) key += pieces[Math.floor(next() * pieces.length)]!;
  const ext = ['jpg', 'PNG', 'txt', 'heic', 'jpeg'][Math.floor(next() * 5)]!;
  return encodeURIComponent(`${key}.${ext}`).replaceAll('%2F', '/').replaceAll('%20', '+');
}

test('generated keys: the byte path (LineBytes.copyKey) writes each decoded key as JSON.stringify does, and writePart the same lines as the string path', async () => {
  let seed = 42;
  const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const keys = Array.from({ length: 3000 }, () => randomKey(next));
  for (const key of keys) {
    const src = Buffer.from(key);
    let out = '';
    const lb = new LineBytes((b) => (out += b.toString('utf8')));
    lb.reserve(src.length);
    const ok = lb.copyKey(src, 0, src.length);
    lb.flush();
    const decoded = decodeInventoryKey(key);
    // The byte path declines what JSON escapes (a quote, a backslash, a tab): the string path writes those.
    if (ok) assert.equal(`"${out}"`, JSON.stringify(decoded), key);
    else assert.match(decoded, /["\\\u0000-\u001f]/, `declined ${key}`);
  }
  assert.equal(await viaBytes(keys), viaStrings(keys));
});
