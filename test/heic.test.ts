import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { decodeHeicWasm, decodeImage } from '../src/decode/decode.js';
import { decodeHeicNative, heicFastPathProblem } from '../src/decode/heic-native.js';
import { closeHeicPool, heicPoolThreads } from '../src/decode/heic.js';
import { IMAGE_DIR, IMAGENET_DIR, imagenetFiles } from './helpers/env.js';
import { declaredAs, gridHeif, rotatedHeif, tiledHeif, withoutSps, withThumbnail } from './helpers/heif.js';
import { describeDecodeError } from '../src/decode/decode-error.js';
import { DecodeError } from '../src/decode/types.js';

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

/** HEIC with a thumbnail of this bounding box (heif-enc -t), as phones store them. */
function heifEncThumb(dir: string, name: string, png: Buffer, box: number): Buffer {
  fs.writeFileSync(path.join(dir, `${name}.png`), png);
  execFileSync('heif-enc', ['-q', '90', '-t', String(box), '-o', path.join(dir, `${name}.heic`), path.join(dir, `${name}.png`)], { stdio: 'ignore' });
  return fs.readFileSync(path.join(dir, `${name}.heic`));
}

/**
 * An ImageNet sample at 512x256 (`wide`), and as HEIC: whole, its left and right halves (a grid's
 * tiles), stored a quarter turn clockwise (irot turns it back anticlockwise for display), and from a
 * 16-bit PNG (heif-enc's default for it: 10 bits).
 */
async function iphoneLike(dir: string, sample: number): Promise<{ wide: Buffer; heic: Record<string, Buffer> }> {
  const wide = await sharp(path.join(IMAGENET_DIR, imagenetFiles()[sample]!)).resize(512, 256, { fit: 'fill' }).png().toBuffer();
  const heic = heifEnc(dir, {
    wide,
    left: await sharp(wide).extract({ left: 0, top: 0, width: 256, height: 256 }).png().toBuffer(),
    right: await sharp(wide).extract({ left: 256, top: 0, width: 256, height: 256 }).png().toBuffer(),
    stored: await sharp(wide).rotate(90).png().toBuffer(),
    deep: await sharp(wide).toColourspace('rgb16').png().toBuffer(),
  });
  return { wide, heic };
}

test('HEIC as iPhones store it: a grid of tiles, an irot-rotated image and a 10-bit one decode whole, upright and in range, natively and as WebAssembly', async () => {
  assert.equal(heicFastPathProblem(), undefined, 'npm ci builds native/heic_decode.c where libheif-dev is installed (.ci/run installs it)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-heic-'));
  const { wide, heic } = await iphoneLike(dir, 5);
  const reference = await decodeImage(await sharp(wide).jpeg({ quality: 95 }).toBuffer(), [target]);
  const paths = { native: (b: Buffer) => decodeImage(b, [target]), webassembly: (b: Buffer) => decodeHeicWasm(b, [target], target.maxPixels) };
  for (const [name, decode] of Object.entries(paths)) {
    const want = await decode(heic.wide!);
    assert.deepEqual([want.width, want.height], [512, 256], name);
    assert.ok(meanAbsDiff(want.pixels[0]!, reference.pixels[0]!) < 4, `${name}: the same picture as the JPEG`);
    const grid = await decode(gridHeif(heic.left!, heic.right!, 256, 256));
    assert.deepEqual([grid.width, grid.height], [512, 256], `${name}: the grid, not one tile`);
    assert.ok(meanAbsDiff(grid.pixels[0]!, want.pixels[0]!) < 2, `${name}: both tiles in place`);
    const rotated = await decode(rotatedHeif(heic.stored!, 1));
    assert.deepEqual([rotated.width, rotated.height], [512, 256], `${name}: upright`);
    assert.ok(meanAbsDiff(rotated.pixels[0]!, want.pixels[0]!) < 2, `${name}: turned the right way`);
    const deep = await decode(heic.deep!);
    assert.ok(meanAbsDiff(deep.pixels[0]!, want.pixels[0]!) < 2, `${name}: 10-bit, scaled to 8`);
    // The real photograph with two images in one file: its primary, 1280x854.
    const example = await decode(fs.readFileSync(path.join(IMAGE_DIR, 'heic', 'libheif-example.heic')));
    assert.deepEqual([example.width, example.height], [1280, 854], name);
  }
  assert.ok(heicPoolThreads() >= 1, 'WebAssembly decodes on a pool thread, off the main thread');
});

