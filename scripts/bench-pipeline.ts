import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readMarkers } from '../src/rundir/commits.js';
import { steadyRate } from '../src/tune/search.js';
import { cpuFlags, ONE_CORE, ROOT, seconds } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';

/**
 * imgtag against the pipeline a user would write by hand: Pillow decode and resize plus the same
 * onnxruntime model, one process per core, whose rate is cores / (1/Pillow + 1/onnxruntime), each
 * measured alone on one core in this invocation. imgtag runs at steady state on at least 8,000
 * photos from local files, with its defaults and with other worker layouts. Needs Debian's
 * python3-pil and python3-numpy. Usage: node dist/scripts/bench-pipeline.js [images-dir] [copies]
 */
const images = process.argv[2] ?? path.resolve(ROOT, '../shared/images');
const COPIES = Number(process.argv[3] ?? 16);
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const CLI = path.join(ROOT, 'dist/cli/imgtag.js');
const cores = os.availableParallelism();
const samples = path.join(images, 'imagenet-samples');
const files = fs.readdirSync(samples).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => path.join(samples, f));

const oneCore = (script: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  seconds([...ONE_CORE, process.execPath, path.join(ROOT, 'dist/scripts/bench', script), ...args], { ...process.env, UV_THREADPOOL_SIZE: '1', ...env });
const pillow = files.length / seconds([...ONE_CORE, PYTHON, path.join(ROOT, 'scripts/bench/pillow_decode.py'), 'full', ...files]);
const decode = files.length / oneCore('imgtag-decode.js', files);
const inferN = 2048;
const ort = inferN / oneCore('imgtag-infer.js', ['16', String(inferN)]);
const startup = Math.min(...[0, 1, 2].map(() => oneCore('worker-startup.js', [])));
const handWritten = cores / (1 / pillow + 1 / ort);

// The photos COPIES times under new names (symlinks): thousands of images, steady state.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-bench-pipeline-'));
fs.mkdirSync(path.join(work, 'img'));
const keys: string[] = [];
for (let c = 0; c < COPIES; c++) {
  for (const f of files) {
    const link = path.join(work, 'img', `${c}-${path.basename(f)}`);
    fs.symlinkSync(f, link);
    keys.push(link);
  }
}
fs.writeFileSync(path.join(work, 'keys.txt'), keys.join('\n'));

async function imgtagRun(name: string, flags: string[]): Promise<{ wall: number; steady: number; cpuMs: number }> {
  const run = path.join(work, name);
  const plan = spawnSync(process.execPath, [CLI, 'plan', '--manifest', path.join(work, 'keys.txt'), '--run', run, '--shard-size', '250'], { encoding: 'utf8' });
  if (plan.status !== 0) throw new Error(plan.stderr);
  const start = performance.now();
  const res = spawnSync('/usr/bin/time', ['-f', '%U %S', process.execPath, CLI, 'run', '--run', run, '--no-compact', ...flags], { encoding: 'utf8' });
  const wall = (performance.now() - start) / 1000;
  if (res.status !== 0) throw new Error(`run ${name}: ${res.stderr.slice(-2000)}`);
  const [user, sys] = res.stderr.trim().split('\n').pop()!.split(' ').map(Number) as [number, number];
  return { wall: keys.length / wall, steady: steadyRate(await readMarkers(run)), cpuMs: ((user + sys) / keys.length) * 1000 };
}

const layouts: [string, string[]][] = [
  [`imgtag run, defaults (${cores} workers x 1 thread)`, []],
  [`imgtag run --workers 1 (1 worker x ${cores} threads)`, ['--workers', '1']],
];
const rows: string[] = [];
for (const [name, flags] of layouts) {
  const r = await imgtagRun(`run-${rows.length}`, flags);
  rows.push(`| ${name} | ${r.steady.toFixed(1)} | ${r.wall.toFixed(1)} | ${r.cpuMs.toFixed(2)} ms | **${(r.steady / handWritten).toFixed(2)}x** |`);
}
const table = [
  `${os.cpus()[0]?.model ?? 'cpu'}, ${cores} cores, CPU flags: ${cpuFlags()}. ${keys.length} images (${files.length} ImageNet photos x ${COPIES}, local files), MobileNetV2 int8, batch 16.`,
  '',
  '| per core, alone | images/s |',
  '| --- | --- |',
  `| Pillow full decode + resize (the hand-written pipeline's decode) | ${pillow.toFixed(0)} |`,
  `| imgtag decode stage (JPEG fast path) | ${decode.toFixed(0)} (${(decode / pillow).toFixed(2)}x Pillow) |`,
  `| onnxruntime alone, batch 16, one thread | ${ort.toFixed(0)} |`,
  `| **the hand-written pipeline**: ${cores} / (1/Pillow + 1/onnxruntime) | **${handWritten.toFixed(1)}** |`,
  `| worker start-up: model verified and loaded, pixel graph prepended | ${startup.toFixed(2)} s |`,
  '',
  '| run | images/s, steady state | images/s, whole command | CPU per image | vs hand-written |',
  '| --- | --- | --- | --- | --- |',
  ...rows,
  '',
  'Steady state: images over the time covered by shards, each worker\'s first shard left out (as `tune` measures). Reproduce: `apt-get install python3-pil python3-numpy && npm run build && node dist/scripts/bench-pipeline.js`.',
].join('\n');
console.log(table);
writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'End to end against the hand-written pipeline (Pillow + onnxruntime, one process per core)', table);
fs.rmSync(work, { recursive: true, force: true });
