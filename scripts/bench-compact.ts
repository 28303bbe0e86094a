import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseLabels } from '../src/model/labels.js';
import { writeCommit, type CommitMarker } from '../src/rundir/commits.js';
import { resultsParquet } from '../src/output/parquet.js';
import type { ResultRow } from '../src/output/rows.js';
import { runLayout } from '../src/rundir/layout.js';
import { writeBytes } from '../src/storage/storage.js';
import { ROOT } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';

/**
 * Compaction of N result rows (generated: realistic keys, ETags, sizes and five ImageNet tags each) in
 * shard files of 1,000 rows, as `imgtag run` stages them, on local disk: rows/s, peak RSS, files and
 * sizes out. Beside it, in the same invocation, a baseline: the same bytes copied file by file (cp),
 * the least any merge must do. Two sizes show that memory does not grow with the run; each size is
 * compacted with 1, 2 and 4 merge workers (`--workers`: `compact --merge-only` processes, as fleet
 * children are, merging under the same group leases; peak RSS is the largest process's).
 * Usage: node dist/scripts/bench-compact.js [rows,rows...] [workers,workers...]
 */
const sizes = (process.argv[2] ?? '1000000,10000000').split(',').map(Number);
const workerCounts = (process.argv[3] ?? '1,2,4').split(',').map(Number);
const SHARD = 1000;
const modelDir = process.env.IMGTAG_MODEL_DIR ?? path.join(ROOT, '..', 'shared', 'models');
const labels = parseLabels(fs.readFileSync(path.join(modelDir, 'synset.txt'), 'utf8'), 'synset');

/** A deterministic pseudo-random stream, so every invocation compacts the same rows. */
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

function shardRows(rows: number, s: number): ResultRow[] {
  return Array.from({ length: Math.min(SHARD, rows - s * SHARD) }, (_, j) => {
    const k = s * SHARD + j;
    const scores = Array.from({ length: 5 }, () => rand()).sort((a, b) => b - a);
    const bad = k % 500 === 0;
    return {
      key: `photos/${(k * 7919) % 1000}/${k.toString(36)}-IMG_${k}.jpg`,
      bucket: 'photos',
      etag: (BigInt(k) * 2654435761n).toString(16).padStart(32, '0').slice(-32),
      size: 50_000 + Math.floor(rand() * 4_000_000),
      width: bad ? null : 4032,
      height: bad ? null : 3024,
      models: [{ model: 'mobilenetv2-12-int8@cc028fe6cae7', tags: bad ? null : scores.map((score) => ({ label: labels[Math.floor(rand() * labels.length)]!, score })), embedding: null }],
      error: bad ? { stage: 'decode', message: 'decode: not a JPEG file (starts with <html>)' } : null,
    };
  });
}