test('HEIC thumbnails: used when their short side is at least the crop (224), else the primary image is decoded; the same tags either way', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-heic-thumb-'));
  const photo = await sharp(path.join(IMAGENET_DIR, imagenetFiles()[7]!)).resize(1024, 768, { fit: 'fill' }).png().toBuffer();
  // A 320 box holds a 320x240 thumbnail (short side 240 >= 224): decoded instead of the 1024x768 image.
  const big = heifEncThumb(dir, 'big', photo, 320);
  const viaThumb = await decodeHeicNative(big, [target], target.maxPixels);
  assert.ok(viaThumb && !viaThumb.overLimit);
  assert.equal(viaThumb.fromThumbnail, true);
  assert.deepEqual([viaThumb.pixWidth, viaThumb.pixHeight, viaThumb.width, viaThumb.height], [320, 240, 1024, 768], 'the thumbnail decoded; the image keeps its own size');
  // A 200 box: 200x150, too small for a 224 crop: the primary image.
  const small = heifEncThumb(dir, 'small', photo, 200);
  const viaPrimary = await decodeHeicNative(small, [target], target.maxPixels);
  assert.ok(viaPrimary && !viaPrimary.overLimit);
  assert.equal(viaPrimary.fromThumbnail, false);
  assert.deepEqual([viaPrimary.pixWidth, viaPrimary.pixHeight], [1024, 768]);
  // Through the decode stage: the thumbnail's pixels are close to the full image's.
  const [a, b] = [await decodeImage(big, [target]), await decodeImage(small, [target])];
  assert.deepEqual([a.width, a.height], [1024, 768]);
  assert.ok(meanAbsDiff(a.pixels[0]!, b.pixels[0]!) < 6, `thumbnail vs primary: ${meanAbsDiff(a.pixels[0]!, b.pixels[0]!)}`);
  // Over --max-pixels: refused from the header, with its size, before any pixel is decoded.
  await assert.rejects(decodeImage(big, [{ ...target, maxPixels: 500_000 }]), /image is 1024x768, over the 500000-pixel limit/);
});

test("the native path's two HEVC decoders, FFmpeg's (the default) and libde265, give the same pixels, bit for bit: the 52 HEIC test photos, a grid, an irot, a 10-bit image, a thumbnail", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-hevc-'));
  const { wide, heic: made } = await iphoneLike(dir, 9);
  fs.writeFileSync(path.join(dir, 'grid.heic'), gridHeif(made.left!, made.right!, 256, 256));
  fs.writeFileSync(path.join(dir, 'irot.heic'), rotatedHeif(made.stored!, 1));
  fs.writeFileSync(path.join(dir, 'deep.heic'), made.deep!);
  // 1024x768 in a 320 box: a 320x240 thumbnail, large enough for the model, so it is what is decoded.
  fs.writeFileSync(path.join(dir, 'thumb.heic'), heifEncThumb(dir, 'thumb', await sharp(wide).resize(1024, 768, { fit: 'fill' }).png().toBuffer(), 320));
  const heicDir = path.join(IMAGE_DIR, 'heic');
  const files = [...fs.readdirSync(heicDir).map((f) => path.join(heicDir, f)), ...['grid', 'irot', 'deep', 'thumb'].map((f) => path.join(dir, `${f}.heic`))];
  // The decoder is chosen once per process: each runs in a child, which prints a sha256 per file.
  const script = `
    import { createHash } from 'node:crypto';
    import fs from 'node:fs';
    import { decodeHeicNative, hevcDecoderName } from ${JSON.stringify(new URL('../src/decode/heic-native.js', import.meta.url).href)};
    const out = { decoder: hevcDecoderName(), files: {} };
    for (const f of ${JSON.stringify(files)}) {
      const d = await decodeHeicNative(fs.readFileSync(f), [{ width: 224, height: 224, shortSide: 256, maxPixels: 1e8 }], 1e8);
      out.files[f] = [d.pixWidth, d.pixHeight, d.fromThumbnail, createHash('sha256').update(d.pixels[0]).digest('hex')].join(' ');
    }
    console.log(JSON.stringify(out));`;
  const decodeWith = (decoder: string) => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, IMGTAG_HEVC_DECODER: decoder }, encoding: 'utf8' })) as { decoder: string; files: Record<string, string> };
  const ffmpeg = decodeWith('ffmpeg');
  const libde265 = decodeWith('libde265');
  assert.match(ffmpeg.decoder, /^FFmpeg \(Lavc\d+/, 'npm ci builds the FFmpeg decoder where libavcodec-dev is installed (.ci/run installs it)');
  assert.equal(libde265.decoder, 'libde265');
  assert.equal(Object.keys(ffmpeg.files).length, 56);
  assert.deepEqual(ffmpeg.files, libde265.files);
  assert.match(ffmpeg.files[path.join(dir, 'thumb.heic')]!, /^320 240 true /, 'the thumbnail, decoded by FFmpeg');
  // A file cut short is an error with a one-line reason (an error row), not a crash.
  const cut = fs.readFileSync(files.find((f) => /n\d+_.*\.heic$/.test(f))!).subarray(0, 2000);
  await assert.rejects(decodeImage(cut, [target]), (e: Error) => /^not a readable HEIF file: .*end of file/i.test(e.message) && !e.message.includes('\n'));
});

