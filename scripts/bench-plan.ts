import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from '../src/demo/local-s3.js';
import { configureS3 } from '../src/storage/s3-client.js';
import { writeBytes } from '../src/storage/storage.js';
import { ROOT } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';
import { INVENTORY_FIELDS, writeInventoryCsvGz } from './inventory-fixture.js';

/**
 * `imgtag plan` on a generated S3 Inventory report (CSV.gz) of N rows on a loopback S3 server:
 * rows/s and peak RSS, beside a baseline in the same invocation: `zcat | wc -l` over the same
 * data files (reading and decompressing only). Usage: node dist/scripts/bench-plan.js [rows]
 */
const rows = Number(process.argv[2] ?? 10_000_000);
const files = 4;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-bench-plan-'));
const BUCKET = 'bench-inventory';

Object.assign(process.env, LOCAL_S3_CREDENTIALS);
const s3 = await startLocalS3({ buckets: [BUCKET] });
try {
  configureS3({ endpoint: s3.endpoint });
  const keys: string[] = [];
  for (let i = 0; i < files; i++) {
    const local = path.join(work, `data-${i}.csv.gz`);
    await writeInventoryCsvGz(local, BUCKET, i * Math.ceil(rows / files), Math.ceil(rows / files));
    keys.push(`inv/data/${i}.csv.gz`);
    await writeBytes(`s3://${BUCKET}/inv/data/${i}.csv.gz`, fs.readFileSync(local));
  }
  const manifest = { sourceBucket: BUCKET, destinationBucket: `arn:aws:s3:::${BUCKET}`, fileFormat: 'CSV', fileSchema: INVENTORY_FIELDS, files: keys.map((key) => ({ key })) };
  await writeBytes(`s3://${BUCKET}/inv/manifest.json`, JSON.stringify(manifest));
  const env = { ...process.env, AWS_ENDPOINT_URL: s3.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  const timed = (cmd: string[]) => {
    const start = performance.now();
    const res = spawnSync('/usr/bin/time', ['-f', '%M', ...cmd], { env, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    if (res.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${res.stderr}`);
    return { seconds: (performance.now() - start) / 1000, rssMb: Number(res.stderr.trim().split('\n').pop()) / 1024 };
  };
  const baseline = timed(['bash', '-c', `zcat ${path.join(work, 'data-*.csv.gz')} | wc -l`]);
  const plan = timed([process.execPath, path.join(ROOT, 'dist/cli/imgtag.js'), 'plan', '--manifest', `s3://${BUCKET}/inv/manifest.json`, '--run', path.join(work, 'run'), '--shard-size', '10000']);
  const table = [
    `${rows.toLocaleString('en')} Inventory rows in ${files} CSV.gz files with the full optional field set as S3 writes it (20 fields a line, 9 of them empty ""), on a loopback s3rver (which shares the cores), 80% images, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'cpu'}).`,
    '',
    '| step | seconds | rows/s | peak RSS MB |',
    '| --- | --- | --- | --- |',
    `| baseline: zcat \\| wc -l over the same files (local) | ${baseline.seconds.toFixed(1)} | ${(rows / baseline.seconds).toFixed(0)} | ${baseline.rssMb.toFixed(0)} |`,
    `| imgtag plan (S3 GETs, gunzip, CSV parse, URL-decode, filter, shard files) | ${plan.seconds.toFixed(1)} | ${(rows / plan.seconds).toFixed(0)} | ${plan.rssMb.toFixed(0)} |`,
    '',
    `imgtag plan runs at ${(baseline.seconds / plan.seconds).toFixed(2)}x the speed of just decompressing and counting the lines. Reproduce: \`npm run build && node dist/scripts/bench-plan.js ${rows}\`.`,
  ].join('\n');
  console.log(table);
  writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'Plan scale: S3 Inventory CSV.gz', table);
} finally {
  await s3.close();
  fs.rmSync(work, { recursive: true, force: true });
}
