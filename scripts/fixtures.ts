import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, createDeflate } from 'node:zlib';
import sharp from 'sharp';
import { rng, syntheticImage } from '../src/demo/synthetic.js';

/** An image the decoder must tag (`ok`) or turn into an error row (`fails`), and why it is here. */
export interface Fixture {
  name: string;
  bytes: Buffer;
  /** For a broken file: how its error row's message must begin (what is wrong, in plain words). */
  problem?: RegExp;
  expect: 'ok' | 'decode-error';
  /** Upright size the result row must report, where it matters. */
  size?: [number, number];
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A real, valid 1-bit PNG of width x height zeros: ~100 KB on disk, billions of bytes once decoded. */
export async function decompressionBomb(width: number, height: number): Promise<Buffer> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([1, 0, 0, 0, 0], 8); // bit depth 1, greyscale, deflate, no filter, no interlace
  const deflate = createDeflate({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (d: Buffer) => out.push(d));
  const row = Buffer.alloc(1 + Math.ceil(width / 8));
  for (let y = 0; y < height; y++) if (!deflate.write(row)) await new Promise((r) => deflate.once('drain', r));
  await new Promise((r) => deflate.end(r));
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', Buffer.concat(out)), pngChunk('IEND', Buffer.alloc(0))]);
}

const randomBytes = (n: number, seed: number) => {
  const r = rng(seed);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
};

/** Odd but valid images and broken files, generated (never committed). */
export async function fixtures(): Promise<Fixture[]> {
  const jpeg = await syntheticImage(7, 320, 200, 'jpeg');
  const rgb = sharp(await syntheticImage(8, 300, 180, 'png'));
  const frames = [await rgb.clone().png().toBuffer(), await sharp(await syntheticImage(9, 300, 180, 'png')).png().toBuffer()];
  const rotated = (orientation: number) => sharp(jpeg).withMetadata({ orientation }).jpeg().toBuffer();
  const png = await rgb.clone().png().toBuffer();
  // A real HEVC-coded HEIC (libheif's sample, beside the photos), cut in half.
  const heic = fs.readFileSync(path.join(process.env.IMGTAG_IMAGE_DIR ?? path.resolve(fileURLToPath(new URL('../../', import.meta.url)), '../shared/images'), 'heic', 'libheif-rainbow-451x461.heic'));
  return [
    { name: 'plain.jpg', bytes: jpeg, expect: 'ok', size: [320, 200] },
    { name: 'exif-rotated-3.jpg', bytes: await rotated(3), expect: 'ok', size: [320, 200] },
    { name: 'exif-rotated-6.jpg', bytes: await rotated(6), expect: 'ok', size: [200, 320] },
    { name: 'exif-rotated-8.jpg', bytes: await rotated(8), expect: 'ok', size: [200, 320] },
    { name: 'progressive.jpg', bytes: await sharp(jpeg).jpeg({ progressive: true }).toBuffer(), expect: 'ok', size: [320, 200] },
    { name: 'animated.gif', bytes: await sharp(frames, { join: { animated: true } }).gif().toBuffer(), expect: 'ok', size: [300, 180] },
    { name: 'multi-page.tiff', bytes: await sharp(frames, { join: { animated: true } }).tiff().toBuffer(), expect: 'ok', size: [300, 180] },
    { name: 'image.avif', bytes: await rgb.clone().avif().toBuffer(), expect: 'ok', size: [300, 180] },
    { name: 'wide-10000x10.png', bytes: await sharp({ create: { width: 10000, height: 10, channels: 3, background: '#336699' } }).png().toBuffer(), expect: 'ok', size: [10000, 10] },
    { name: 'grey.jpg', bytes: await rgb.clone().greyscale().jpeg().toBuffer(), expect: 'ok' },
    { name: 'cmyk.jpg', bytes: await rgb.clone().toColourspace('cmyk').jpeg().toBuffer(), expect: 'ok' },
    { name: 'alpha.png', bytes: await rgb.clone().ensureAlpha(0.5).png().toBuffer(), expect: 'ok' },
    { name: 'sixteen-bit.png', bytes: await rgb.clone().toColourspace('rgb16').png().toBuffer(), expect: 'ok' },
    { name: 'palette.png', bytes: await rgb.clone().png({ palette: true, colours: 16 }).toBuffer(), expect: 'ok' },
    { name: 'image.webp', bytes: await rgb.clone().webp().toBuffer(), expect: 'ok' },
    { name: 'tiny-1x1.png', bytes: await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } }).png().toBuffer(), expect: 'ok' },
    { name: 'truncated.jpg', bytes: jpeg.subarray(0, Math.floor(jpeg.length / 2)), expect: 'decode-error', problem: /^truncated JPEG: / },
    { name: 'not-an-image.png', bytes: Buffer.from('<html><body>503 Service Unavailable</body></html>'), expect: 'decode-error', problem: /^not an image: it looks like HTML/ },
    { name: 'html-error-page.jpg', bytes: Buffer.from('<!DOCTYPE html><html><head><title>404</title></head></html>'), expect: 'decode-error', problem: /^not an image: it looks like HTML/ },
    { name: 'random-bytes.jpg', bytes: randomBytes(4096, 3), expect: 'decode-error', problem: /^not an image: no known image format/ },
    { name: 'empty.jpg', bytes: Buffer.alloc(0), expect: 'decode-error', problem: /^empty file/ },
    { name: 'svg-named.jpg', bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><image href="file:///etc/passwd"/></svg>'), expect: 'decode-error', problem: /^SVG is not decoded/ },
    { name: 'bomb-30000x30000.png', bytes: await decompressionBomb(30000, 30000), expect: 'decode-error', problem: /^too many pixels: 30000x30000 is over the --max-pixels limit/ },
    { name: 'truncated.png', bytes: png.subarray(0, Math.floor(png.length / 2)), expect: 'decode-error', problem: /^truncated PNG: / },
    { name: 'corrupt-header.jpg', bytes: Buffer.concat([jpeg.subarray(0, 4), randomBytes(2000, 4)]), expect: 'decode-error', problem: /^damaged JPEG: / },
    { name: 'pdf-named.jpg', bytes: Buffer.from('%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n'), expect: 'decode-error', problem: /^not an image: it looks like PDF/ },
    { name: 'truncated.heic', bytes: heic.subarray(0, Math.floor(heic.length / 2)), expect: 'decode-error', problem: /^truncated HEIC\/HEIF: / },
  ];
}

/** `node dist/scripts/fixtures.js <dir>` writes the fixtures to a folder, to try them by hand. */
if (process.argv[1] && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  const dir = process.argv[2] ?? 'fixtures';
  fs.mkdirSync(dir, { recursive: true });
  for (const f of await fixtures()) fs.writeFileSync(path.join(dir, f.name), f.bytes);
  console.log(`wrote fixtures to ${dir}`);
}
