import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { currentLayout, writeCurrent } from '../src/rundir/current.js';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from '../src/demo/local-s3.js';
import { decodeInventoryKey } from '../src/manifest/inventory-csv.js';
import { resolveModel } from '../src/model/resolve.js';
import { isImageUri } from '../src/plan/filter.js';
import { configureS3 } from '../src/storage/s3-config.js';
import { deleteObjects, listObjects, readText, uploadFile, writeBytes } from '../src/storage/storage.js';
import { ROOT } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';
import { INVENTORY_FIELDS, inventoryObject, writeInventoryCsvGz } from './inventory-fixture.js';
import { DEFAULTS } from '../src/defaults.js';

/**
 * Nightly planning against a current table of N objects (default 10 M) when 1% of the bucket is
 * new, for a history of 1, 5 and 20 earlier nightly runs under the root: the time must not grow with
 * history. Each nightly is timed as the fleet's planning job runs it (plan and stop:
 * `--fleet-threshold 0 --dry-run`). Baseline in the same invocation: `imgtag plan` of the same
 * Inventory without any join. Usage: node dist/scripts/bench-nightly.js [currentRows]
 */
const currentRows = Number(process.argv[2] ?? 10_000_000);
const FILES = 4;
const BUCKET = 'bench-nightly';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-bench-nightly-'));
const root = `s3://${BUCKET}/nightly`;
// 4 in 5 generated objects are images: this many rows give `currentRows` images, then 1% more.
const oldRows = Math.round(currentRows / 0.8);
const allRows = Math.round(oldRows * 1.01);

