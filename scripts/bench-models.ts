import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';

/**
 * Two models in one run (one fetch and decode per image) against the same two models in two
 * separate runs, on the same images, in one invocation. Usage:
 *   node dist/scripts/bench-models.js [image-dir] [count]
 */
const CLI = path.join(ROOT, 'dist/cli/imgtag.js');
const dir = process.argv[2] ?? path.resolve(ROOT, '../shared/images/imagenet-samples');
const count = Number(process.argv[3] ?? 300);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-bench-models-'));
const files = fs.readdirSync(dir).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort().slice(0, count).map((f) => path.join(dir, f));
fs.writeFileSync(path.join(work, 'keys.txt'), files.join('\n'));

function timedRun(name: string, models: string[]): number {
  const run = path.join(work, name);
  spawnSync(process.execPath, [CLI, 'plan', '--manifest', path.join(work, 'keys.txt'), '--run', run, '--shard-size', '50'], { stdio: 'ignore' });
  const start = performance.now();
  const res = spawnSync(process.execPath, [CLI, 'run', '--run', run, '--workers', '2', ...models.flatMap((m) => ['--model', m])], { stdio: 'ignore' });
  if (res.status !== 0) throw new Error(`${name}: imgtag run exited ${res.status}`);
  return (performance.now() - start) / 1000;
}

const one = timedRun('both', ['mobilenetv2-12-int8', 'squeezenet1.1']);
const a = timedRun('mobilenet', ['mobilenetv2-12-int8']);
const b = timedRun('squeezenet', ['squeezenet1.1']);
const rows = [
  ['two runs, one model each (baseline)', a + b, files.length / (a + b)],
  ['one run, both models (shared decode)', one, files.length / one],
] as const;
const table = [
  `${files.length} images from ${path.relative(ROOT, dir)}, MobileNetV2 int8 + SqueezeNet 1.1, --workers 2, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'cpu'})`,
  '',
  '| configuration | seconds | images/s (both models) |',
  '| --- | --- | --- |',
  ...rows.map(([name, s, rate]) => `| ${name} | ${s.toFixed(1)} | ${rate.toFixed(1)} |`),
  '',
  `Speed-up of one run over two: **${((a + b) / one).toFixed(2)}x**. Reproduce: \`npm run build && node dist/scripts/bench-models.js\`.`,
].join('\n');
console.log(table);
writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'Two models, one decode', table);
