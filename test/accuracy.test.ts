import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
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
async function top5(model: string, paths: string[] = imagenetFiles().map((f) => path.join(IMAGENET_DIR, f)), extra: string[] = []): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-acc-'));
  fs.writeFileSync(path.join(dir, 'keys.txt'), [...paths, ...extra].join('\n'));
  const run = path.join(dir, 'run');
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', run, '--shard-size', '125'])).code, 0);
  const res = await imgtag(['run', '--run', run, '--model', model, '--workers', '2']);
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

test('HEIC (HEVC, as iPhones write it): every file tagged, none an error row; top-5 on 50 photos within 3 points of the same photos as JPEG', async () => {
  const heicDir = path.join(IMAGE_DIR, 'heic');
  const heics = fs.readdirSync(heicDir).filter((f) => /^n\d+_.*\.heic$/.test(f)).sort();
  assert.equal(heics.length, 50);
  // The real photograph with two images in one file (its primary is tagged) and a second libheif sample.
  const others = fs.readdirSync(heicDir).filter((f) => f.startsWith('libheif-')).map((f) => path.join(heicDir, f));
  const heic = await top5('mobilenetv2-12-int8', heics.map((f) => path.join(heicDir, f)), others);
  const jpeg = await top5('mobilenetv2-12-int8', heics.map((f) => path.join(IMAGENET_DIR, f.replace(/\.heic$/, '.JPEG'))));
  console.log(`# top-5 on the 50 HEIC photos: ${(heic * 100).toFixed(1)}%, the same as JPEG: ${(jpeg * 100).toFixed(1)}%`);
  assert.ok(Math.abs(heic - jpeg) <= 0.03, `HEIC ${heic} vs JPEG ${jpeg}`);
});
