import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from '../src/demo/local-s3.js';
import { configureS3 } from '../src/storage/s3-config.js';
import { writeBytes } from '../src/storage/storage.js';
import { startFaultProxy, type FaultOptions } from '../test/helpers/fault-proxy.js';
import { ROOT } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';

/**
 * A slow tail of GETs: the same run of N ImageNet photos over a loopback S3 server behind a proxy,
 * once with no faults (the baseline) and once with 5% of image GETs answered only after 5 s, as
 * S3's tail sometimes is. A slow object must hold up only itself. Usage: node dist/scripts/bench-stall.js [images]
 */
const n = Number(process.argv[2] ?? 500);
const BUCKET = 'bench-stall';
const images = path.resolve(process.env.IMGTAG_IMAGE_DIR ?? path.join(ROOT, '..', 'shared', 'images'), 'imagenet-samples');
const files = fs.readdirSync(images).filter((f) => /\.jpe?g$/i.test(f)).sort().slice(0, n);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-bench-stall-'));

Object.assign(process.env, LOCAL_S3_CREDENTIALS);
const s3 = await startLocalS3({ buckets: [BUCKET] });
try {
  configureS3({ endpoint: s3.endpoint });
  for (const f of files) await writeBytes(`s3://${BUCKET}/img/${f}`, fs.readFileSync(path.join(images, f)));
  const cli = path.join(ROOT, 'dist/cli/imgtag.js');
  const env = (endpoint: string) => ({ ...process.env, AWS_ENDPOINT_URL: endpoint });
  // Not spawnSync: the proxy runs in this process and must go on answering while the run works.
  const imgtag = async (args: string[], endpoint: string) => (await promisify(execFile)(process.execPath, [cli, ...args], { env: env(endpoint), encoding: 'utf8', maxBuffer: 1 << 26 })).stdout;
  const measure = async (name: string, faults: FaultOptions) => {
    const run = `s3://${BUCKET}/runs/${name}`;
    await imgtag(['plan', '--prefix', `s3://${BUCKET}/img/`, '--run', run, '--shard-size', '250'], s3.endpoint);
    const proxy = await startFaultProxy(s3.endpoint, faults);
    try {
      const start = performance.now();
      const out = await imgtag(['run', '--run', run, '--workers', '2', '--concurrency', '16', '--no-compact'], proxy.endpoint);
      const secs = (performance.now() - start) / 1000;
      if (!/0 unfinished/.test(out)) throw new Error(`run ${name} left shards unfinished:\n${out}`);
      return { secs, rate: files.length / secs, stalled: proxy.injected.stall };
    } finally {
      await proxy.close();
    }
  };
  const imageGet = (method: string, p: string) => method === 'GET' && p.includes('/img/');
  const base = await measure('baseline', { rate: 0 });
  const slow = await measure('stalls', { rate: 0.05, kinds: ['stall'], stallMs: 5000, only: imageGet, seed: 3 });
  const table = [
    `${files.length} ImageNet photos on a loopback s3rver behind a fault-injecting proxy; \`imgtag run --workers 2 --concurrency 16\`, MobileNetV2 int8, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'cpu'}).`,
    '',
    '| GETs | stalled GETs | seconds | images/s | vs no stalls |',
    '| --- | --- | --- | --- | --- |',
    `| baseline: every GET answered at once | 0 | ${base.secs.toFixed(1)} | ${base.rate.toFixed(1)} | 1.00x |`,
    `| 5% of image GETs answered after 5 s | ${slow.stalled} | ${slow.secs.toFixed(1)} | ${slow.rate.toFixed(1)} | ${(slow.rate / base.rate).toFixed(2)}x |`,
    '',
    `Images finish out of order within a shard (rows are put back in order at the write), and a GET with no answer after 500 ms gets another, and another 500 ms later (IMGTAG_HEDGE_MS, IMGTAG_HEDGE_READS), the first to answer wins: a slow GET holds up neither the images behind it nor its shard. With a single hedge, a hedge that was itself slow (as often as any GET) held its shard the whole 5 s: runs kept 0.52x to 0.98x. Image GETs go lean (IMGTAG_LEAN_GET), with the SDK behind them. Before, the stages kept manifest order and the same kind of test fell from 77 to 8.7 images/s (0.11x). Reproduce: \`npm run build && node dist/scripts/bench-stall.js ${n}\`.`,
  ].join('\n');
  console.log(table);
  writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'A slow tail of GETs: 5% stalled 5 s', table);
} finally {
  await s3.close();
  fs.rmSync(work, { recursive: true, force: true });
}
