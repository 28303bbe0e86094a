import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuFlags, ONE_CORE, ROOT, seconds } from './bench-env.js';

const CLI = path.join(ROOT, 'dist/cli/imgtag.js');
import { writeBenchmarkSection } from './benchmarks-md.js';
import { PRICES } from '../src/report/prices.js';
import { testData } from './test-data.js';

/**
 * HEIC decode to a 224x224 tensor slot, images/s on one core, beside the same photos as JPEG through
 * the JPEG fast path, in one invocation: native libheif from the file's thumbnail, native from the
 * primary image, and libheif as WebAssembly (the fallback, and what imgtag did before). Sets: the 50
 * ImageNet samples as HEIC with a thumbnail (heif-enc -t 320) and without (../shared/images/heic), the
 * 9 phone-size photos as HEIC with a thumbnail, and a real HEIC photograph. Needs heif-enc
 * (libheif-examples). Usage: node dist/scripts/bench-heic.js [images-dir]
 */
const images = process.argv[2] ?? path.resolve(ROOT, '../shared/images');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-bench-heic-'));
const heicDir = path.join(images, 'heic');
const samples = fs.readdirSync(heicDir).filter((f) => /^n\d+_.*\.heic$/.test(f)).sort();
const sampleJpegs = samples.map((f) => path.join(images, 'imagenet-samples', f.replace(/\.heic$/, '.JPEG')));
const phones = fs.readdirSync(path.join(images, 'large')).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => path.join(images, 'large', f));

/**
 * heif-enc with a thumbnail in a 320 box (none for a photo that small), as phones store photos, at
 * the quality of the test set's HEIC samples (data/test-data.json): files about the JPEG's size.
 * The table gives each set's bytes per image, since HEVC's decode time follows its bitrate.
 */
const QUALITY = String(testData().heic.quality);
function withThumbnail(jpeg: string): string {
  const out = path.join(work, `${path.basename(jpeg).replace(/\.[^.]+$/, '')}.heic`);
  try {
    execFileSync('heif-enc', ['-q', QUALITY, '-t', '320', '-o', out, jpeg], { stdio: 'ignore' });
  } catch {
    execFileSync('heif-enc', ['-q', QUALITY, '-o', out, jpeg], { stdio: 'ignore' });
  }
  return out;
}
const kb = (files: string[]) => (files.reduce((n, f) => n + fs.statSync(f).size, 0) / files.length / 1024).toFixed(0);

/** The phone photos as HEIC, split by whether their thumbnail is large enough for a 224 crop (4:3 is; 16:9 is not). */
const phoneHeics = phones.map((jpeg) => ({ jpeg, heic: withThumbnail(jpeg) }));
const thumbShort = (heic: string) => {
  const m = /thumbnail: (\d+)x(\d+)/.exec(execFileSync('heif-info', [heic], { encoding: 'utf8' }));
  return m ? Math.min(Number(m[1]), Number(m[2])) : 0;
};
const usable = phoneHeics.filter((p) => thumbShort(p.heic) >= 224);
const tooSmall = phoneHeics.filter((p) => thumbShort(p.heic) < 224);

const rate = (files: string[], env: NodeJS.ProcessEnv, repeat: number) =>
  files.length /
  seconds([...ONE_CORE, process.execPath, path.join(ROOT, 'dist/scripts/bench/imgtag-decode.js'), ...files], { ...process.env, UV_THREADPOOL_SIZE: '1', IMGTAG_HEIC_THREADS: '1', BENCH_REPEAT: String(repeat), ...env });

const sets = [
  { name: `${samples.length} ImageNet samples, HEIC with a thumbnail`, heic: sampleJpegs.map(withThumbnail), jpeg: sampleJpegs, repeat: 10, thumbs: true },
  { name: `${samples.length} ImageNet samples, HEIC without one`, heic: samples.map((f) => path.join(heicDir, f)), jpeg: sampleJpegs, repeat: 10, thumbs: false },
  { name: `${usable.length} phone photos (~3000 px, 4:3), HEIC with a 320x240 thumbnail`, heic: usable.map((p) => p.heic), jpeg: usable.map((p) => p.jpeg), repeat: 3, thumbs: true },
  { name: `${tooSmall.length} phone photos (~3000 px, 16:9), their 320x180 thumbnail too small`, heic: tooSmall.map((p) => p.heic), jpeg: tooSmall.map((p) => p.jpeg), repeat: 2, thumbs: false },
  { name: 'a real HEIC photograph (1280x854, its thumbnail too small)', heic: [path.join(heicDir, 'libheif-example.heic')], jpeg: [], repeat: 20, thumbs: false },
];

const rows: string[] = [];
const measured: Record<string, { jpeg?: number; thumbnail?: number; thumbnailDe265?: number; full: number; fullDe265: number; wasm: number }> = {};
const de265 = { IMGTAG_HEVC_DECODER: 'libde265' };
for (const set of sets) {
  const jpeg = set.jpeg.length > 0 ? rate(set.jpeg, {}, set.repeat) : undefined;
  const thumbnail = set.thumbs ? rate(set.heic, { IMGTAG_HEIC: 'thumbnail' }, set.repeat) : undefined;
  const thumbnailDe265 = set.thumbs ? rate(set.heic, { IMGTAG_HEIC: 'thumbnail', ...de265 }, set.repeat) : undefined;
  const full = rate(set.heic, { IMGTAG_HEIC: 'full' }, set.repeat);
  const fullDe265 = rate(set.heic, { IMGTAG_HEIC: 'full', ...de265 }, set.repeat);
  const wasm = rate(set.heic, { IMGTAG_HEIC: 'wasm' }, Math.max(1, Math.round(set.repeat / 4)));
  measured[set.name] = { jpeg, thumbnail, thumbnailDe265, full, fullDe265, wasm };
  const name = `${set.name} (HEIC ${kb(set.heic)} KB${set.jpeg.length ? `, JPEG ${kb(set.jpeg)} KB` : ''} a photo)`;
  const row = (what: string, r: number | undefined) => {
    if (r === undefined) return;
    rows.push(`| ${name} | ${what} | ${r.toFixed(1)} | ${jpeg ? `${(r / jpeg).toFixed(2)}x` : ''} | ${(r / wasm).toFixed(2)}x |`);
  };
  row('the same photos as JPEG: JPEG fast path (baseline)', jpeg);
  row('HEIC native, FFmpeg HEVC decoder, from the thumbnail', thumbnail);
  row('HEIC native, libde265 (libheif\'s own), from the thumbnail', thumbnailDe265);
  row('HEIC native, FFmpeg, the primary image', full);
  row('HEIC native, libde265, the primary image', fullDe265);
  row('HEIC as WebAssembly (libheif-js, the fallback)', wasm);
}