/** A module script run by node in a child, with this environment; its stdout parsed as JSON. */
function child<T>(script: string, env: NodeJS.ProcessEnv, args: string[] = []): T {
  return JSON.parse(execFileSync(process.execPath, [...args, '--input-type=module', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 24 })) as T;
}
const nativeUrl = new URL('../src/decode/heic-native.js', import.meta.url).href;

test('the same bytes give the same answer wherever they fall: a HEIC without its SPS is an error decoded first on a thread and after other images on it, with either HEVC decoder', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-heic-sps-'));
  const { heic } = await iphoneLike(dir, 3);
  const files = { good: path.join(dir, 'good.heic'), grid: path.join(dir, 'grid.heic'), nosps: path.join(dir, 'nosps.heic') };
  fs.writeFileSync(files.good, heic.wide!);
  fs.writeFileSync(files.grid, gridHeif(heic.left!, heic.right!, 256, 256));
  fs.writeFileSync(files.nosps, withoutSps(heic.wide!));
  // One libuv thread: every decode on the same thread, the SPS-less file first and then after the others.
  const script = `
    import fs from 'node:fs';
    import { decodeHeicNative } from ${JSON.stringify(nativeUrl)};
    const out = [];
    for (const f of ${JSON.stringify([files.nosps, files.good, files.grid, files.nosps, files.good, files.nosps])}) {
      try {
        const d = await decodeHeicNative(fs.readFileSync(f), [{ width: 224, height: 224, shortSide: 256, maxPixels: 1e8 }], 1e8);
        out.push('ok ' + d.pixWidth + 'x' + d.pixHeight);
      } catch (e) { out.push('error ' + e.message); }
    }
    console.log(JSON.stringify(out));`;
  for (const decoder of ['ffmpeg', 'libde265']) {
    const got = child<string[]>(script, { UV_THREADPOOL_SIZE: '1', IMGTAG_HEVC_DECODER: decoder });
    assert.match(got[0]!, /^error HEVC data could not be decoded/, `${decoder}: decoded first`);
    assert.deepEqual([got[3], got[5]], [got[0], got[0]], `${decoder}: the same error after a single image and after a grid`);
    assert.deepEqual([got[1], got[2], got[4]], ['ok 512x256', 'ok 512x256', 'ok 512x256'], decoder);
  }
  // Through the decode stage: an error row's reason, one line.
  await assert.rejects(decodeImage(withoutSps(heic.wide!), [target]), (e: Error) => e instanceof DecodeError && e.kind === 'undecodable' && !e.message.includes('\n'));
});

