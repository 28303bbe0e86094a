import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import sharp from 'sharp';
import { loadAddon } from '../src/native/load.js';
import { IMAGE_DIR, IMAGENET_DIR, LARGE_DIR, ROOT, imagenetFiles } from './helpers/env.js';

/** A JPEG with an APP1 Exif segment in front saying EXIF orientation `o` (the fast path reads the first one). */
function withOrientation(jpeg: Buffer, o: number): Buffer {
  // Little-endian TIFF header, IFD0 at 8 with one entry: Orientation (0x0112), SHORT, count 1, value o.
  const tiff = Buffer.alloc(26);
  tiff.write('II', 0, 'latin1');
  tiff.writeUInt16LE(42, 2);
  tiff.writeUInt32LE(8, 4);
  tiff.writeUInt16LE(1, 8);
  tiff.writeUInt16LE(0x0112, 10);
  tiff.writeUInt16LE(3, 12);
  tiff.writeUInt32LE(1, 14);
  tiff.writeUInt16LE(o, 18);
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const header = Buffer.from([0xff, 0xe1, 0, 0]);
  header.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), header, body, jpeg.subarray(2)]);
}

/**
 * Six targets in two sets, as [width, height, shortSide]: the built-in models' 224/256, Inception's 299/342 and
 * a non-square crop (odd widths, and tails that are not whole vectors); tiny ones that make the
 * resize shrink many times over (long kernels; HEIC's box shrink by large factors) and one too
 * narrow for a vector.
 */
const TARGETS = {
  models: [[224, 224, 256], [299, 299, 342], [225, 161, 171]],
  tiny: [[24, 24, 24], [17, 40, 31], [5, 3, 4]],
} as const;

interface Case {
  file: string;
  kind: 'jpeg' | 'heic';
  targets: keyof typeof TARGETS;
}

/**
 * Decodes every case through the native fast path in a child whose IMGTAG_SIMD is `level` (read once
 * per process): the level it used, and per case its upright size and a sha256 per target's pixels.
 */
