import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { cpuFlags, ONE_CORE, ROOT, seconds } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';

/**
 * Decode + preprocess to a 224x224 tensor, images/s on one core, for every decoder on the same
 * files in one invocation: libjpeg-turbo's djpeg with DCT scaling (the limit), Pillow full decode
 * and with draft() (the pandas_udf baseline), and imgtag's decode stage.
 * Needs Debian's libjpeg-turbo-progs, python3-pil and python3-numpy. Usage:
 *   node dist/scripts/bench-decode.js [images-dir]
 */
const images = process.argv[2] ?? path.resolve(ROOT, '../shared/images');
const sets = [
  { name: 'ImageNet-size JPEGs', files: list(path.join(images, 'imagenet-samples')).slice(0, 200) },
  { name: '3000 px phone photos', files: list(path.join(images, 'large')) },
];
/** The 50 photos that heic/ holds as HEIC, and the same photos as JPEG: HEIC decode beside JPEG. */
const heics = fs.readdirSync(path.join(images, 'heic')).filter((f) => /^n\d+_.*\.heic$/.test(f)).sort();
const heicPairs = { heic: heics.map((f) => path.join(images, 'heic', f)), jpeg: heics.map((f) => path.join(images, 'imagenet-samples', f.replace(/\.heic$/, '.JPEG'))) };
/** Debian's python3, which has python3-pil (a pyenv python on PATH may not). */
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';

function list(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => path.join(dir, f));
}

/** djpeg per file at the smallest DCT scale whose short side is at least 224, minus the same loop on an 8x8 image. */
async function djpeg(files: string[]): Promise<number> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-bench-'));
  const tiny = path.join(work, 'tiny.jpg');
  await sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } }).jpeg().toFile(tiny);
  const lines: string[] = [];
  for (const f of files) {
    const { width = 224, height = 224 } = await sharp(f).metadata();
    const m = [1, 2, 3, 4, 5, 6, 7, 8].find((k) => (Math.min(width, height) * k) / 8 >= 224) ?? 8;
    lines.push(`${m}/8\t${f}`);
  }
  fs.writeFileSync(path.join(work, 'list'), lines.join('\n') + '\n');
  const loop = (file: string) =>
    `s=$(date +%s.%N); while IFS=$'\\t' read -r scale f; do djpeg -scale "$scale" ${file} > /dev/null; done < ${path.join(work, 'list')}; e=$(date +%s.%N); echo "$e - $s" | bc -l`;
  const full = seconds([...ONE_CORE, 'bash', '-c', loop('"$f"')]);
  const empty = seconds([...ONE_CORE, 'bash', '-c', loop(tiny)]);
  return full - empty;
}

const rows: string[] = [];
for (const set of sets) {
  const n = set.files.length;
  const rate = (s: number) => n / s;
  const pillowFull = rate(seconds([...ONE_CORE, PYTHON, path.join(ROOT, 'scripts/bench/pillow_decode.py'), 'full', ...set.files]));
  const pillowDraft = rate(seconds([...ONE_CORE, PYTHON, path.join(ROOT, 'scripts/bench/pillow_decode.py'), 'draft', ...set.files]));
  const limit = rate(await djpeg(set.files));
  const stage = (env: NodeJS.ProcessEnv) => rate(seconds([...ONE_CORE, process.execPath, path.join(ROOT, 'dist/scripts/bench/imgtag-decode.js'), ...set.files], { ...process.env, UV_THREADPOOL_SIZE: '1', ...env }));
  const fast = stage({});
  const viaSharp = stage({ IMGTAG_JPEG: 'sharp' });
  for (const [name, r] of [
    ['djpeg, DCT-scaled to >= 224 (the limit)', limit],
    ['Pillow full decode + resize + float (pandas_udf)', pillowFull],
    ['Pillow with draft()', pillowDraft],
    ['imgtag decode stage: JPEG fast path (libjpeg-turbo addon)', fast],
    ['imgtag decode stage: sharp (the fallback)', viaSharp],
  ] as const) {
    rows.push(`| ${set.name} (${n}) | ${name} | ${r.toFixed(0)} | ${(r / pillowFull).toFixed(2)}x | ${(r / limit).toFixed(2)}x |`);
  }
}
{
  const stage = (files: string[], env: NodeJS.ProcessEnv = {}) =>
    files.length / seconds([...ONE_CORE, process.execPath, path.join(ROOT, 'dist/scripts/bench/imgtag-decode.js'), ...files], { ...process.env, UV_THREADPOOL_SIZE: '1', IMGTAG_HEIC_THREADS: '1', ...env });
  const pillow = heicPairs.jpeg.length / seconds([...ONE_CORE, PYTHON, path.join(ROOT, 'scripts/bench/pillow_decode.py'), 'full', ...heicPairs.jpeg]);
  const jpeg = stage(heicPairs.jpeg);
  const heic = stage(heicPairs.heic);
  const name = `the same ${heics.length} photos`;
  rows.push(`| ${name}, as JPEG | imgtag decode stage: JPEG fast path | ${jpeg.toFixed(0)} | ${(jpeg / pillow).toFixed(2)}x | |`);
  rows.push(`| ${name}, as HEIC (HEVC) | imgtag decode stage: libheif (WebAssembly) on a pool thread | ${heic.toFixed(0)} | ${(heic / pillow).toFixed(2)}x | |`);
  rows.push(`| ${name} | HEIC / JPEG | ${(heic / jpeg).toFixed(2)}x | | |`);
}
const table = [
  `One core (\`taskset -c 0\`), ${os.cpus()[0]?.model ?? 'cpu'}, ${os.availableParallelism()} cores, CPU flags: ${cpuFlags()}. Images from ${path.relative(ROOT, images)}.`,
  '',
  '| images | decoder | images/s | vs Pillow full | vs djpeg limit |',
  '| --- | --- | --- | --- | --- |',
  ...rows,
  '',
  'Reproduce: `apt-get install libjpeg-turbo-progs python3-pil python3-numpy bc && npm run build && node dist/scripts/bench-decode.js`.',
].join('\n');
console.log(table);
writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'Decode and preprocess to a 224x224 tensor, one core', table);
