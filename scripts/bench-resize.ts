import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { decodeImage } from '../src/decode/decode.js';
import { loadAddon } from '../src/native/load.js';
import { cpuFlags, ONE_CORE, ROOT } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';

/**
 * The resize and crop's SIMD levels against scalar: imgtag's decode stage alone (decodeImage, the JPEG
 * fast path) on one core, in steady state, process CPU time per image (the machine is shared: wall
 * time would count others' work). Each level in turn within each try, 5 tries, medians. The resize
 * and crop's own share is the decode less the same decode to a 1x1 crop of the same short side
 * (the same DCT-scaled decode, next to no resizing), paired within each try. Usage: node dist/scripts/bench-resize.js [images-dir]
 */
const TRIES = 5;
const SHORT_SIDE = 256;
const CROPS = { full: 224, bare: 1 } as const;
type Variant = keyof typeof CROPS;
type Addon = { simdLevel(): string };
interface SetSpec {
  name: string;
  files: string[];
  repeat: number;
  /** Whether to measure the resize's share (against the 1x1 crop). */
  share: boolean;
}

/** Child: decode each set's files `repeat` times after a warm-up; CPU seconds per image, per set. */
async function child(variant: Variant, sets: SetSpec[]): Promise<void> {
  sharp.concurrency(1);
  const side = CROPS[variant];
  const target = { width: side, height: side, shortSide: SHORT_SIDE, maxPixels: 100_000_000 };
  const tensor = new Uint8Array(side * side * 3);
  const perImage: number[] = [];
  for (const set of sets) {
    const blobs = set.files.map((f) => fs.readFileSync(f));
    for (const b of blobs.slice(0, 10)) await decodeImage(b, [target]);
    const start = process.cpuUsage();
    for (let r = 0; r < set.repeat; r++) for (const b of blobs) tensor.set((await decodeImage(b, [target])).pixels[0]!, 0);
    const used = process.cpuUsage(start);
    perImage.push((used.user + used.system) / 1e6 / (blobs.length * set.repeat));
  }
  console.log(JSON.stringify({ level: loadAddon<Addon>('imgtag_jpeg', undefined, '').addon?.simdLevel(), perImage }));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ms = (s: number) => (s * 1000).toFixed(3);

async function main(): Promise<void> {
  const jpeg = loadAddon<Addon>('imgtag_jpeg', undefined, "install Debian's libturbojpeg0-dev and a C compiler, then npm rebuild");
  if (!jpeg.addon) throw new Error(`the native JPEG path: ${jpeg.problem}`);
  const images = process.argv[2] ?? path.resolve(ROOT, '../shared/images');
  const list = (dir: string) => fs.readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => path.join(dir, f));
  const samples = list(path.join(images, 'imagenet-samples'));
  const photos = list(path.join(images, 'large'));
  const sets: SetSpec[] = [
    { name: `ImageNet JPEGs (${samples.length} x ${Math.ceil(4000 / samples.length)})`, files: samples, repeat: Math.ceil(4000 / samples.length), share: true },
    // The resize is a few percent of a phone photo's decode, under the noise of a difference of two runs.
    { name: `phone photos (${photos.length} x 20)`, files: photos, repeat: 20, share: false },
  ];
  const script = fileURLToPath(import.meta.url);
  const run = (level: string, variant: Variant, runSets: SetSpec[]) => {
    const env = { ...process.env, IMGTAG_SIMD: level, UV_THREADPOOL_SIZE: '1', IMGTAG_BENCH_RESIZE: variant, IMGTAG_BENCH_RESIZE_SETS: JSON.stringify(runSets) };
    const out = execFileSync(ONE_CORE[0]!, [...ONE_CORE.slice(1), process.execPath, script], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    return JSON.parse(out.trim().split('\n').pop()!) as { level: string; perImage: number[] };
  };
  // The levels this CPU has: each name asked for, as the addon answers it (one it lacks gives the best it has).
  const addonFile = path.join(ROOT, 'build/Release/imgtag_jpeg.node');
  const levelFor = (want: string) => execFileSync(process.execPath, ['-e', 'process.stdout.write(require(process.argv[1]).simdLevel())', addonFile], { env: { ...process.env, IMGTAG_SIMD: want }, encoding: 'utf8' });
  const levels = ['scalar', 'avx2', 'avx512', 'neon'].map(levelFor).filter((l, i, all) => all.indexOf(l) === i);
  const times = new Map<string, number[]>();
  for (let t = 0; t < TRIES; t++)
    for (const level of levels)
      for (const variant of Object.keys(CROPS) as Variant[]) {
        const runSets = sets.filter((set) => variant === 'full' || set.share);
        const got = run(level, variant, runSets);
        if (got.level !== level) throw new Error(`IMGTAG_SIMD=${level} ran ${got.level}`);
        got.perImage.forEach((s, i) => {
          const key = `${level} ${variant} ${runSets[i]!.name}`;
          times.set(key, [...(times.get(key) ?? []), s]);
        });
        console.error(`try ${t + 1}/${TRIES} ${level} ${variant}: ${got.perImage.map(ms).join(', ')} ms/image`);
      }
  const tries = (level: string, variant: Variant, set: SetSpec) => times.get(`${level} ${variant} ${set.name}`)!;
  // The resize: each try's full decode less that try's 1x1 one (run next to it), the median of those.
  const resizeOf = (level: string, set: SetSpec) => median(tries(level, 'full', set).map((s, t) => s - tries(level, 'bare', set)[t]!));
  const rows = sets.flatMap((set) =>
    levels.map((level) => {
      const full = median(tries(level, 'full', set)), scalarFull = median(tries('scalar', 'full', set));
      const resize = set.share ? resizeOf(level, set) : NaN, scalarResize = set.share ? resizeOf('scalar', set) : NaN;
      const shareCols = set.share ? `${ms(resize)} | ${((100 * resize) / full).toFixed(0)}% | ${(resize / scalarResize).toFixed(2)}` : '| |';
      return `| ${set.name} | ${level} | ${ms(full)} | ${(full / scalarFull).toFixed(2)} | ${shareCols} |`;
    }),
  );
  const table = [
    `One core (\`taskset -c 0\`, UV_THREADPOOL_SIZE=1), ${os.cpus()[0]?.model ?? 'cpu'}, CPU flags: ${cpuFlags()}, Node ${process.version}. imgtag's decode stage alone (the JPEG fast path, to a ${CROPS.full}x${CROPS.full} crop of the ${SHORT_SIDE} short side), process CPU time per image, the median of ${TRIES} tries; each try runs every level in turn (\`IMGTAG_SIMD\`). Resize + crop: the decode less the same decode to a 1x1 crop (the same DCT-scaled decode, next to no resizing) run beside it, the median of the tries' differences; not for the phone photos, where it is a few percent of the decode, within the noise of such a difference. Every level's pixels are the scalar ones, byte for byte (test/resize-simd.test.ts).`,
    '',
    '| images | level | decode ms/image | vs scalar | resize + crop ms/image | share of the decode | resize + crop vs scalar |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Reproduce (the native addons built, as `npm ci` does): `npm run build && node dist/scripts/bench-resize.js`.',
  ].join('\n');
  console.log(table);
  writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'Resize and crop: SIMD against scalar, one core', table);
}

const childVariant = process.env.IMGTAG_BENCH_RESIZE as Variant | undefined;
if (childVariant) await child(childVariant, JSON.parse(process.env.IMGTAG_BENCH_RESIZE_SETS!) as SetSpec[]);
else await main();