const timed = (cmd: string[]) => {
  const start = performance.now();
  const res = spawnSync('/usr/bin/time', ['-f', '%M', ...cmd], { env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (res.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${res.stderr}`);
  return { seconds: (performance.now() - start) / 1000, rssMb: Number(res.stderr.trim().split('\n').pop()) / 1024 };
};
const mb = (b: number) => (b / 2 ** 20).toFixed(1);

/** Stage `rows` rows as a committed run, then time cp (baseline) and imgtag compact on it: two table lines. */
interface Measured {
  rows: number;
  workers: number;
  rate: number;
  rssMb: number;
}

async function measure(rows: number): Promise<{ lines: string[]; note: string; measured: Measured[] }> {
  const shards = Math.ceil(rows / SHARD);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-bench-compact-'));
  const run = path.join(work, 'run');
  let stagedBytes = 0;
  fs.mkdirSync(run, { recursive: true });
  const plan = { version: 1, createdAt: new Date().toISOString(), id: 'bench-00000000', source: { kind: 'keylist', uri: 'generated' }, options: { shardSize: SHARD }, counts: { rows, images: rows, skipped: 0, unchanged: 0 }, shards };
  fs.writeFileSync(runLayout.plan(run), JSON.stringify(plan));
  for (let s = 0; s < shards; s++) {
    const r = shardRows(rows, s);
    const parquet = resultsParquet(r, [{ name: 'mobilenetv2_12_int8', tags: true }], { runId: 'bench-00000000', taggedAt: new Date() });
    stagedBytes += parquet.length;
    await writeBytes(runLayout.staged(run, s), parquet);
    await writeCommit(run, { shard: s, result: runLayout.staged(run, s), rows: r.length } as CommitMarker);
  }
  const baseline = timed(['cp', '-r', path.join(run, 'staging'), path.join(work, 'copy')]);
  fs.rmSync(path.join(work, 'copy'), { recursive: true, force: true });
  const n = rows.toLocaleString('en');
  const lines = [`| ${n} | baseline: cp of the staged files | 1 | ${baseline.seconds.toFixed(2)} | ${(rows / baseline.seconds).toFixed(0)} | | ${baseline.rssMb.toFixed(0)} | ${shards.toLocaleString('en')} | ${mb(stagedBytes)} |`];
  const notes: string[] = [];
  const measured: Measured[] = [];
  for (const workers of workerCounts) {
    // Compaction removes the staged files: each setting gets its own copy of the run.
    const copy = path.join(work, `run-${workers}`);
    fs.cpSync(run, copy, { recursive: true });
    const args = ['compact', '--run', copy, '--workers', String(workers), ...(process.env.BENCH_COMPACT_ARGS ?? '--target-file-mb 32').split(' ').filter(Boolean)];
    const compact = timed([process.execPath, path.join(ROOT, 'dist/cli/imgtag.js'), ...args]);
    const done = JSON.parse(fs.readFileSync(runLayout.compaction(copy, 'done.json'), 'utf8')) as { files: { rows: number; bytes: number }[] };
    const outBytes = done.files.reduce((s, f) => s + f.bytes, 0);
    fs.rmSync(copy, { recursive: true, force: true });
    const rate = rows / compact.seconds;
    measured.push({ rows, workers, rate, rssMb: compact.rssMb });
    lines.push(`| ${n} | imgtag compact --workers ${workers} (read, check, sort by key, zstd, publish, remove staged) | ${workers} | ${compact.seconds.toFixed(2)} | ${rate.toFixed(0)} | ${(rate / workers).toFixed(0)} | ${compact.rssMb.toFixed(0)} | ${done.files.length} | ${mb(outBytes)} |`);
    if (workers === workerCounts[0]) notes.push(`${n} rows: compaction takes ${(compact.seconds / baseline.seconds).toFixed(0)}x the time of copying the same bytes; files per million images ${Math.round((shards * 1e6) / rows).toLocaleString('en')} before, ${((done.files.length * 1e6) / rows).toFixed(2)} after (${(stagedBytes / rows).toFixed(1)} bytes per row staged, ${(outBytes / rows).toFixed(1)} compacted).`);
  }
  fs.rmSync(work, { recursive: true, force: true });
  return { lines, note: notes.join(' '), measured };
}

const results = [];
for (const rows of sizes) results.push(await measure(rows));

/** Peak RSS from the smallest to the largest run, per worker count; and 300 M rows on 32 children at the largest run's one-worker rate. */
function summary(all: Measured[]): string {
  const [small, large] = [Math.min(...sizes), Math.max(...sizes)];
  const at = (rows: number, workers: number) => all.find((m) => m.rows === rows && m.workers === workers)!;
  const rss = workerCounts.map((w) => `${w} worker(s) ${at(small, w).rssMb.toFixed(0)} -> ${at(large, w).rssMb.toFixed(0)} MB`).join(', ');
  const perChild = at(large, workerCounts[0]!).rate;
  const minutes = 300e6 / 32 / perChild / 60;
  return (
    `Peak RSS of the largest process from ${small.toLocaleString('en')} to ${large.toLocaleString('en')} rows: ${rss}. ` +
    `At ${perChild.toFixed(0)} rows/s a worker (the ${large.toLocaleString('en')}-row run, one worker on these 2 cores), 300 M rows merge in ${minutes.toFixed(1)} minutes on 32 children, each with a machine of its own.`
  );
}
const table = [
  `Result rows (one model, five tags each, 0.2% error rows) staged as shard files of ${SHARD.toLocaleString('en')} rows on local disk, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'cpu'}); \`imgtag compact --target-file-mb 32\` (so that 10 M rows make several files, as 300 M make about 20 at the default 256 MB), 128 MB row groups, 256 MB for each merge's DuckDB sort (it spills beyond it).`,
  '',
  '| rows | step | workers | seconds | rows/s | rows/s a worker | peak RSS MB, largest process | files out | MB out |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...results.flatMap((r) => r.lines),
  '',
  ...results.map((r) => r.note),
  '',
  summary(results.flatMap((r) => r.measured)),
  '',
  `Reproduce: \`npm run build && node dist/scripts/bench-compact.js ${sizes.join(',')} ${workerCounts.join(',')}\`.`,
].join('\n');
console.log(table);
writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'Compaction: shard files to a dataset', table);
