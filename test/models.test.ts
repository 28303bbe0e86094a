import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { BUILTIN_MODEL_DIR } from '../src/model/paths.js';
import { parseLabels } from '../src/model/labels.js';
import { writeBytes } from '../src/storage/storage.js';
import { imgtag } from './helpers/cli.js';
import { IMAGENET_DIR, MODEL_DIR, imagenetFiles } from './helpers/env.js';
import { MOBILENET_MODEL, MOBILENET_TAGS, readRunResults } from './helpers/results.js';
import { newBucket, testS3 } from './helpers/s3.js';

type Tag = { label: string; score: number };
const builtin = (name: string) => JSON.parse(fs.readFileSync(path.join(BUILTIN_MODEL_DIR, `${name}.json`), 'utf8'));
const MOBILENET = path.join(MODEL_DIR, 'mobilenetv2-12-int8.onnx');

/** A local run over `n` ImageNet photos (from `from`), planned in shards of 8. */
async function plannedRun(n: number, from = 0): Promise<{ dir: string; keys: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-models-'));
  const keys = path.join(dir, 'keys.txt');
  fs.writeFileSync(keys, imagenetFiles().slice(from, from + n).map((f) => path.join(IMAGENET_DIR, f)).join('\n'));
  return { dir, keys };
}

async function tagRun(keys: string, run: string, models: string[], env?: NodeJS.ProcessEnv) {
  assert.equal((await imgtag(['plan', '--manifest', keys, '--run', run, '--shard-size', '8'], env)).code, 0);
  const res = await imgtag(['run', '--run', run, ...models.flatMap((m) => ['--model', m])], env);
  assert.equal(res.code, 0, res.stderr);
  return readRunResults(run);
}

const byKey = (rows: Record<string, unknown>[]) => new Map(rows.map((r) => [String(r.key), r]));
const markers = (run: string) => fs.readdirSync(path.join(run, 'commits')).map((f) => JSON.parse(fs.readFileSync(path.join(run, 'commits', f), 'utf8')));

test('two models in one run: one decode per image, each model its own columns, the same tags as each model alone', async () => {
  const { dir, keys } = await plannedRun(20);
  const both = await tagRun(keys, path.join(dir, 'both'), ['mobilenetv2-12-int8', 'squeezenet1.1']);
  assert.deepEqual(both.columns, ['key', 'bucket', 'etag', 'size', 'width', 'height', 'model_mobilenetv2_12_int8', 'tags_mobilenetv2_12_int8', 'model_squeezenet1_1', 'tags_squeezenet1_1', 'error', 'run_id', 'tagged_at']);
  const m = markers(path.join(dir, 'both'));
  assert.equal(m.reduce((n, x) => n + x.decodes, 0), 20, 'one decode per image for two models');
  assert.deepEqual(m[0].models, ['mobilenetv2-12-int8@cc028fe6cae7', 'squeezenet1.1@21f25e3d9254']);
  const mobile = byKey((await tagRun(keys, path.join(dir, 'mobile'), ['mobilenetv2-12-int8'])).rows);
  const squeeze = byKey((await tagRun(keys, path.join(dir, 'squeeze'), ['squeezenet1.1'])).rows);
  for (const r of both.rows) {
    assert.deepEqual(r[MOBILENET_TAGS], mobile.get(String(r.key))![MOBILENET_TAGS]);
    assert.deepEqual(r.tags_squeezenet1_1, squeeze.get(String(r.key))!.tags_squeezenet1_1);
    assert.equal(r.model_squeezenet1_1, 'squeezenet1.1@21f25e3d9254');
  }
});

test('models of different input sizes still share one decode per image', async () => {
  const { dir, keys } = await plannedRun(16, 40);
  // The same network fed a 224 px crop of a 240 px short side: another size, resized from the same decode.
  const small = { ...builtin('mobilenetv2-12-int8'), name: 'mobilenet-240', file: MOBILENET, input: { ...builtin('mobilenetv2-12-int8').input, resizeShortSide: 240 } };
  fs.writeFileSync(path.join(dir, 'small.json'), JSON.stringify(small));
  const { rows } = await tagRun(keys, path.join(dir, 'run'), ['mobilenetv2-12-int8', path.join(dir, 'small.json')]);
  assert.equal(markers(path.join(dir, 'run')).reduce((n, x) => n + x.decodes, 0), 16);
  const alone = byKey((await tagRun(keys, path.join(dir, 'alone'), ['mobilenetv2-12-int8'])).rows);
  const sameTop = rows.filter((r) => (r[MOBILENET_TAGS] as Tag[])[0]!.label === (alone.get(String(r.key))![MOBILENET_TAGS] as Tag[])[0]!.label).length;
  assert.ok(sameTop >= 14, `resizing from the shared decode changed the best tag of ${16 - sameTop} images`);
  assert.ok(rows.every((r) => (r.tags_mobilenet_240 as Tag[]).length === 5));
});