async function digests(cases: Case[], level: string): Promise<{ level: string; digests: string[] }> {
  const src = (f: string) => JSON.stringify(new URL(`../src/${f}`, import.meta.url).href);
  const script = `
    import { createHash } from 'node:crypto';
    import fs from 'node:fs';
    import { decodeJpegFast } from ${src('decode/jpeg-fast.js')};
    import { decodeHeicNative } from ${src('decode/heic-native.js')};
    import { closeHeicPool } from ${src('decode/heic.js')};
    import { loadAddon } from ${src('native/load.js')};
    const targets = Object.fromEntries(Object.entries(${JSON.stringify(TARGETS)}).map(([k, list]) => [k, list.map(([width, height, shortSide]) => ({ width, height, shortSide, maxPixels: 1e8 }))]));
    const digests = [];
    for (const c of ${JSON.stringify(cases)}) {
      const bytes = fs.readFileSync(c.file);
      const d = c.kind === 'jpeg' ? await decodeJpegFast(bytes, targets[c.targets]) : await decodeHeicNative(bytes, targets[c.targets], 1e8, false);
      digests.push(d?.pixels ? [d.width, d.height, ...d.pixels.map((p) => createHash('sha256').update(p).digest('hex').slice(0, 16))].join(' ') : 'declined');
    }
    await closeHeicPool();
    console.log(JSON.stringify({ level: loadAddon('imgtag_jpeg').addon.simdLevel(), digests }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, IMGTAG_SIMD: level }, maxBuffer: 1 << 26 });
  return JSON.parse(stdout) as { level: string; digests: string[] };
}

const jpeg = loadAddon<{ simdLevel(): string }>('imgtag_jpeg', undefined, "install Debian's libturbojpeg0-dev and a C compiler, then npm rebuild");
const heic = loadAddon('imgtag_heic', undefined, "install Debian's libheif-dev");

test('resize and crop: every SIMD level this CPU has gives the scalar bytes, for 500 ImageNet JPEGs, phone photos, all 8 EXIF orientations, enlarged and panorama JPEGs and HEIC (box shrink), at six crop sizes', async (t) => {
  if (!jpeg.addon) return void t.skip(`the native JPEG path: ${jpeg.problem}`);
  // The levels to compare: whatever each name gives here (one this CPU lacks falls back to the best it has).
  const addonFile = path.join(ROOT, 'build/Release/imgtag_jpeg.node');
  const levelFor = (want: string) => execFileSync(process.execPath, ['-e', 'process.stdout.write(require(process.argv[1]).simdLevel())', addonFile], { env: { ...process.env, IMGTAG_SIMD: want }, encoding: 'utf8' });
  assert.equal(levelFor('scalar'), 'scalar');
  const levels = [...new Set(['avx2', 'avx512', 'neon'].map(levelFor))].filter((l) => l !== 'scalar');
  if (levels.length === 0) return void t.skip('this CPU has no SIMD level for the resize: only scalar');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-resize-simd-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, bytes: Buffer) => {
    fs.writeFileSync(path.join(dir, name), bytes);
    return path.join(dir, name);
  };
  const samples = imagenetFiles().map((f) => path.join(IMAGENET_DIR, f));
  const photos = fs.readdirSync(LARGE_DIR).filter((f) => /\.jpe?g$/i.test(f)).map((f) => path.join(LARGE_DIR, f));
  assert.ok(samples.length >= 500 && photos.length > 0);
  const photo = fs.readFileSync(photos[0]!);
  const oriented = [samples[3]!, photos[0]!].flatMap((f, i) => [1, 2, 3, 4, 5, 6, 7, 8].map((o) => write(`exif-${i}-${o}.jpg`, withOrientation(fs.readFileSync(f), o))));
  const made = [
    // Smaller than the crops: the resize enlarges. A panorama: one short side, a long window.
    write('small.jpg', await sharp(photo).resize(120, 90, { fit: 'fill' }).jpeg().toBuffer()),
    write('odd.jpg', await sharp(photo).resize(37, 251, { fit: 'fill' }).jpeg().toBuffer()),
    write('panorama.jpg', await sharp(photo).resize(1501, 263, { fit: 'fill' }).jpeg().toBuffer()),
  ];
  const heicDir = path.join(IMAGE_DIR, 'heic');
  const heics = heic.addon ? fs.readdirSync(heicDir).filter((f) => f.endsWith('.heic')).map((f) => path.join(heicDir, f)) : [];
  if (!heic.addon) t.diagnostic(`HEIC left out: the native HEIC path: ${heic.problem}`);
  const cases: Case[] = [
    ...[...samples, ...photos, ...oriented, ...made].map((file) => ({ file, kind: 'jpeg' as const, targets: 'models' as const })),
    ...[...samples.slice(0, 40), ...photos].map((file) => ({ file, kind: 'jpeg' as const, targets: 'tiny' as const })),
    ...heics.flatMap((file) => (['models', 'tiny'] as const).map((targets) => ({ file, kind: 'heic' as const, targets }))),
  ];

  const [scalar, ...simd] = await Promise.all(['scalar', ...levels].map((l) => digests(cases, l)));
  assert.equal(scalar!.level, 'scalar');
  assert.ok(scalar!.digests.filter((d) => d === 'declined').length <= 2, 'the fast path takes the test images');
  // The orientations are read: 6 is stored a quarter turn round, so its upright size is the other way.
  const size = (file: string) => scalar!.digests[cases.findIndex((c) => c.file === file)]!.split(' ').slice(0, 2).join('x');
  assert.equal(size(oriented[5]!), size(oriented[0]!).split('x').reverse().join('x'));
  for (const run of simd) {
    const differ = cases.map((c, i) => (run.digests[i] === scalar!.digests[i] ? '' : `${path.basename(c.file)} (${c.targets})`)).filter(Boolean);
    assert.deepEqual(differ, [], `${run.level}: ${differ.length} of ${cases.length} images differ from scalar`);
  }
  t.diagnostic(`${cases.length} images, each level against scalar: ${simd.map((r) => r.level).join(', ')}`);
});
