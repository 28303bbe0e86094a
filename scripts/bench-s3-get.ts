import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from '../src/demo/local-s3.js';
import { configureS3 } from '../src/storage/s3-config.js';
import { writeBytes } from '../src/storage/storage.js';
import { ONE_CORE, ROOT } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';
import { WORKER_V8_FLAGS } from '../src/pool/worker-pool.js';

/**
 * CPU per image GET on imgtag's read path against a bare keep-alive `http.get` of the same objects:
 * the ImageNet samples (~110 KB each) on a loopback S3 server (s3rver) pinned to core 1, each
 * variant in its own process on core 0, thousands of GETs at the pipeline's fetch concurrency,
 * variants interleaved, median of the rounds. Variants: bare (unsigned http.get over a keep-alive
 * agent, chunks concatenated, in a process with nothing else loaded); and, in processes with the
 * pipeline's modules loaded as a worker has them: readObject (the store alone: lean GET, signing, counting); fetch
 * (the pipeline's fetchStage: deadline, hedging, readObject); the same fetchStage over the local
 * files (what an image costs to read without S3). With `--before [NAME=]DIST` (repeatable),
 * fetchStage and readObject of other builds (the dist folder of an earlier commit) too.
 * Usage: node dist/scripts/bench-s3-get.js [--before [NAME=]DIST ...] [gets per process] [rounds]
 */

type Variant = 'bare' | 'readObject' | 'fetch' | 'local';

/** What a measuring process prints: CPU ms per GET over the measured GETs (after a warm-up). */
interface Sample {
  cpuMsPerGet: number;
  gets: number;
  wallMs: number;
}

/** Fetch concurrency per worker (DEFAULTS.concurrency): what the pipeline keeps in flight. */
const CONCURRENCY = 16;
const WARM_UP = 500;

/** `n` calls of `get(i)`, `concurrency` at once; process CPU over them. */
async function measure(n: number, concurrency: number, get: (i: number) => Promise<number>): Promise<Sample> {
  let next = 0;
  let bytes = 0;
  const loop = async (count: number) => {
    const lanes = Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) bytes += await get(i);
    });
    await Promise.all(lanes);
  };
  await loop(WARM_UP);
  next = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  await loop(n);
  const used = process.cpuUsage(cpu);
  if (bytes === 0) throw new Error('nothing read');
  return { cpuMsPerGet: (used.user + used.system) / 1000 / n, gets: n, wallMs: performance.now() - start };
}

/** One variant in this process (core 0): `dist` is the build whose read path is measured. */
async function child(variant: Variant, dist: string, endpoint: string, bucket: string, dir: string, n: number): Promise<Sample> {
  const files = fs.readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).sort();
  const key = (i: number) => `img/${files[i % files.length]}`;
  const url = new URL(endpoint);
  if (variant === 'bare') {
    const agent = new http.Agent({ keepAlive: true });
    const get = (i: number) =>
      new Promise<number>((resolve, reject) => {
        http
          .get({ host: url.hostname, port: url.port, path: `/${bucket}/${key(i)}`, agent }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).length) : reject(new Error(`HTTP ${res.statusCode}`))));
            res.on('error', reject);
          })
          .on('error', reject);
      });
    return measure(n, CONCURRENCY, get);
  }
  const load = async <T>(rel: string): Promise<T> => (await import(pathToFileURL(path.join(dist, rel)).href)) as T;
  const { configureS3: configure, newCounter } = await load<typeof import('../src/storage/s3-config.js')>('src/storage/s3-config.js');
  configure({ endpoint });
  const counter = newCounter();
  // The pipeline's modules in every imgtag variant, as in a worker: a larger heap makes each full GC dearer.
  const { fetchStage } = await load<typeof import('../src/pipeline/tag-rows.js')>('src/pipeline/tag-rows.js');
  if (variant === 'readObject') {
    const { readObject } = await load<typeof import('../src/storage/storage.js')>('src/storage/storage.js');
    return measure(n, CONCURRENCY, async (i) => (await readObject(`s3://${bucket}/${key(i)}`, { maxBytes: 256 * 2 ** 20, counter })).body.length);
  }
  const { StageClock } = await load<typeof import('../src/pipeline/stage-clock.js')>('src/pipeline/stage-clock.js');
  const models = { classifiers: [] } as unknown as Parameters<typeof fetchStage>[0];
  const limits = { fetch: CONCURRENCY, maxBytes: 256 * 2 ** 20, decode: 2, batchSize: 16, infer: 1 };
  const step = fetchStage(models, limits, new StageClock(), { bytes: 0, decodes: 0 }, counter);
  const uri = (i: number) => (variant === 'local' ? path.join(dir, files[i % files.length]!) : `s3://${bucket}/${key(i)}`);
  return measure(n, CONCURRENCY, async (i) => {
    const got = await step.run({ entry: { uri: uri(i) }, at: i });
    if (!got.body) throw new Error(`${uri(i)}: ${JSON.stringify(got.row.error)}`);
    return got.body.length;
  });
}

