import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, steadyCpuPerImage, steadyRate } from '../src/tune/search.js';
import { cpuFlags, ONE_CORE, ROOT, seconds, timedImgtagRun } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';

/**
 * imgtag against its own parts and against the pipeline a user would write by hand.
 * Parts, each alone on one core: imgtag's decode stage, imgtag's inference (its session options and
 * input), and their sum, the floor imgtag's CPU per image can reach. The hand-written pipeline:
 * Pillow decode, resize and the published model's normalisation to a float32 NCHW tensor, and the
 * published model on onnxruntime (one thread): one process per core, no overhead at all, so its
 * CPU per image is the sum of the two and its rate cores / that sum (an upper bound on what such a
 * pipeline does). imgtag runs at least 8,000 photos from local files; steady state leaves out each
 * worker's start-up and first shard (as `tune` measures), from the CPU stamps of the commit markers.
 * Parts and runs alternate, TRIES times each, medians. Needs Debian's python3-pil and python3-numpy.
 * Usage: node dist/scripts/bench-pipeline.js [images-dir] [copies] [tries]
 */
const images = process.argv[2] ?? path.resolve(ROOT, '../shared/images');
const COPIES = Number(process.argv[3] ?? 16);
const TRIES = Number(process.argv[4] ?? 3);
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const cores = os.availableParallelism();
const samples = path.join(images, 'imagenet-samples');
const files = fs.readdirSync(samples).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => path.join(samples, f));
const REPEAT = 4;
/** plan's default shard size: per-shard work (lease, Parquet, marker) weighs per image as it does by default. */
const SHARD = 1000;
const INFER_N = 2048;

