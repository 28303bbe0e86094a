import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import fs from 'node:fs';
import path from 'node:path';
import { decodeImage, decodeWithSharp } from '../src/decode/decode.js';
import { type DecodeTarget } from '../src/decode/types.js';
import { IMAGENET_DIR, imagenetFiles } from './helpers/env.js';
import { syntheticImage } from '../src/demo/synthetic.js';
import { decompressionBomb } from '../scripts/fixtures.js';

const target: DecodeTarget = { width: 224, height: 224, shortSide: 256, maxPixels: 100_000_000 };

function meanAbsDiff(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

test('EXIF orientations 3, 6 and 8 are decoded upright', async () => {
  const upright = await syntheticImage(11, 400, 260, 'png');
  const want = (await decodeImage(upright, [target])).pixels[0]!;
  // Stored pixels turned the other way, with the EXIF tag that turns them back for display.
  for (const [orientation, storedAngle] of [[3, 180], [6, 270], [8, 90]] as const) {
    const stored = await sharp(upright).rotate(storedAngle).withMetadata({ orientation }).jpeg({ quality: 95 }).toBuffer();
    const got = await decodeImage(stored, [target]);
    assert.deepEqual([got.width, got.height], [400, 260], `orientation ${orientation}`);
    assert.ok(meanAbsDiff(got.pixels[0]!, want) < 6, `orientation ${orientation}: pixels are not upright`);
    const unrotated = (await decodeImage(await sharp(upright).rotate(storedAngle).jpeg({ quality: 95 }).toBuffer(), [target])).pixels[0]!;
    assert.ok(meanAbsDiff(unrotated, want) > 20, 'the test images must differ when not rotated');
  }
});

test('short side to 256, then a centre 224 crop', async () => {
  // Left half black, right half white, 512x256: the crop keeps the middle 224 of 512 -> 50/50.
  const img = await sharp({ create: { width: 512, height: 256, channels: 3, background: '#000' } })
    .composite([{ input: { create: { width: 256, height: 256, channels: 3, background: '#fff' } }, left: 256, top: 0 }])
    .png()
    .toBuffer();
  const [pixels] = (await decodeImage(img, [target])).pixels as [Buffer];
  const at = (x: number, y: number) => pixels[(y * 224 + x) * 3]!;
  assert.ok(at(10, 100) < 10 && at(213, 100) > 245);
  assert.ok(at(100, 100) < 30 && at(123, 100) > 225);
});

test('a decompression bomb is refused from its header, before any decoding', async () => {
  const bomb = await decompressionBomb(30000, 30000);
  assert.ok(bomb.length < 200_000);
  await assert.rejects(decodeImage(bomb, [target]), /pixel limit/);
  await assert.rejects(decodeImage(await syntheticImage(1, 400, 300, 'png'), [{ ...target, maxPixels: 100_000 }]), /pixel limit/);
});

test('the JPEG fast path (libjpeg-turbo) is built, and matches the sharp path within 2 levels: photos, greyscale, CMYK, progressive, all 8 EXIF orientations, two targets at once', async () => {
  const { jpegFastPathProblem, decodeJpegFast } = await import('../src/decode/jpeg-fast.js');
  assert.equal(jpegFastPathProblem(), undefined, 'npm ci builds native/ where libturbojpeg0-dev is installed (.ci/run installs it)');
  const photo = fs.readFileSync(path.join(IMAGENET_DIR, imagenetFiles()[7]!));
  const base = sharp(photo).resize(500, 330, { fit: 'fill' });
  const cases: [string, Buffer][] = [
    ...imagenetFiles().slice(0, 12).map((f) => [f, fs.readFileSync(path.join(IMAGENET_DIR, f))] as [string, Buffer]),
    ['greyscale', await base.clone().greyscale().jpeg().toBuffer()],
    ['CMYK', await base.clone().toColourspace('cmyk').jpeg().toBuffer()],
    ['progressive', await base.clone().jpeg({ progressive: true }).toBuffer()],
    ['4:4:4', await base.clone().jpeg({ chromaSubsampling: '4:4:4' }).toBuffer()],
    ...(await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(async (o) => [`EXIF ${o}`, await base.clone().jpeg().withMetadata({ orientation: o }).toBuffer()] as [string, Buffer]))),
  ];
  const two: DecodeTarget[] = [target, { width: 227, height: 227, shortSide: 227, maxPixels: 100_000_000 }];
  for (const [name, bytes] of cases) {
    const fast = await decodeJpegFast(bytes, two);
    // Each target against sharp's single-target path (its two-target path resamples twice).
    const slow = { ...(await decodeWithSharp(bytes, [two[0]!])), pixels: [(await decodeWithSharp(bytes, [two[0]!])).pixels[0]!, (await decodeWithSharp(bytes, [two[1]!])).pixels[0]!] };
    if (name === 'CMYK') {
      assert.equal(fast, undefined, 'CMYK goes to sharp');
      continue;
    }
    assert.ok(fast, `${name}: taken by the fast path`);
    assert.deepEqual([fast.width, fast.height], [slow.width, slow.height], `${name}: upright size`);
    for (const t of [0, 1]) {
      assert.equal(fast.pixels[t]!.length, two[t]!.width * two[t]!.height * 3);
      const d = meanAbsDiff(fast.pixels[t]!, slow.pixels[t]!);
      assert.ok(d < 2, `${name}, target ${t}: ${d.toFixed(2)} levels from the sharp path`);
    }
  }
  // A truncated JPEG is declined (a libjpeg warning), so it stays an error, as sharp says it.
  const truncated = fs.readFileSync(path.join(IMAGENET_DIR, imagenetFiles()[3]!)).subarray(0, 4000);
  assert.equal(await decodeJpegFast(truncated, [target]), undefined);
  await assert.rejects(decodeImage(truncated, [target]));
  // Over the pixel limit: declined, and refused by the sharp path with its message.
  assert.equal(await decodeJpegFast(photo, [{ ...target, maxPixels: 1000 }]), undefined);
  await assert.rejects(decodeImage(photo, [{ ...target, maxPixels: 1000 }]), /pixel limit/);
});

test('a decode error says what is wrong even when the decoder says nothing useful ("Unknown error"), and never repeats itself', async () => {
  const { describeDecodeError, decoderWords } = await import('../src/decode/decode-error.js');
  const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#345' } }).png().toBuffer();
  const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#345' } }).jpeg().toBuffer();
  // libvips's text varies, and can be empty, when decodes run on several threads: the end marker tells.
  assert.equal(await describeDecodeError(png.subarray(0, png.length >> 1), new Error('Unknown error'), 1e8), 'truncated PNG: the file ends before the image does');
  assert.equal(await describeDecodeError(jpeg.subarray(0, jpeg.length >> 1), new Error(''), 1e8), 'truncated JPEG: the file ends before the image does');
  assert.equal(decoderWords(new Error('x.jpg: bad seek to 718130\nx.jpg: bad seek to 718130\nheif: Unknown error\nheif: plugin missing (11.6003)')), 'x.jpg: bad seek to 718130; heif: plugin missing (11.6003)');
});
