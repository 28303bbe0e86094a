import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from '../src/demo/local-s3.js';
import { configureS3 } from '../src/storage/s3-config.js';
import { writeBytes } from '../src/storage/storage.js';
import { ROOT, cpuFlags } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';
import { INVENTORY_FIELDS, SHORT_INVENTORY_FIELDS, writeInventoryCsvGz, type FieldSet, type KeyStyle } from './inventory-fixture.js';

/**
 * `imgtag plan` on generated S3 Inventory reports (CSV.gz) of N rows on a loopback S3 server: rows/s
 * and peak RSS, each beside a baseline in the same invocation, `zcat | wc -l` over the same data
 * files (reading and decompressing only), for three kinds of report: short lines (size, date, ETag,
 * class) with no key URL-encoded, the same with every key encoded (a space, accents, brackets, as
 * S3 writes user uploads), and the full optional field set with 1 key in 10 encoded.
 * Usage: node dist/scripts/bench-plan.js [rows]
 */
const rows = Number(process.argv[2] ?? 2_000_000);
const files = 4;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-bench-plan-'));
const BUCKET = 'bench-inventory';
const cases: { name: string; keys: KeyStyle; fieldSet: FieldSet }[] = [
  { name: 'short lines, no key encoded', keys: 'plain', fieldSet: 'short' },
  { name: 'short lines, every key encoded', keys: 'encoded', fieldSet: 'short' },
  { name: 'full field set, 1 key in 10 encoded', keys: 'mixed', fieldSet: 'full' },
];

Object.assign(process.env, LOCAL_S3_CREDENTIALS);
const s3 = await startLocalS3({ buckets: [BUCKET] });
try {
  configureS3({ endpoint: s3.endpoint });
  const env = { ...process.env, AWS_ENDPOINT_URL: s3.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  const timed = (cmd: string[], extra: NodeJS.ProcessEnv = {}) => {
    const start = performance.now();
    const res = spawnSync('/usr/bin/time', ['-f', '%M', ...cmd], { env: { ...env, ...extra }, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    if (res.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${res.stderr}`);
    return { seconds: (performance.now() - start) / 1000, rssMb: Number(res.stderr.trim().split('\n').pop()) / 1024 };
  };
  const lines: string[] = [];
  const notes: string[] = [];
  for (const [c, { name, keys: style, fieldSet }] of cases.entries()) {
    const dir = path.join(work, `case-${c}`);
    fs.mkdirSync(dir);
    const keys: string[] = [];
    for (let i = 0; i < files; i++) {
      const local = path.join(dir, `data-${i}.csv.gz`);
      await writeInventoryCsvGz(local, BUCKET, i * Math.ceil(rows / files), Math.ceil(rows / files), style, fieldSet);
      keys.push(`inv-${c}/data/${i}.csv.gz`);
      await writeBytes(`s3://${BUCKET}/inv-${c}/data/${i}.csv.gz`, fs.readFileSync(local));
    }
    const fileSchema = fieldSet === 'short' ? SHORT_INVENTORY_FIELDS : INVENTORY_FIELDS;
    const manifest = { sourceBucket: BUCKET, destinationBucket: `arn:aws:s3:::${BUCKET}`, fileFormat: 'CSV', fileSchema, files: keys.map((key) => ({ key })) };
    await writeBytes(`s3://${BUCKET}/inv-${c}/manifest.json`, JSON.stringify(manifest));
    // The uploads written back to disk first: measured at steady state, not against writeback.
    spawnSync('sync');
    const gz = (fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0) / 2 ** 20).toFixed(0);
    // Three rounds, each baseline right before its plan: the median of each, on a noisy shared machine.
    const rounds = [0, 1, 2].map((r) => {
      const baseline = timed(['bash', '-c', `zcat ${path.join(dir, 'data-*.csv.gz')} | wc -l`]);
      const planCmd = (run: string) => [process.execPath, path.join(ROOT, 'dist/cli/imgtag.js'), 'plan', '--manifest', `s3://${BUCKET}/inv-${c}/manifest.json`, '--run', path.join(dir, run), '--shard-size', '10000'];
      const plan = timed(planCmd(`run-${r}`));
      const js = timed(planCmd(`run-js-${r}`), { IMGTAG_PLAN_NATIVE: '0' });
      return { baseline, plan, js };
    });
    const median = <T>(xs: T[], by: (x: T) => number) => [...xs].sort((a, b) => by(a) - by(b))[1]!;
    const baseline = median(rounds.map((r) => r.baseline), (x) => x.seconds);
    const plan = median(rounds.map((r) => r.plan), (x) => x.seconds);
    const js = median(rounds.map((r) => r.js), (x) => x.seconds);
    lines.push(
      `| ${name} (${gz} MB gzip) | baseline: zcat \\| wc -l over the same files (local) | ${baseline.seconds.toFixed(2)} | ${(rows / baseline.seconds).toFixed(0)} | ${baseline.rssMb.toFixed(0)} | 1.00x |`,
      `| ${name} | imgtag plan (S3 GETs, gunzip, CSV parse, URL-decode, filter, shard files) | ${plan.seconds.toFixed(2)} | ${(rows / plan.seconds).toFixed(0)} | ${plan.rssMb.toFixed(0)} | ${(baseline.seconds / plan.seconds).toFixed(2)}x |`,
      `| ${name} | the same, lines read in JavaScript (IMGTAG_PLAN_NATIVE=0: no C compiler at install) | ${js.seconds.toFixed(2)} | ${(rows / js.seconds).toFixed(0)} | ${js.rssMb.toFixed(0)} | ${(baseline.seconds / js.seconds).toFixed(2)}x |`,
    );
    notes.push(`${name}: ${(baseline.seconds / plan.seconds).toFixed(2)}x`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const table = [
    `${rows.toLocaleString('en')} Inventory rows a case (median of 3 rounds, each zcat right before its plans), in ${files} CSV.gz files as S3 writes them (every field quoted), on a loopback s3rver (which shares the cores), 80% images, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'cpu'}). Short lines: \`${SHORT_INVENTORY_FIELDS}\`; full: all 20 optional fields, 9 of them empty. CPU flags: ${cpuFlags()}.`,
    '',
    '| report | step | seconds | rows/s | peak RSS MB | vs zcat |',
    '| --- | --- | --- | --- | --- | --- |',
    ...lines,
    '',
    `imgtag plan against just decompressing and counting the lines: ${notes.join('; ')}. Reproduce: \`npm run build && node dist/scripts/bench-plan.js ${rows}\`.`,
  ].join('\n');
  console.log(table);
  writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'Plan scale: S3 Inventory CSV.gz', table);
} finally {
  await s3.close();
  fs.rmSync(work, { recursive: true, force: true });
}