/**
 * End to end on every core: `imgtag run` (MobileNetV2 int8, local files) over the ImageNet samples
 * with thumbnails as HEIC and as JPEG, each photo under 40 keys (steady state, ~2,000 images).
 */
const endToEnd: string[] = [];
{
  const heics = sets[0]!.heic;
  const keyList = (name: string, files: string[]) => {
    const dir = path.join(work, `e2e-${name}`);
    fs.mkdirSync(dir);
    const keys = Array.from({ length: 40 }, (_, r) => files.map((f) => {
      const key = path.join(dir, `${r}-${path.basename(f)}`);
      fs.symlinkSync(f, key);
      return key;
    })).flat();
    fs.writeFileSync(`${dir}.txt`, keys.join('\n'));
    return `${dir}.txt`;
  };
  const runRate = (list: string, env: NodeJS.ProcessEnv) => {
    const run = path.join(work, `run-${Date.now()}`);
    execFileSync(process.execPath, [CLI, 'plan', '--manifest', list, '--run', run, '--shard-size', '250'], { stdio: 'ignore' });
    const out = execFileSync(process.execPath, [CLI, 'run', '--run', run, '--progress', 'none', '--no-compact'], { encoding: 'utf8', env: { ...process.env, ...env } });
    return Number(/images\/s over wall time\s+([\d.]+)/.exec(out)![1]);
  };
  const jpegList = keyList('jpeg', sets[0]!.jpeg.filter((_, i) => fs.existsSync(heics[i]!)));
  const heicList = keyList('heic', heics);
  const jpegRate = runRate(jpegList, {});
  for (const [what, env] of [
    ['the same photos as JPEG (baseline)', undefined],
    ['HEIC, FFmpeg, from the thumbnail', { IMGTAG_HEVC_DECODER: 'ffmpeg' }],
    ['HEIC, libde265, from the thumbnail', { IMGTAG_HEVC_DECODER: 'libde265' }],
    ['HEIC as WebAssembly', { IMGTAG_HEIC: 'wasm' }],
  ] as const) {
    const r = env ? runRate(heicList, env) : jpegRate;
    endToEnd.push(`| ${what} | ${r.toFixed(1)} | ${(r / jpegRate).toFixed(2)}x |`);
  }
}
fs.rmSync(work, { recursive: true, force: true });

// 300 M images, a third of them phone HEIC photos (4:3, as phones shoot by default): core-hours at each path's rate.
const phone = measured[sets[2]!.name]!;
const c7i = PRICES.instances['c7i.xlarge']!;
const vcpuHour = c7i.usdPerHour / c7i.vcpus;
const hours = (r: number) => 100e6 / r / 3600;
const projection = [
  ['WebAssembly', phone.wasm],
  ['native with libde265, the primary image', phone.fullDe265],
  ['native with FFmpeg, the primary image', phone.full],
  ['native with libde265, from the thumbnail', phone.thumbnailDe265!],
  ['native with FFmpeg, from the thumbnail', phone.thumbnail!],
  ['the same photos as JPEG (fast path)', phone.jpeg!],
].map(([what, r]) => `${what}: ${Math.round(hours(r as number)).toLocaleString('en')} core-hours, $${Math.round(hours(r as number) * vcpuHour).toLocaleString('en')}`);

const table = [
  `One core (\`taskset -c 0\`, one libuv thread, sharp.concurrency(1)), ${os.cpus()[0]?.model ?? 'cpu'}, CPU flags: ${cpuFlags()}. Decode, resize and crop to the model's 224x224 slot (short side 256); HEIC thumbnails are used when their short side is at least the crop (224). Steady state: each set decoded several times after a warm-up.`,
  '',
  '| photos | decoder | images/s | vs JPEG fast path | vs WebAssembly |',
  '| --- | --- | --- | --- | --- |',
  ...rows,
  '',
  `\`imgtag run\` end to end on all ${os.availableParallelism()} cores (MobileNetV2 int8, local files), the ${sets[0]!.heic.length} ImageNet samples with thumbnails, each under 40 keys:`,
  '',
  '| photos | images/s | vs JPEG |',
  '| --- | --- | --- |',
  ...endToEnd,
  '',
  `300 M images, a third of them phone photos as HEIC, decoded at the phone-photo rates above on c7i.xlarge vCPUs ($${vcpuHour.toFixed(4)} per vCPU-hour on demand): ${projection.join('; ')}.`,
  '',
  'Reproduce: `apt-get install libheif-examples && npm run build && node dist/scripts/bench-heic.js`.',
].join('\n');
console.log(table);
writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'HEIC decode: native, from the thumbnail, and as WebAssembly, one core', table);
