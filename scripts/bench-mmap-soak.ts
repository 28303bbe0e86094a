import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CommitMarker } from '../src/rundir/commits.js';
import { steadyCpuPerImage } from '../src/tune/search.js';
import { cpuFlags, ROOT, timedImgtagRun } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';

/**
 * The workers' glibc mmap threshold, chosen by a soak: one worker process (`imgtag run --workers 1`)
 * over COUNT images from local files, a mix as a bucket has them (the 500 ImageNet samples, the 9
 * ~3000 px phone photos, the HEIC samples, in turn), once per threshold. Each shard's commit marker
 * stamps the worker's RSS and CPU: the RSS series must be flat, and CPU per image (steady state)
 * is the price of each threshold's page faults and munmaps. Below the threshold glibc serves an
 * allocation from its heap (reused, no system call); at or above it, from a fresh mmap (page faults,
 * zeroing, munmap on free). Usage: node dist/scripts/bench-mmap-soak.js [count] [thresholds, comma-separated bytes]
 */
const COUNT = Number(process.argv[2] ?? 50_000);
const THRESHOLDS = (process.argv[3] ?? '65536,1048576,4194304').split(',').map(Number);
const SHARD = 1000;
const images = process.env.IMGTAG_IMAGE_DIR ?? path.resolve(ROOT, '../shared/images');
const pick = (dir: string, re: RegExp) => fs.readdirSync(path.join(images, dir)).filter((f) => re.test(f)).sort().map((f) => path.join(images, dir, f));
const files = [...pick('imagenet-samples', /\.jpe?g$/i), ...pick('large', /\.jpe?g$/i), ...pick('heic', /\.heic$/i)];

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-mmap-soak-'));
// Each image under its own name (symlinks): COUNT distinct keys.
fs.mkdirSync(path.join(work, 'img'));
const keys = Array.from({ length: COUNT }, (_, i) => {
  const f = files[i % files.length]!;
  const link = path.join(work, 'img', `${i}${path.extname(f)}`);
  fs.symlinkSync(f, link);
  return link;
});
fs.writeFileSync(path.join(work, 'keys.txt'), keys.join('\n'));

interface Soak {
  threshold: number;
  markers: CommitMarker[];
  cpuPerImage: number;
  systemShare: number;
  seconds: number;
}

async function soak(threshold: number): Promise<Soak> {
  const r = await timedImgtagRun(path.join(work, 'keys.txt'), path.join(work, `run-${threshold}`), SHARD, ['--workers', '1'], { MALLOC_MMAP_THRESHOLD_: String(threshold) });
  const markers = r.markers.sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
  return { threshold, markers, cpuPerImage: steadyCpuPerImage(markers) ?? NaN, systemShare: r.system / (r.user + r.system), seconds: r.seconds };
}

const size = (b: number) => (b >= 1 << 20 ? `${b / (1 << 20)} MiB` : `${b / 1024} KiB`);
const results: Soak[] = [];
for (const t of THRESHOLDS) {
  const r = await soak(t);
  console.log(size(t), r.markers.map((m) => m.rssMb).join(','), (r.cpuPerImage * 1000).toFixed(3), 'ms/image');
  results.push(r);
}
const rows = results.map((r) => {
  const rss = r.markers.map((m) => m.rssMb!);
  const tenth = rss[Math.max(0, Math.floor(rss.length / 10) - 1)]!;
  const lastHalf = rss.slice(Math.floor(rss.length / 2));
  return `| ${size(r.threshold)} | ${tenth} | ${rss[Math.floor(rss.length / 2)]} | ${rss.at(-1)} | ${Math.max(...rss)} (${Math.min(...lastHalf)}-${Math.max(...lastHalf)}) | ${(rss.at(-1)! / tenth).toFixed(2)}x | ${(r.cpuPerImage * 1000).toFixed(2)} ms | ${(r.systemShare * 100).toFixed(1)}% |`;
});
const base = results[0]!;
const table = [
  `${os.cpus()[0]?.model ?? 'cpu'}, ${os.availableParallelism()} cores (shared), CPU flags: ${cpuFlags()}. One worker (\`imgtag run --workers 1\`, its default threads) over ${COUNT.toLocaleString('en')} local images, the ${files.length} samples in turn (ImageNet JPEGs, ~3000 px phone photos, HEIC), shards of ${SHARD}; RSS of the worker as each shard committed (its marker).`,
  '',
  '| MALLOC_MMAP_THRESHOLD_ | RSS after 1/10, MB | at 1/2, MB | at the end, MB | highest (second half\'s range), MB | end / first tenth | CPU per image, steady | system CPU share |',
  '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows,
  '',
  `CPU per image against ${size(base.threshold)}: ${results.map((r) => `${size(r.threshold)} ${(r.cpuPerImage / base.cpuPerImage).toFixed(3)}x`).join(', ')}. Reproduce: \`npm run build && node dist/scripts/bench-mmap-soak.js ${COUNT}\`.`,
].join('\n');
console.log(table);
writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), "Memory soak: the workers' mmap threshold over 50,000 images", table);
fs.rmSync(work, { recursive: true, force: true });
