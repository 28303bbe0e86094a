import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseLabels } from '../src/model/labels.js';
import { writeCommit, type CommitMarker } from '../src/output/commit.js';
import { resultsParquet } from '../src/output/parquet.js';
import type { ResultRow } from '../src/output/rows.js';
import { runLayout } from '../src/run-dir.js';
import { writeBytes } from '../src/storage/storage.js';
import { ROOT } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';

/**
 * Compaction of N result rows (generated: realistic keys, ETags, sizes and five ImageNet tags each) in
 * shard files of 1,000 rows, as `imgtag run` stages them, on local disk: rows/s, peak RSS, files and
 * sizes out. Beside it, in the same invocation, a baseline: the same bytes copied file by file (cp),
 * the least any merge must do. Two sizes show that memory does not grow with the run.
 * Usage: node dist/scripts/bench-compact.js [rows,rows...]
 */
const sizes = (process.argv[2] ?? '1000000,3000000').split(',').map(Number);
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
async function measure(rows: number): Promise<{ lines: string[]; note: string }> {
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
  const compact = timed([process.execPath, path.join(ROOT, 'dist/cli/imgtag.js'), 'compact', '--run', run, ...(process.env.BENCH_COMPACT_ARGS?.split(' ').filter(Boolean) ?? [])]);
  const done = JSON.parse(fs.readFileSync(runLayout.compaction(run, 'done.json'), 'utf8')) as { files: { rows: number; bytes: number }[] };
  const outBytes = done.files.reduce((n, f) => n + f.bytes, 0);
  fs.rmSync(work, { recursive: true, force: true });
  const n = rows.toLocaleString('en');
  return {
    lines: [
      `| ${n} | baseline: cp of the staged files | ${baseline.seconds.toFixed(2)} | ${(rows / baseline.seconds).toFixed(0)} | ${baseline.rssMb.toFixed(0)} | ${shards.toLocaleString('en')} | ${mb(stagedBytes)} |`,
      `| ${n} | imgtag compact (read, check, sort by key, zstd, publish, remove staged) | ${compact.seconds.toFixed(2)} | ${(rows / compact.seconds).toFixed(0)} | ${compact.rssMb.toFixed(0)} | ${done.files.length} | ${mb(outBytes)} |`,
    ],
    note: `${n} rows: compaction takes ${(compact.seconds / baseline.seconds).toFixed(0)}x the time of copying the same bytes; files per million images ${Math.round((shards * 1e6) / rows).toLocaleString('en')} before, ${((done.files.length * 1e6) / rows).toFixed(2)} after (${(stagedBytes / rows).toFixed(1)} bytes per row staged, ${(outBytes / rows).toFixed(1)} compacted).`,
  };
}

const results = [];
for (const rows of sizes) results.push(await measure(rows));
const table = [
  `Result rows (one model, five tags each, 0.2% error rows) staged as shard files of ${SHARD.toLocaleString('en')} rows on local disk, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'cpu'}); \`imgtag compact\` with its defaults (256 MB files, 128 MB row groups, 256 MB for DuckDB's sort, which spills beyond it).`,
  '',
  '| rows | step | seconds | rows/s | peak RSS MB | files out | MB out |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...results.flatMap((r) => r.lines),
  '',
  ...results.map((r) => r.note),
  '',
  `Reproduce: \`npm run build && node dist/scripts/bench-compact.js ${sizes.join(',')}\`.`,
].join('\n');
console.log(table);
writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'Compaction: shard files to a dataset', table);
