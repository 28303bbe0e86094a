import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { decodeImage, type DecodeTarget } from '../src/decode/decode.js';
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
