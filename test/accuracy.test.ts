import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import { parseLabels } from '../src/model/labels.js';
import { imgtag } from './helpers/cli.js';
import { IMAGE_DIR, IMAGENET_DIR, MODEL_DIR, imagenetFiles } from './helpers/env.js';
import { modelColumn, readRunResults } from './helpers/results.js';

/** wnid (the file name's prefix) -> the label imgtag writes for that class. */
function labelsByWnid(): Map<string, string> {
  const lines = fs.readFileSync(path.join(MODEL_DIR, 'synset.txt'), 'utf8').trim().split('\n');
  const labels = parseLabels(lines.join('\n'), 'synset');
  return new Map(lines.map((l, i) => [l.split(' ')[0]!, labels[i]!]));
}

/** Top-5 accuracy of a whole `imgtag run` on photos named for their class: proves channel order, scale, mean/std and crop. */
async function top5(model: string, paths: string[] = imagenetFiles().map((f) => path.join(IMAGENET_DIR, f)), extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-acc-'));
  fs.writeFileSync(path.join(dir, 'keys.txt'), [...paths, ...extra].join('\n'));
  const run = path.join(dir, 'run');
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', run, '--shard-size', '125'])).code, 0);
  const res = await imgtag(['run', '--run', run, '--model', model, '--workers', '2'], { ...process.env, ...env });
  assert.equal(res.code, 0, res.stderr);
  const { rows } = await readRunResults(run);
  assert.equal(rows.length, paths.length + extra.length);
  assert.deepEqual(rows.filter((r) => r.error != null).map((r) => `${String(r.key)}: ${JSON.stringify(r.error)}`), [], 'no error rows');
  const byWnid = labelsByWnid();
  const classed = rows.filter((r) => paths.includes(String(r.key)));
  const hits = classed.filter((r) => {
    const truth = byWnid.get(path.basename(String(r.key)).split('_')[0]!);
    return (r[modelColumn('tags', model)] as { label: string }[]).some((t) => t.label === truth);
  }).length;
  return hits / classed.length;
}

test('MobileNetV2 int8: the true class is in the top 5 for at least 90% of the ImageNet samples', async () => {
  const acc = await top5('mobilenetv2-12-int8');
  console.log(`# MobileNetV2 top-5 accuracy: ${(acc * 100).toFixed(1)}%`);
  assert.ok(acc >= 0.9, `top-5 accuracy ${acc}`);
});

test('SqueezeNet 1.1 (BGR, 0-255, fixed batch 1): top 5 for at least 75%', async () => {
  const acc = await top5('squeezenet1.1');
  console.log(`# SqueezeNet top-5 accuracy: ${(acc * 100).toFixed(1)}%`);
  assert.ok(acc >= 0.75, `top-5 accuracy ${acc}`);
});

test('HEIC (HEVC, as iPhones write it), from its thumbnail: top-5 on 50 photos within 1 photo of the same photos as JPEG; every file tagged, none an error row', async () => {
  const heicDir = path.join(IMAGE_DIR, 'heic');
  const heics = fs.readdirSync(heicDir).filter((f) => /^n\d+_.*\.heic$/.test(f)).sort();
  assert.equal(heics.length, 50);
  // The same photos with a thumbnail, as phones store them: 320x240 for a 500x375 photo.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-heic-thumbs-'));
  // x265's veryfast preset: less than half the encoding time, the same HEVC to decode; two encoders at once.
  const limit = pLimit(2);
  const encode = (args: string[]) => promisify(execFile)('heif-enc', ['-q', '90', '-p', 'preset=veryfast', ...args]);
  const thumbed = await Promise.all(
    heics.map((f) =>
      limit(async () => {
        const out = path.join(dir, f);
        const jpeg = path.join(IMAGENET_DIR, f.replace(/\.heic$/, '.JPEG'));
        // heif-enc refuses a thumbnail as large as the photo: a photo 320 px or smaller gets none.
        await encode(['-t', '320', '-o', out, jpeg]).catch(() => encode(['-o', out, jpeg]));
        return out;
      }),
    ),
  );
  // The real photograph with two images in one file (its primary is tagged) and a second libheif sample.
  const others = fs.readdirSync(heicDir).filter((f) => f.startsWith('libheif-')).map((f) => path.join(heicDir, f));
  const jpeg = await top5('mobilenetv2-12-int8', heics.map((f) => path.join(IMAGENET_DIR, f.replace(/\.heic$/, '.JPEG'))));
  // The default path here; IMGTAG_HEIC_ACCURACY=all adds the primary image and WebAssembly (BENCHMARKS.md
  // records all three: they decode the same pictures, which test/heic.test.ts checks pixel by pixel).
  const paths: Record<string, number> = { 'native, from the thumbnail': await top5('mobilenetv2-12-int8', thumbed, others) };
  if (process.env.IMGTAG_HEIC_ACCURACY === 'all') {
    paths['native, the primary image'] = await top5('mobilenetv2-12-int8', thumbed, others, { IMGTAG_HEIC: 'full' });
    paths.WebAssembly = await top5('mobilenetv2-12-int8', heics.map((f) => path.join(heicDir, f)), others, { IMGTAG_HEIC: 'wasm' });
  }
  console.log(`# top-5 on the 50 photos: JPEG ${(jpeg * 100).toFixed(1)}%, ${Object.entries(paths).map(([k, v]) => `HEIC ${k} ${(v * 100).toFixed(1)}%`).join(', ')}`);
  for (const [k, v] of Object.entries(paths)) assert.ok(Math.abs(v - jpeg) <= 0.02 + 1e-9, `HEIC ${k} ${v} vs JPEG ${jpeg}`);
});
