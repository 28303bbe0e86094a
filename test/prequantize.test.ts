import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { packBatch } from '../src/batch/pack.js';
import { decodeWithSharp } from '../src/decode/decode.js';
import { decodeHeicNative } from '../src/decode/heic-native.js';
import { decodeJpegFast } from '../src/decode/jpeg-fast.js';
import type { DecodeTarget } from '../src/decode/types.js';
import { loadClassifier, type Classifier } from '../src/infer/session.js';
import { tableAddon } from '../src/infer/quant-table.js';
import { resolveModel } from '../src/model/resolve.js';
import { IMAGE_DIR, IMAGENET_DIR, imagenetFiles } from './helpers/env.js';

/**
 * Pre-quantized input must be exact: the int8 model fed the table's bytes gives the same top-5,
 * labels and scores bit for bit, as the same model normalising its own input, on every decode
 * path that feeds it (JPEG fast path, sharp, HEIC native).
 */
const TARGET: DecodeTarget = { width: 224, height: 224, shortSide: 256, maxPixels: 100_000_000 };
const BATCH = 16;

let direct: Classifier;
let normalising: Classifier;
before(async () => {
  const model = await resolveModel('mobilenetv2-12-int8');
  direct = await loadClassifier(model, { threads: 1 });
  normalising = await loadClassifier(model, { threads: 1, prequantize: false });
});
after(async () => {
  await direct.release();
  await normalising.release();
});

/** Both classifiers over the same decoded pixels, in batches; every tag compared with Object.is. */
async function assertSame(name: string, pixels: Uint8Array[]): Promise<void> {
  assert.ok(pixels.length > 0, `${name}: no images decoded`);
  const perImage = 224 * 224 * 3;
  let compared = 0;
  for (let i = 0; i < pixels.length; i += BATCH) {
    const slice = pixels.slice(i, i + BATCH);
    const keys = slice.map((_, j) => String(i + j));
    // Each classify detaches its batch: a pack of its own for each.
    const [a, b] = await Promise.all([direct, normalising].map((c) => c.classify(packBatch(keys, slice, perImage).tensor, slice.length)));
    a!.forEach((out, j) => {
      const want = b![j]!.tags!;
      assert.deepEqual(out.tags!.map((t) => t.label), want.map((t) => t.label), `${name} image ${i + j}: labels`);
      out.tags!.forEach((t, k) => assert.ok(Object.is(t.score, want[k]!.score), `${name} image ${i + j}: score ${t.score} != ${want[k]!.score}`));
      compared++;
    });
  }
  console.log(`# ${name}: ${compared} images, top-5 labels and scores identical`);
}

const jpegs = () => imagenetFiles().map((f) => fs.readFileSync(path.join(IMAGENET_DIR, f)));

test('the int8 model is fed pre-quantized bytes; the fp16 and fp32 models are not', async () => {
  assert.equal(direct.prequantized, tableAddon() !== undefined, 'pre-quantized wherever the table addon is built');
  assert.equal(normalising.prequantized, false);
  for (const name of ['squeezenet1.1']) {
    const c = await loadClassifier(await resolveModel(name), { threads: 1 });
    assert.equal(c.prequantized, false, name);
    await c.release();
  }
});

test("the table's native pass equals a byte-by-byte lookup (SIMD blocks and the tail)", (t) => {
  const addon = tableAddon();
  if (!addon) return t.skip('the table addon is not built');
  const table = Uint8Array.from({ length: 768 }, (_, i) => (i * 167 + 13) & 255);
  for (const n of [3, 189, 192, 195, 435, 224 * 224 * 3]) {
    const pixels = Uint8Array.from({ length: n }, (_, i) => (i * 2654435761) >>> 24);
    const want = pixels.map((v, i) => table[(i % 3) * 256 + v]!);
    addon.applyTable(pixels, table);
    assert.deepEqual(pixels, want, `${n} bytes`);
  }
});

test('JPEG fast path: identical top-5 on the 500 ImageNet samples', async () => {
  const got = await Promise.all(jpegs().map((b) => decodeJpegFast(b, [TARGET])));
  await assertSame('JPEG fast path', got.filter((g) => g !== undefined).map((g) => g.pixels[0]!));
});

test('sharp: identical top-5 on 200 ImageNet samples and the large photos', async () => {
  const large = fs.readdirSync(path.join(IMAGE_DIR, 'large')).map((f) => path.join(IMAGE_DIR, 'large', f));
  const bytes = [...jpegs().slice(0, 200), ...large.map((f) => fs.readFileSync(f))];
  const got = await Promise.all(bytes.map((b) => decodeWithSharp(b, [TARGET]).then((d) => d.pixels[0]!, () => undefined)));
  await assertSame('sharp', got.filter((g) => g !== undefined));
});

test('HEIC native: identical top-5 on every HEIC sample', async (t) => {
  const dir = path.join(IMAGE_DIR, 'heic');
  const files = fs.readdirSync(dir).filter((f) => /\.heic$/i.test(f));
  const got = await Promise.all(files.map((f) => decodeHeicNative(fs.readFileSync(path.join(dir, f)), [TARGET], TARGET.maxPixels).catch(() => undefined)));
  const pixels = got.flatMap((g) => (g && !g.overLimit ? [g.pixels[0]!] : []));
  if (got.every((g) => g === undefined)) return t.skip('the native HEIC path is not built');
  await assertSame('HEIC native', pixels);
});
