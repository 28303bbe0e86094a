import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { syntheticImage } from '../src/demo/synthetic.js';

/** An image the decoder must tag (`ok`) or turn into an error row (`fails`), and why it is here. */
export interface Fixture {
  name: string;
  bytes: Buffer;
  expect: 'ok' | 'decode-error';
  /** Upright size the result row must report, where it matters. */
  size?: [number, number];
}

/** Odd but valid images and broken files, generated (never committed). */
export async function fixtures(): Promise<Fixture[]> {
  const jpeg = await syntheticImage(7, 320, 200, 'jpeg');
  const rgb = sharp(await syntheticImage(8, 300, 180, 'png'));
  return [
    { name: 'plain.jpg', bytes: jpeg, expect: 'ok', size: [320, 200] },
    { name: 'exif-rotated-6.jpg', bytes: await sharp(jpeg).withMetadata({ orientation: 6 }).jpeg().toBuffer(), expect: 'ok', size: [200, 320] },
    { name: 'grey.jpg', bytes: await rgb.clone().greyscale().jpeg().toBuffer(), expect: 'ok' },
    { name: 'cmyk.jpg', bytes: await rgb.clone().toColourspace('cmyk').jpeg().toBuffer(), expect: 'ok' },
    { name: 'alpha.png', bytes: await rgb.clone().ensureAlpha(0.5).png().toBuffer(), expect: 'ok' },
    { name: 'sixteen-bit.png', bytes: await rgb.clone().toColourspace('rgb16').png().toBuffer(), expect: 'ok' },
    { name: 'palette.png', bytes: await rgb.clone().png({ palette: true, colours: 16 }).toBuffer(), expect: 'ok' },
    { name: 'image.webp', bytes: await rgb.clone().webp().toBuffer(), expect: 'ok' },
    { name: 'tiny-1x1.png', bytes: await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } }).png().toBuffer(), expect: 'ok' },
    { name: 'truncated.jpg', bytes: jpeg.subarray(0, Math.floor(jpeg.length / 2)), expect: 'decode-error' },
    { name: 'not-an-image.png', bytes: Buffer.from('<html><body>503 Service Unavailable</body></html>'), expect: 'decode-error' },
    { name: 'empty.jpg', bytes: Buffer.alloc(0), expect: 'decode-error' },
  ];
}

/** `node dist/scripts/fixtures.js <dir>` writes the fixtures to a folder, to try them by hand. */
if (process.argv[1] && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  const dir = process.argv[2] ?? 'fixtures';
  fs.mkdirSync(dir, { recursive: true });
  for (const f of await fixtures()) fs.writeFileSync(path.join(dir, f.name), f.bytes);
  console.log(`wrote fixtures to ${dir}`);
}
