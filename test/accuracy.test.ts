import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseLabels } from '../src/model/labels.js';
import { imgtag } from './helpers/cli.js';
import { IMAGENET_DIR, MODEL_DIR, imagenetFiles } from './helpers/env.js';
import { modelColumn, readRunResults } from './helpers/results.js';

/** wnid (the file name's prefix) -> the label imgtag writes for that class. */
function labelsByWnid(): Map<string, string> {
  const lines = fs.readFileSync(path.join(MODEL_DIR, 'synset.txt'), 'utf8').trim().split('\n');
  const labels = parseLabels(lines.join('\n'), 'synset');
  return new Map(lines.map((l, i) => [l.split(' ')[0]!, labels[i]!]));
}

/** Top-5 accuracy of a whole `imgtag run` on the ImageNet samples: proves channel order, scale, mean/std and crop. */
async function top5(model: string): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-acc-'));
  const files = imagenetFiles();
  fs.writeFileSync(path.join(dir, 'keys.txt'), files.map((f) => path.join(IMAGENET_DIR, f)).join('\n'));
  const run = path.join(dir, 'run');
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', run, '--shard-size', '125'])).code, 0);
  const res = await imgtag(['run', '--run', run, '--model', model, '--workers', '2']);
  assert.equal(res.code, 0, res.stderr);
  const { rows } = await readRunResults(run);
  assert.equal(rows.length, files.length);
  const byWnid = labelsByWnid();
  const hits = rows.filter((r) => {
    const truth = byWnid.get(path.basename(String(r.key)).split('_')[0]!);
    return (r[modelColumn('tags', model)] as { label: string }[]).some((t) => t.label === truth);
  }).length;
  return hits / rows.length;
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