// Parts are timed in CPU seconds (BENCH_CLOCK=cpu): others' work on these shared cores barely moves them.
const CPU_CLOCK = { ...process.env, BENCH_CLOCK: 'cpu' };
const oneCore = (script: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  seconds([...ONE_CORE, process.execPath, path.join(ROOT, 'dist/scripts/bench', script), ...args], { ...CPU_CLOCK, UV_THREADPOOL_SIZE: '1', ...env });

/** Seconds per image of each part, alone on one core. */
const parts = {
  pillow: () => seconds([...ONE_CORE, PYTHON, path.join(ROOT, 'scripts/bench/pillow_decode.py'), 'model', ...Array.from({ length: REPEAT }, () => files).flat()], CPU_CLOCK) / (files.length * REPEAT),
  ortPublished: () => oneCore('ort-published.js', ['16', String(INFER_N)]) / INFER_N,
  decode: () => oneCore('imgtag-decode.js', files, { BENCH_REPEAT: String(REPEAT) }) / files.length,
  infer: () => oneCore('imgtag-infer.js', ['16', String(INFER_N)]) / INFER_N,
};

// The photos COPIES times under new names (symlinks): thousands of images, steady state.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-bench-pipeline-'));
fs.mkdirSync(path.join(work, 'img'));
const keys = Array.from({ length: COPIES }, (_, c) =>
  files.map((f) => {
    const link = path.join(work, 'img', `${c}-${path.basename(f)}`);
    fs.symlinkSync(f, link);
    return link;
  }),
).flat();
fs.writeFileSync(path.join(work, 'keys.txt'), keys.join('\n'));

interface RunResult {
  /** Images/s over the whole command, and at steady state. */
  wall: number;
  steady: number;
  /** CPU seconds per image: the whole command (start-up included), and at steady state. */
  cpu: number;
  steadyCpu: number;
}

let runs = 0;
async function imgtagRun(flags: string[]): Promise<RunResult> {
  const r = await timedImgtagRun(path.join(work, 'keys.txt'), path.join(work, `run-${runs++}`), SHARD, flags);
  return { wall: keys.length / r.seconds, steady: steadyRate(r.markers), cpu: (r.user + r.system) / keys.length, steadyCpu: steadyCpuPerImage(r.markers) ?? NaN };
}

const layouts: [string, string[]][] = [
  [`imgtag run, defaults (${cores} workers x 1 thread)`, []],
  [`imgtag run --workers 1 (1 worker x ${cores} threads)`, ['--workers', '1']],
];
const partTries: Record<keyof typeof parts, number[]> = { pillow: [], ortPublished: [], decode: [], infer: [] };
const runTries: RunResult[][] = layouts.map(() => []);
for (let t = 0; t < TRIES; t++) {
  for (const [name, measure] of Object.entries(parts) as [keyof typeof parts, () => number][]) partTries[name].push(measure());
  for (const [i, [, flags]] of layouts.entries()) runTries[i]!.push(await imgtagRun(flags));
  console.log(`try ${t + 1}/${TRIES}`, JSON.stringify(partTries), JSON.stringify(runTries.map((r) => r.at(-1))));
}
const part = Object.fromEntries(Object.entries(partTries).map(([k, v]) => [k, median(v)])) as Record<keyof typeof parts, number>;
const floor = part.decode + part.infer;
const handCpu = part.pillow + part.ortPublished;
const handRate = cores / handCpu;
const ms = (s: number) => `${(s * 1000).toFixed(2)} ms`;
const startup = Math.min(...[0, 1, 2].map(() => oneCore('worker-startup.js', [])));

const rows = layouts.map(([name], i) => {
  const r = Object.fromEntries((['wall', 'steady', 'cpu', 'steadyCpu'] as const).map((k) => [k, median(runTries[i]!.map((x) => x[k]))])) as unknown as RunResult;
  return `| ${name} | ${r.steady.toFixed(1)} (**${(r.steady / handRate).toFixed(2)}x**) | ${r.wall.toFixed(1)} | ${ms(r.steadyCpu)}: **${(r.steadyCpu / floor).toFixed(3)}x** the parts, **${(handCpu / r.steadyCpu).toFixed(2)}x** less than by hand | ${ms(r.cpu)} (${(r.cpu / floor).toFixed(3)}x) |`;
});
const table = [
  `${os.cpus()[0]?.model ?? 'cpu'}, ${cores} cores, CPU flags: ${cpuFlags()}. ${keys.length} images (${files.length} ImageNet photos x ${COPIES}, local files, shards of ${SHARD}), MobileNetV2 int8, batch 16; medians of ${TRIES} tries, parts and runs alternating.`,
  '',
  '| part, alone on one core (CPU time of the timed loop) | CPU per image | images/s of CPU |',
  '| --- | --- | --- |',
  `| imgtag decode stage (JPEG fast path, to the 224x224 uint8 slot) | ${ms(part.decode)} | ${(1 / part.decode).toFixed(0)} |`,
  `| imgtag inference (its session, batch 16, one thread; pre-quantized input) | ${ms(part.infer)} | ${(1 / part.infer).toFixed(0)} |`,
  `| **imgtag's floor**: decode + inference alone | **${ms(floor)}** | ${(1 / floor).toFixed(0)} |`,
  `| by hand: Pillow decode + resize + the model's normalisation to float32 NCHW | ${ms(part.pillow)} | ${(1 / part.pillow).toFixed(0)} |`,
  `| by hand: the published model (float32 input), onnxruntime, batch 16, one thread | ${ms(part.ortPublished)} | ${(1 / part.ortPublished).toFixed(0)} |`,
  `| **the hand-written pipeline**: one process per core, no overhead: ${cores} / (Pillow + onnxruntime) | **${ms(handCpu)}** | **${handRate.toFixed(1)}** on ${cores} cores |`,
  `| worker start-up: model verified and loaded, pixel graph prepended | ${startup.toFixed(2)} s | |`,
  '',
  '| run | images/s, steady state (vs by hand) | images/s, whole command | CPU per image, steady state | CPU per image, whole command (start-up included) |',
  '| --- | --- | --- | --- | --- |',
  ...rows,
  '',
  "Steady state: each worker's start-up and first shard left out (images/s over the time its other shards cover, as `tune` measures; CPU between its first and last commit markers' CPU stamps). Overhead = CPU per image over the floor. Reproduce: `apt-get install python3-pil python3-numpy && npm run build && node dist/scripts/bench-pipeline.js`.",
].join('\n');
console.log(table);
writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'End to end against the hand-written pipeline (Pillow + onnxruntime, one process per core)', table);
fs.rmSync(work, { recursive: true, force: true });
