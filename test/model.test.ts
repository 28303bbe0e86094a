import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { validateSpec } from '../src/model/spec.js';
import { topK } from '../src/infer/topk.js';
import { BUILTIN_MODEL_DIR } from '../src/model/paths.js';
import { imgtag } from './helpers/cli.js';
import { IMAGENET_DIR, MODEL_DIR, imagenetFiles } from './helpers/env.js';

const builtin = (name: string) => JSON.parse(fs.readFileSync(path.join(BUILTIN_MODEL_DIR, `${name}.json`), 'utf8'));

/** A planned local run of two images, to try models on. */
async function plannedRun(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-model-'));
  fs.writeFileSync(path.join(dir, 'keys.txt'), imagenetFiles().slice(0, 2).map((f) => path.join(IMAGENET_DIR, f)).join('\n'));
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', path.join(dir, 'run')])).code, 0);
  return dir;
}

test('topK: softmax over logits, best first, k of n', () => {
  const tags = topK(new Float32Array([1, 3, 2, 0]), 3, ['a', 'b', 'c', 'd'], true);
  assert.deepEqual(tags.map((t) => t.label), ['b', 'c', 'a']);
  const z = Math.exp(1) + Math.exp(3) + Math.exp(2) + 1;
  assert.ok(Math.abs(tags[0]!.score - Math.exp(3) / z) < 1e-6);
  assert.deepEqual(topK(new Float32Array([0.1, 0.7, 0.2]), 5, ['x', 'y', 'z'], false).map((t) => t.label), ['y', 'z', 'x']);
});

test('the shipped specs are valid and a broken spec names the bad field', () => {
  for (const name of ['mobilenetv2-12-int8', 'squeezenet1.1']) validateSpec(builtin(name), name);
  const spec = builtin('mobilenetv2-12-int8');
  assert.throws(() => validateSpec({ ...spec, input: { ...spec.input, layout: 'CHW' } }, 's.json'), /s\.json: "input\.layout" must be NCHW or NHWC/);
  assert.throws(() => validateSpec({ ...spec, input: { ...spec.input, std: [1, 0, 1] } }, 's.json'), /must not contain 0/);
  assert.throws(() => validateSpec({ ...spec, output: { ...spec.output, topK: 0 } }, 's.json'), /output\.topK/);
});

test('a model whose bytes do not match the spec sha256 is refused; a missing model says how to get it', async () => {
  const dir = await plannedRun();
  const run = path.join(dir, 'run');
  const spec = { ...builtin('mobilenetv2-12-int8'), sha256: '0'.repeat(64) };
  fs.copyFileSync(path.join(MODEL_DIR, spec.file), path.join(dir, spec.file));
  fs.writeFileSync(path.join(dir, 'mobilenetv2-12-int8.json'), JSON.stringify(spec));
  const changed = await imgtag(['run', '--run', run, '--model', path.join(dir, spec.file)]);
  assert.equal(changed.code, 1);
  assert.match(changed.stderr, /has sha256 cc028fe6.*but its spec expects 0000.*refusing/);
  assert.equal(fs.existsSync(path.join(run, 'commits')), false, 'nothing may be committed with a refused model');

  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-nomodel-'));
  const missing = await imgtag(['run', '--run', run], { ...process.env, IMGTAG_MODEL_DIR: empty, IMGTAG_CACHE_DIR: empty });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /mobilenetv2-12-int8\.onnx not found .*npm run fetch-model/);

  const unknown = await imgtag(['run', '--run', run, '--model', 'resnet9000']);
  assert.match(unknown.stderr, /unknown model "resnet9000".*mobilenetv2-12-int8, squeezenet1.1/);
  const noPlan = await imgtag(['run', '--run', path.join(dir, 'elsewhere')]);
  assert.equal(noPlan.code, 1);
  assert.match(noPlan.stderr, /no plan in .*elsewhere/);
});

test('a spec naming an input the model does not have fails the run before any shard', async () => {
  const dir = await plannedRun();
  const spec = builtin('mobilenetv2-12-int8');
  fs.writeFileSync(path.join(dir, 'wrong.json'), JSON.stringify({ ...spec, file: path.join(MODEL_DIR, spec.file), input: { ...spec.input, name: 'pixels' } }));
  const res = await imgtag(['run', '--run', path.join(dir, 'run'), '--model', path.join(dir, 'wrong.json'), '--workers', '2']);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /has no tensor input "pixels" \(it has: input\)/);
});