test('output kinds: multilabel (sigmoid over a threshold), embedding (unit vectors), zero-shot tags by cosine similarity', async () => {
  const { dir, keys } = await plannedRun(6);
  const base = builtin('mobilenetv2-12-int8');
  const lines = fs.readFileSync(path.join(MODEL_DIR, 'synset.txt'), 'utf8').trim().split('\n');
  const names = parseLabels(lines.join('\n'), 'synset');
  // Label vectors the test makes itself: one-hot rows in the 1000-d logit space for six classes.
  const classes = imagenetFiles().slice(0, 6).map((f) => lines.findIndex((l) => l.startsWith(f.split('_')[0]!)));
  const vectors = classes.map((c) => Array.from({ length: 1000 }, (_, i) => (i === c ? 1 : 0)));
  fs.writeFileSync(path.join(dir, 'zs.json'), JSON.stringify({ labels: classes.map((c) => `zs:${names[c]}`), vectors }));
  const specs = {
    multi: { ...base, name: 'multi', file: MOBILENET, output: { name: 'output', kind: 'multilabel', topK: 5, threshold: 0.9 } },
    // A plain embedding writes no tags: it needs no topK.
    embed: { ...base, name: 'embed', file: MOBILENET, labels: undefined, output: { name: 'output', kind: 'embedding', normalize: true } },
    zero: { ...base, name: 'zero', file: MOBILENET, labels: undefined, output: { name: 'output', kind: 'embedding', topK: 2, zeroShot: { file: path.join(dir, 'zs.json') } } },
  };
  for (const [k, v] of Object.entries(specs)) fs.writeFileSync(path.join(dir, `${k}.json`), JSON.stringify(v));
  const { rows, columns } = await tagRun(keys, path.join(dir, 'run'), ['mobilenetv2-12-int8', ...Object.keys(specs).map((k) => path.join(dir, `${k}.json`))]);
  assert.deepEqual(columns.slice(6), ['model_embed', 'embedding_embed', 'model_mobilenetv2_12_int8', 'tags_mobilenetv2_12_int8', 'model_multi', 'tags_multi', 'model_zero', 'tags_zero', 'embedding_zero', 'error', 'run_id', 'tagged_at']);
  for (const r of rows) {
    const best = (r[MOBILENET_TAGS] as Tag[])[0]!.label;
    const multi = r.tags_multi as Tag[];
    assert.ok(multi.every((t) => t.score >= 0.9));
    if (multi.length > 0) assert.equal(multi[0]!.label, best);
    const e = r.embedding_embed as number[];
    assert.equal(e.length, 1000);
    assert.ok(Math.abs(Math.hypot(...e) - 1) < 1e-4, 'unit length');
    const zero = r.tags_zero as Tag[];
    assert.equal(zero.length, 2);
    // The best zero-shot label is the one of the six classes with the highest logit.
    const logits = classes.map((c) => e[c]!);
    assert.equal(zero[0]!.label, `zs:${names[classes[logits.indexOf(Math.max(...logits))]!]}`);
  }
  const trueLabel = (key: string) => `zs:${names[lines.findIndex((l) => l.startsWith(path.basename(key).split('_')[0]!))]}`;
  const right = rows.filter((r) => (r.tags_zero as Tag[])[0]!.label === trueLabel(String(r.key))).length;
  assert.ok(right >= 5, `zero-shot over the six true classes picked the right one for ${right} of 6`);
});