if (process.argv[2] === '--child') {
  const [variant, dist, endpoint, bucket, dir, n] = process.argv.slice(3) as [Variant, string, string, string, string, string];
  Object.assign(process.env, LOCAL_S3_CREDENTIALS);
  console.log(JSON.stringify(await child(variant, dist, endpoint, bucket, dir, Number(n))));
  process.exit(0);
}

const args = process.argv.slice(2);
/** --before [NAME=]DIST, as often as wanted: the read path of other builds too. */
const befores: { name: string; dist: string }[] = [];
for (let at = args.indexOf('--before'); at >= 0; at = args.indexOf('--before')) {
  const spec = args.splice(at, 2)[1]!;
  const eq = spec.indexOf('=');
  befores.push(eq > 0 ? { name: spec.slice(0, eq), dist: path.resolve(spec.slice(eq + 1)) } : { name: 'before', dist: path.resolve(spec) });
}
const GETS = Number(args[0] ?? 3000);
const ROUNDS = Number(args[1] ?? 5);
const BUCKET = 'bench-s3-get';
const dir = path.resolve(process.env.IMGTAG_IMAGE_DIR ?? path.join(ROOT, '..', 'shared', 'images'), 'imagenet-samples');
const files = fs.readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).sort();
const dist = path.join(ROOT, 'dist');
const cores = os.availableParallelism();

interface Row {
  name: string;
  variant: Variant;
  dist: string;
}
const rows: Row[] = [
  { name: 'bare keep-alive `http.get`, chunks concatenated (baseline)', variant: 'bare', dist },
  ...befores.flatMap(({ name, dist: d }) => [
    { name: `${name}: \`readObject\` alone (lean GET)`, variant: 'readObject' as const, dist: d },
    { name: `${name}: imgtag's read path (\`fetchStage\`: deadline, hedging, \`readObject\`)`, variant: 'fetch' as const, dist: d },
  ]),
  { name: '`readObject` alone (lean GET)', variant: 'readObject', dist },
  { name: "imgtag's read path (`fetchStage`: deadline, hedging, `readObject`)", variant: 'fetch', dist },
  { name: 'the same `fetchStage` over local files (no S3)', variant: 'local', dist },
];

Object.assign(process.env, LOCAL_S3_CREDENTIALS);
const s3 = await startLocalS3({ buckets: [BUCKET] });
try {
  configureS3({ endpoint: s3.endpoint });
  for (const f of files) await writeBytes(`s3://${BUCKET}/img/${f}`, fs.readFileSync(path.join(dir, f)));
  // The server on its own core, as S3 is across a network: only the client's CPU is measured.
  if (cores >= 2) execFileSync('taskset', ['-a', '-pc', '1', String(s3.pid)], { stdio: 'ignore' });
  const samples = rows.map(() => [] as Sample[]);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, row] of rows.entries()) {
      const argv = [...ONE_CORE, process.execPath, ...WORKER_V8_FLAGS, path.join(dist, 'scripts/bench-s3-get.js'), '--child', row.variant, row.dist, s3.endpoint, BUCKET, dir, String(GETS)];
      const res = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, UV_THREADPOOL_SIZE: '1' } });
      if (res.status !== 0) throw new Error(`${row.variant} (${row.dist}) exited ${res.status}: ${res.stderr.slice(-2000)}`);
      samples[i]!.push(JSON.parse(res.stdout.trim().split('\n').pop()!) as Sample);
      process.stderr.write(`round ${r + 1}/${ROUNDS} ${row.name}: ${samples[i]!.at(-1)!.cpuMsPerGet.toFixed(3)} ms\n`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ms = samples.map((s) => median(s.map((x) => x.cpuMsPerGet)));
  const bare = ms[0]!;
  const localMs = ms[rows.length - 1]!;
  const machine = `${os.cpus()[0]?.model ?? 'cpu'}, ${cores} cores`;
  const table = [
    `${machine}. ${files.length} ImageNet samples (~${Math.round(files.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0) / files.length / 1024)} KB each) on s3rver over loopback HTTP, the server pinned to core 1; each variant a process on core 0 (\`taskset -c 0\`, UV_THREADPOOL_SIZE=1, a worker's V8 flags), ${GETS} GETs after ${WARM_UP} to warm up, ${CONCURRENCY} in flight (the default fetch concurrency); process CPU (user + system) per GET, median of ${ROUNDS} interleaved rounds.`,
    '',
    '| read path | CPU per GET | / bare GET | over local files: extra per GET |',
    '| --- | --- | --- | --- |',
    ...rows.map((row, i) => {
      const extra = row.variant === 'local' || row.variant === 'bare' ? '' : `${(ms[i]! - localMs).toFixed(3)} ms`;
      return `| ${row.name} | ${ms[i]!.toFixed(3)} ms | ${(ms[i]! / bare).toFixed(2)}x | ${extra} |`;
    }),
    '',
    `Reproduce: \`npm run build && node dist/scripts/bench-s3-get.js${befores.map((b) => ` --before '${b.name}=DIST'`).join('')}\` (\`--before NAME=DIST\` adds the rows of another build: an earlier commit built into DIST).`,
  ].join('\n');
  console.log(table);
  writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'S3 reads: CPU per GET against a bare keep-alive GET', table);
} finally {
  await s3.close();
}