test('a grid HEIC decoded 1,000 times in one worker with the default (FFmpeg) decoder: RSS stays flat (no decoder context kept per thread or per tile)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-heic-rss-'));
  const { heic } = await iphoneLike(dir, 4);
  // A 2x2 grid of 256x256 tiles, as a phone's 48: each tile a decoder libheif asks for and frees.
  const file = path.join(dir, 'grid.heic');
  fs.writeFileSync(file, tiledHeif([[heic.left!, heic.right!], [heic.right!, heic.left!]], { width: 512, height: 512 }));
  const script = `
    import fs from 'node:fs';
    import { decodeHeicNative, hevcDecoderName } from ${JSON.stringify(nativeUrl)};
    const bytes = fs.readFileSync(${JSON.stringify(file)});
    const targets = [{ width: 224, height: 224, shortSide: 256, maxPixels: 1e8 }];
    const rss = () => { globalThis.gc(); return process.memoryUsage().rss; };
    let warm = 0;
    for (let i = 0; i < 1000; i++) {
      const d = await decodeHeicNative(bytes, targets, 1e8);
      if (d.pixWidth !== 512) throw new Error('decoded ' + d.pixWidth);
      if (i === 99) warm = rss();
    }
    console.log(JSON.stringify({ decoder: hevcDecoderName(), warm, end: rss() }));`;
  const got = child<{ decoder: string; warm: number; end: number }>(script, { UV_THREADPOOL_SIZE: '1' }, ['--expose-gc']);
  assert.match(got.decoder, /^FFmpeg/);
  const mb = (n: number) => (n / 1048576).toFixed(0);
  // A context lost per tile was ~0.3-1.4 MB: 4,000 tiles would add gigabytes. 64 MB is room for the allocator.
  assert.ok(got.end - got.warm < 64 * 1048576, `RSS ${mb(got.warm)} MB after 100 decodes, ${mb(got.end)} MB after 1,000`);
});

test('the pixel limit holds against what would be decoded, before decoding: a grid canvas far larger than its file says, and a coded image larger than its ispe, refused with that size', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-heic-bomb-'));
  const { heic } = await iphoneLike(dir, 6);
  // Two 256x256 tiles on a canvas the grid's data says is 30000x20000; the file declares 512x256.
  const gridBomb = tiledHeif([[heic.left!, heic.right!]], { width: 30000, height: 20000 }, { width: 512, height: 256 });
  assert.ok(gridBomb.length < 200_000);
  await assert.rejects(decodeImage(gridBomb, [target]), (e: Error) => e instanceof DecodeError && e.kind === 'too-many-pixels' && /512x256 but would decode a 30000x20000 grid canvas, over the 100000000-pixel limit/.test(e.message));
  // The WebAssembly fallback checks the same before its libheif sees the file.
  await assert.rejects(decodeHeicWasm(gridBomb, [target], target.maxPixels), (e: Error) => e instanceof DecodeError && /would decode a 30000x20000 grid canvas/.test(e.message));
  // 1200x900 coded, 100x100 declared, under --max-pixels 1000000.
  const photo = heifEnc(dir, { big: await sharp(path.join(IMAGENET_DIR, imagenetFiles()[6]!)).resize(1200, 900, { fit: 'fill' }).png().toBuffer() }).big!;
  const small = declaredAs(photo, 100, 100);
  const limit = { ...target, maxPixels: 1_000_000 };
  const refused = await decodeImage(small, [limit]).then(() => undefined, (e: unknown) => e);
  assert.ok(refused instanceof DecodeError && refused.kind === 'too-many-pixels', String(refused));
  assert.equal(await describeDecodeError(small, refused, 1_000_000), 'too many pixels: 100x100 would decode a 1200x900 HEVC image (the file says 100x100), over the --max-pixels limit of 1000000');
  // Within the limit it decodes, and the row gives the size decoded, not the one declared.
  const ok = await decodeImage(small, [target]);
  assert.deepEqual([ok.width, ok.height], [1200, 900]);
  // A thumbnail is checked as what it decodes too: 320x240 declared (so it is the one chosen), 1200x900 coded.
  const primary = heifEnc(dir, { primary: await sharp(path.join(IMAGENET_DIR, imagenetFiles()[6]!)).resize(1000, 750, { fit: 'fill' }).png().toBuffer() }).primary!;
  const lyingThumb = withThumbnail(primary, photo, { width: 320, height: 240 });
  await assert.rejects(decodeImage(lyingThumb, [limit]), /image is 1000x750 but would decode its thumbnail, a 1200x900 HEVC image \(the file says 320x240\), over the 1000000-pixel limit/);
  const viaThumb = await decodeHeicNative(lyingThumb, [target], target.maxPixels);
  assert.ok(viaThumb && !viaThumb.overLimit && viaThumb.fromThumbnail, 'under the default limit it is decoded from that thumbnail');
  // Tiles past the limit together, each one under it: 64 tiles of 512x256 on a 1000x1000 canvas, at 1000000 pixels.
  const many = tiledHeif(Array.from({ length: 8 }, () => Array<Buffer>(8).fill(heic.wide!)), { width: 1000, height: 1000 });
  await assert.rejects(decodeImage(many, [limit]), /would decode more than 4000000 pixels in all/);
});