/** The current table as the last nightly left it: every image of the first `oldRows` objects, tagged. */
async function currentTable(modelId: string): Promise<{ file: string; rows: number }[]> {
  const csv = path.join(work, 'current.csv');
  const out = fs.createWriteStream(csv);
  out.write('key,etag,size\n');
  for (let k = 0; k < oldRows; k++) {
    const o = inventoryObject(k);
    const key = decodeInventoryKey(o.key);
    if (isImageUri(key)) out.write(`${key},${o.etag},${o.size}\n`);
    if (k % 100_000 === 0 && out.writableNeedDrain) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const dir = path.join(work, 'current');
  const db = await DuckDBInstance.create(':memory:', { memory_limit: '1GB' });
  const conn = await db.connect();
  const tags = `[${[0, 1, 2, 3, 4].map((i) => `{'label': 'n0' || ((hash(key) + ${i}) % 1000 + 1440000)::VARCHAR || '_label', 'score': (0.5 / ${i + 1})::FLOAT}`).join(', ')}]`;
  await conn.run(
    `COPY (SELECT key, '${BUCKET}' AS bucket, etag, size::BIGINT AS size, 224 AS width, 224 AS height, '${modelId}' AS model_mobilenetv2_12_int8, ` +
      `${tags} AS tags_mobilenetv2_12_int8, NULL::STRUCT(stage VARCHAR, message VARCHAR) AS error, 'bench-base' AS run_id, TIMESTAMPTZ '2026-11-01 00:00:00+00' AS tagged_at ` +
      `FROM read_csv('${csv}', header = true, columns = {key: 'VARCHAR', etag: 'VARCHAR', size: 'BIGINT'}, quote = '', escape = '') ORDER BY key) ` +
      `TO '${dir}' (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES '256MB')`,
  );
  const rows = (await conn.runAndReadAll(`SELECT filename, count(*) FROM read_parquet('${dir}/*.parquet', filename = true) GROUP BY ALL ORDER BY 1`)).getRows();
  conn.closeSync();
  db.closeSync();
  fs.rmSync(csv);
  return rows.map((r) => ({ file: String(r[0]), rows: Number(r[1]) }));
}

/** `depth` earlier nightly runs under the root (a plan and a results file each), as history piles up. */
async function addHistory(depth: number): Promise<void> {
  for (let i = 0; i < depth; i++) {
    const run = `${root}/runs/202610${String(i + 1).padStart(2, '0')}T020000Z`;
    await writeBytes(`${run}/plan.json`, JSON.stringify({ version: 1, createdAt: '2026-10-01T02:00:00.000Z', shards: 1, counts: { rows: 0, images: 0, skipped: 0, unchanged: 0 } }));
    await writeBytes(`${run}/compaction/done.json`, JSON.stringify({ version: 1, files: [] }));
  }
}

Object.assign(process.env, LOCAL_S3_CREDENTIALS);
const s3 = await startLocalS3({ buckets: [BUCKET] });
try {
  configureS3({ endpoint: s3.endpoint });
  const keys: string[] = [];
  const per = Math.ceil(allRows / FILES);
  for (let i = 0; i < FILES; i++) {
    const local = path.join(work, `data-${i}.csv.gz`);
    await writeInventoryCsvGz(local, BUCKET, i * per, Math.min(per, allRows - i * per));
    keys.push(`inv/data/${i}.csv.gz`);
    await uploadFile(local, `s3://${BUCKET}/inv/data/${i}.csv.gz`);
    fs.rmSync(local);
  }
  const manifest = `s3://${BUCKET}/inv/manifest.json`;
  await writeBytes(manifest, JSON.stringify({ destinationBucket: `arn:aws:s3:::${BUCKET}`, fileFormat: 'CSV', fileSchema: INVENTORY_FIELDS, files: keys.map((key) => ({ key })) }));

  const modelId = (await resolveModel(DEFAULTS.model)).id;
  const files = await currentTable(modelId);
  const table = [];
  for (const [i, f] of files.entries()) {
    const uri = `${currentLayout.version(root, 'bench-base')}part-${String(i).padStart(5, '0')}.parquet`;
    await uploadFile(f.file, uri);
    table.push({ uri, rows: f.rows });
  }
  const rows = table.reduce((n, f) => n + f.rows, 0);
  await writeCurrent({ version: 1, root, run: `${root}/runs/bench-base`, runId: 'bench-base', files: table, rows, updatedAt: new Date().toISOString(), location: currentLayout.version(root, 'bench-base') });

  const env = { ...process.env, AWS_ENDPOINT_URL: s3.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  const cli = path.join(ROOT, 'dist/cli/imgtag.js');
  const timed = (args: string[]) => {
    const start = performance.now();
    const res = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, cli, ...args], { env, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (res.status !== 0) throw new Error(`imgtag ${args.join(' ')} failed: ${res.stderr}`);
    const field = (name: string) => new RegExp(`^${name}\\s+(\\S+)`, 'm').exec(res.stdout)?.[1] ?? '?';
    return { seconds: (performance.now() - start) / 1000, rssMb: Number(res.stderr.trim().split('\n').pop()) / 1024, images: field('images'), unchanged: field('unchanged since parent') };
  };
  const plain = timed(['plan', '--manifest', manifest, '--run', `s3://${BUCKET}/plain`]);
  const lines = [
    `${allRows.toLocaleString('en')} Inventory rows (4 CSV.gz files, the full field set) on a loopback s3rver: a current table of ${rows.toLocaleString('en')} tagged objects (${files.length} Parquet files) and 1% new objects, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'cpu'}).`,
    '',
    '| step | history (earlier runs) | seconds | manifest rows/s | to tag | unchanged | peak RSS MB | time vs plain plan |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    `| baseline: imgtag plan, no join (every image) | - | ${plain.seconds.toFixed(1)} | ${(allRows / plain.seconds).toFixed(0)} | ${plain.images} | - | ${plain.rssMb.toFixed(0)} | 1.00x |`,
  ];
  let history = 0;
  for (const depth of [1, 5, 20]) {
    await addHistory(depth - history);
    history = depth;
    const n = timed(['nightly', '--root', root, '--manifest', manifest, '--fleet-threshold', '0', '--job-queue', 'q', '--job-definition', 'd', '--dry-run']);
    lines.push(`| imgtag nightly, planning step (join against the current table) | ${depth} | ${n.seconds.toFixed(1)} | ${(allRows / n.seconds).toFixed(0)} | ${n.images} | ${n.unchanged} | ${n.rssMb.toFixed(0)} | ${(n.seconds / plain.seconds).toFixed(2)}x |`);
    // Undo this plan, so the next depth plans against the same table.
    const planned: string[] = [];
    const latest = JSON.parse(await readText(currentLayout.latest(root))) as { run: string };
    for await (const o of listObjects(`${latest.run}/`)) planned.push(o.uri);
    await deleteObjects([...planned, currentLayout.latest(root)]);
  }
  lines.push('', `Only current.json and the current table's files are read: the earlier runs are never listed. Reproduce: \`npm run build && node dist/scripts/bench-nightly.js ${currentRows}\`.`);
  const out = lines.join('\n');
  console.log(out);
  writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'Nightly planning against the current table', out);
} finally {
  await s3.close();
  fs.rmSync(work, { recursive: true, force: true });
}