test('a model from s3:// is fetched once, cached by sha256, and refused when its bytes do not match', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('models');
  const spec = builtin('mobilenetv2-12-int8');
  await writeBytes(`s3://${bucket}/models/v1/mobilenetv2-12-int8.onnx`, fs.readFileSync(MOBILENET));
  await writeBytes(`s3://${bucket}/models/v1/mobilenetv2-12-int8.json`, JSON.stringify(spec));
  await writeBytes(`s3://${bucket}/models/v1/synset.txt`, fs.readFileSync(path.join(MODEL_DIR, 'synset.txt')));
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-cache-'));
  const env = { ...s3.env, IMGTAG_CACHE_DIR: cache };
  const { dir, keys } = await plannedRun(4);
  const { rows } = await tagRun(keys, path.join(dir, 'run'), [`s3://${bucket}/models/v1/mobilenetv2-12-int8.onnx`], env);
  assert.ok(rows.every((r) => r[MOBILENET_MODEL] === 'mobilenetv2-12-int8@cc028fe6cae7'));
  assert.ok(fs.existsSync(path.join(cache, 'models/sha256', spec.sha256)), 'cached under its sha256');

  await writeBytes(`s3://${bucket}/models/v2/mobilenetv2-12-int8.json`, JSON.stringify({ ...spec, file: '../v1/mobilenetv2-12-int8.onnx', sha256: 'f'.repeat(64) }));
  assert.equal((await imgtag(['plan', '--manifest', keys, '--run', path.join(dir, 'bad')], env)).code, 0);
  const bad = await imgtag(['run', '--run', path.join(dir, 'bad'), '--model', `s3://${bucket}/models/v2/mobilenetv2-12-int8.json`], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /has sha256 cc028fe6\w+, but its spec expects f{64}: refusing/);
});

test('nightly with a new model version re-tags everything (or only new objects with --new-objects-only); the report shows the change', async () => {
  const s3 = await testS3();
  const bucket = await newBucket('nightly-model');
  for (let i = 0; i < 6; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, fs.readFileSync(path.join(IMAGENET_DIR, imagenetFiles()[i]!)));
  const root = `s3://${bucket}/nightly`;
  const nightly = (...args: string[]) => imgtag(['nightly', '--root', root, '--prefix', `s3://${bucket}/img/`, ...args], s3.env);
  assert.equal((await nightly()).code, 0);
  const same = await nightly();
  assert.match(same.stdout, /^images\s+0$/m);
  const v2 = await nightly('--model', 'squeezenet1.1');
  assert.equal(v2.code, 0, v2.stderr);
  assert.match(v2.stdout, /^model change\s+mobilenetv2-12-int8@cc028fe6cae7 -> squeezenet1.1@21f25e3d9254$/m);
  assert.match(v2.stdout, /^images\s+6$/m);
  const run = /^run\s+(\S+)$/m.exec(v2.stdout)![1]!;
  assert.equal((await imgtag(['report', '--run', run], s3.env)).code, 0);
  const { readText } = await import('../src/storage/storage.js');
  const report = JSON.parse(await readText(`${run}/reports/report.json`));
  assert.deepEqual(report.models, ['squeezenet1.1@21f25e3d9254']);
  assert.deepEqual(report.parent.models, ['mobilenetv2-12-int8@cc028fe6cae7']);
  assert.match(await readText(`${run}/reports/report.md`), /parent run models \| mobilenetv2-12-int8@cc028fe6cae7 \(changed\)/);
  for (let i = 6; i < 8; i++) await writeBytes(`s3://${bucket}/img/${i}.jpg`, fs.readFileSync(path.join(IMAGENET_DIR, imagenetFiles()[i]!)));
  const onlyNew = await nightly('--model', 'mobilenetv2-12-int8', '--new-objects-only');
  assert.match(onlyNew.stdout, /^images\s+2$/m);
});

test('a float16 model (input and output float16) is fed by the same pre-processing graph and agrees with its float32 twin', async () => {
  const { dir, keys } = await plannedRun(12, 200);
  // squeezenet1.1 is the float16 file; its twin has every float16 tensor cast to float32 (test data, derived).
  const spec = { ...builtin('squeezenet1.1'), name: 'squeezenet1.1-fp32', file: path.join(MODEL_DIR, 'SqueezeNet_fp16_upcast_fp32.onnx'), sha256: undefined };
  const specFile = path.join(dir, 'fp32.json');
  fs.writeFileSync(specFile, JSON.stringify(spec));
  const full = byKey((await tagRun(keys, path.join(dir, 'full'), [specFile])).rows);
  const half = byKey((await tagRun(keys, path.join(dir, 'half'), ['squeezenet1.1'])).rows);
  let same = 0;
  for (const [key, r] of half) {
    const [h, f] = [(r.tags_squeezenet1_1 as Tag[])[0]!, (full.get(key)!.tags_squeezenet1_1_fp32 as Tag[])[0]!];
    assert.ok(h.score > 0 && h.score <= 1, `${key}: a probability, not raw float16 bits`);
    if (h.label === f.label) same += 1;
  }
  assert.ok(same >= 11, `top-1 agrees for ${same} of 12 images`);
});
