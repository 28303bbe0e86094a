import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../src/decode/decode.js';
import { closeHeicPool, heicPoolThreads } from '../src/decode/heic.js';
import { IMAGE_DIR, IMAGENET_DIR, imagenetFiles } from './helpers/env.js';
import { gridHeif, rotatedHeif } from './helpers/heif.js';

const target = { width: 224, height: 224, shortSide: 256, maxPixels: 100_000_000 };
after(closeHeicPool);

function meanAbsDiff(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

/** HEIC files from PNGs by Debian's heif-enc (libheif-examples; .ci/run installs it). */
function heifEnc(dir: string, pngs: Record<string, Buffer>): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [name, png] of Object.entries(pngs)) {
    fs.writeFileSync(path.join(dir, `${name}.png`), png);
    execFileSync('heif-enc', ['-q', '90', '-o', path.join(dir, `${name}.heic`), path.join(dir, `${name}.png`)], { stdio: 'ignore' });
    out[name] = fs.readFileSync(path.join(dir, `${name}.heic`));
  }
  return out;
}

test('HEIC as iPhones store it: a grid of tiles, an irot-rotated image and a 10-bit one decode whole, upright and in range, off the main thread', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-heic-'));
  const wide = await sharp(path.join(IMAGENET_DIR, imagenetFiles()[5]!)).resize(512, 256, { fit: 'fill' }).png().toBuffer();
  const heic = heifEnc(dir, {
    wide,
    left: await sharp(wide).extract({ left: 0, top: 0, width: 256, height: 256 }).png().toBuffer(),
    right: await sharp(wide).extract({ left: 256, top: 0, width: 256, height: 256 }).png().toBuffer(),
    // Stored a quarter turn clockwise; irot turns it back anticlockwise for display.
    stored: await sharp(wide).rotate(90).png().toBuffer(),
    // A 16-bit PNG becomes a 10-bit HEIC (heif-enc's default bit depth for it).
    deep: await sharp(wide).toColourspace('rgb16').png().toBuffer(),
  });
  const want = await decodeImage(heic.wide!, [target]);
  assert.deepEqual([want.width, want.height], [512, 256]);
  assert.ok(heicPoolThreads() >= 1, 'decoded on a pool thread');
  const grid = await decodeImage(gridHeif(heic.left!, heic.right!, 256, 256), [target]);
  assert.deepEqual([grid.width, grid.height], [512, 256], 'the grid, not one tile');
  assert.ok(meanAbsDiff(grid.pixels[0]!, want.pixels[0]!) < 2, 'both tiles in place');
  const rotated = await decodeImage(rotatedHeif(heic.stored!, 1), [target]);
  assert.deepEqual([rotated.width, rotated.height], [512, 256], 'upright');
  assert.ok(meanAbsDiff(rotated.pixels[0]!, want.pixels[0]!) < 2, 'turned the right way');
  const deep = await decodeImage(heic.deep!, [target]);
  assert.ok(meanAbsDiff(deep.pixels[0]!, want.pixels[0]!) < 2, '10-bit, scaled to 8');
  // The real photograph with two images in one file: its primary, 1280x854.
  const example = await decodeImage(fs.readFileSync(path.join(IMAGE_DIR, 'heic', 'libheif-example.heic')), [target]);
  assert.deepEqual([example.width, example.height], [1280, 854]);
});
