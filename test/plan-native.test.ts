import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { writeBytes } from '../src/storage/storage.js';
import { KEYS } from './helpers/inventory-keys.js';
import { ESCAPED_KEYS as ESCAPED } from './helpers/escaped-keys.js';
import { newBucket, testS3 } from './helpers/s3.js';

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
  // Escapes that change the key's extension or last segment once decoded ("x%2Ejpeg" is x.jpeg, "a%2F.jpg" a hidden a/.jpg).
  for (const key of ESCAPED) lines.push(q(bucket, key, 'v', 'true', 'false', '7', 'e'));
  lines.push(q(bucket, `${'long/'.repeat(250_000)}x.jpg`, 'v', 'true', 'false', '1', 'e')); // 1.25 MB: more than the 1 MiB output buffer
  await writeBytes(`s3://${bucket}/inv/data.csv.gz`, gzipSync(lines.join('\n') + '\n'));
  const manifest = `s3://${bucket}/inv/manifest.json`;
  await writeBytes(manifest, JSON.stringify({ sourceBucket: bucket, destinationBucket: bucket, fileFormat: 'CSV', fileSchema: schema, files: [{ key: 'inv/data.csv.gz' }] }));
  const native = planShards(manifest, path.join(dir, 'native'), true, env);
  const js = planShards(manifest, path.join(dir, 'js'), false, env);
  assert.equal(native.shards, js.shards);
  assert.match(js.stderr, /planning read Inventory lines in JavaScript.*IMGTAG_PLAN_NATIVE=0/);
  assert.doesNotMatch(native.stderr, /in JavaScript/, 'the native line reader is built (a C compiler is all it needs)');
  const plan = JSON.parse(fs.readFileSync(path.join(dir, 'native', 'plan.json'), 'utf8')) as { counts: { rows: number; images: number; bytes: number } };
  // The images' sizes add up alike on both paths (the C reader sums them as it copies the digits).
  const jsPlan = JSON.parse(fs.readFileSync(path.join(dir, 'js', 'plan.json'), 'utf8')) as { counts: { bytes: number } };
  assert.ok(plan.counts.bytes > 0);
  assert.equal(plan.counts.bytes, jsPlan.counts.bytes);
  assert.ok(plan.counts.images > 3000 && plan.counts.rows > plan.counts.images, JSON.stringify(plan.counts));
  assert.match(native.shards, new RegExp(`"uri":"s3://${bucket}/p/1/say \\\\"hi\\\\"\\.png"`));
  assert.match(native.shards, /long\/long\/.*x\.jpg/);
  assert.match(native.shards, new RegExp(`"uri":"s3://${bucket}/p/x\\.jpeg"`));
  assert.doesNotMatch(native.shards, new RegExp(`s3://${bucket}/p/a/\\.jpg`));
  fs.rmSync(dir, { recursive: true, force: true });
});
