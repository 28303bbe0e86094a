import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from '../src/demo/local-s3.js';
import type { CommitMarker } from '../src/rundir/commits.js';
import { configureS3 } from '../src/storage/s3-config.js';
import { listObjects, readText, writeBytes } from '../src/storage/storage.js';
import { ONE_CORE, ROOT, seconds } from './bench-env.js';
import { median, steadyCpuPerImage } from '../src/tune/search.js';
import { writeBenchmarkSection } from './benchmarks-md.js';

/**
 * End to end: `imgtag run` over a loopback S3 server (s3rver) on every core, against the ideal rate
 * cores / (decode seconds per image + inference seconds per image), each measured alone on one core
 * in this invocation. Then memory: the same run on 1x and on 10x the images (the same photos under
 * new keys); peak RSS must stay flat. Usage: node dist/scripts/bench-run.js [image-dir] [times]
 */
const CLI = path.join(ROOT, 'dist/cli/imgtag.js');
const images = process.argv[2] ?? path.resolve(ROOT, '../shared/images');
const TIMES = Number(process.argv[3] ?? 10);
const BUCKET = 'bench-run';
const BATCH = 16;
const cores = os.availableParallelism();
const files = ['imagenet-samples', 'large'].flatMap((d) =>
  fs.readdirSync(path.join(images, d)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort().map((f) => path.join(images, d, f)),
);


/** Decode alone and inference alone, one core each, on these images: seconds per image. */
function perImageCosts(): { decode: number; infer: number } {
  const env = { ...process.env, UV_THREADPOOL_SIZE: '1' };
  const decode = seconds([...ONE_CORE, process.execPath, path.join(ROOT, 'dist/scripts/bench/imgtag-decode.js'), ...files], env) / files.length;
  const n = 512;
  const infer = seconds([...ONE_CORE, process.execPath, path.join(ROOT, 'dist/scripts/bench/imgtag-infer.js'), String(BATCH), String(n)], env) / n;
  return { decode, infer };
}

async function upload(prefix: string, copies: number): Promise<string> {
  const uris: string[] = [];
  for (let c = 0; c < copies; c++) {
    for (const f of files) {
      const uri = `s3://${BUCKET}/${prefix}/copy-${c}/${path.basename(f)}`;
      await writeBytes(uri, fs.readFileSync(f));
      uris.push(uri);
    }
  }
  await writeBytes(`s3://${BUCKET}/${prefix}/keys.txt`, uris.join('\n'));
  return `s3://${BUCKET}/${prefix}/keys.txt`;
}

interface Measured {
  images: number;
  seconds: number;
  rate: number;
  /** CPU seconds of the imgtag processes (user + system) and of the S3 server, over the run. */
  cpu: number;
  serverCpu: number;
  /** Largest RSS of any one process of the run (GNU time over the process tree). */
  peakRssMb: number;
  workerRssMb: number;
  /** CPU seconds per image at steady state (workers' commit-marker stamps: start-up and first shard left out). */
  steadyCpu?: number;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function processCpu(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** Run on core 0 alone (defaults for one core), with the S3 server moved to core 1: the client's own CPU, as with S3 across a network. */
interface RunOpts {
  oneCore?: boolean;
  /** Images per shard (default: about 20 shards). */
  shardSize?: number;
}

async function timedRun(name: string, keys: string, env: NodeJS.ProcessEnv, serverPid: number, opts: RunOpts = {}): Promise<Measured> {
  const run = `s3://${BUCKET}/runs/${name}`;
  // About 20 shards: both workers busy to the end even on the 1x run (shards of 50 there), while the
  // per-shard requests (lease, marker, Parquet) weigh per image about as little as in real plans'
  // shards of 1,000 or more.
  const lines = (await readText(keys)).split('\n').filter(Boolean).length;
  const shardSize = opts.shardSize ?? Math.max(50, Math.ceil(lines / 20));
  const plan = spawnSync(process.execPath, [CLI, 'plan', '--manifest', keys, '--run', run, '--shard-size', String(shardSize)], { env, encoding: 'utf8' });
  if (plan.status !== 0) throw new Error(`plan ${name}: ${plan.stderr}`);
  const serverBefore = processCpu(serverPid);
  const start = performance.now();
  const command = opts.oneCore ? [...ONE_CORE, process.execPath, CLI, 'run', '--run', run] : [process.execPath, CLI, 'run', '--run', run, '--workers', String(cores), '--batch-size', String(BATCH)];
  const args = ['-f', '%U %S %M', ...command];
  const res = spawnSync('/usr/bin/time', args, { env, encoding: 'utf8' });
  const wall = (performance.now() - start) / 1000;
  const serverCpu = processCpu(serverPid) - serverBefore;
  if (res.status !== 0) throw new Error(`run ${name} exited ${res.status}: ${res.stderr.slice(-2000)}`);
  const markers: CommitMarker[] = [];
  for await (const o of listObjects(`${run}/commits/`)) markers.push(JSON.parse(await readText(o.uri)));
  const imagesDone = markers.reduce((s, m) => s + m.rows, 0);
  const [user, sys, maxKb] = res.stderr.trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number];
  return { images: imagesDone, seconds: wall, rate: imagesDone / wall, cpu: user + sys, serverCpu, peakRssMb: maxKb / 1024, workerRssMb: Math.max(...markers.map((m) => m.maxRssMb)), steadyCpu: steadyCpuPerImage(markers) };
}

/** A key list of the photos on local disk, `times` over. */
function localKeysFor(times: number): string {
  const keys = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-bench-run-')), 'keys.txt');
  fs.writeFileSync(keys, Array.from({ length: times }, () => files.join('\n')).join('\n'));
  return keys;
}

const PINNED_TIMES = 8;
/** Half the default shard: per-shard requests (lease, shard file, Parquet, marker) weigh per image as on a fleet, and steady state has shards to measure. */
const PINNED_SHARD = 500;

/** CPU per image over S3 and from local files with imgtag on one core and the server on another: medians of three pairs. */
async function pinnedClientCpu(env: NodeJS.ProcessEnv, serverPid: number, s3Keys: string, localKeys: string): Promise<{ s3: number; local: number; s3Steady: number; localSteady: number }> {
  execFileSync('taskset', ['-a', '-pc', '1', String(serverPid)], { stdio: 'ignore' });
  try {
    const s3: number[] = [];
    const local: number[] = [];
    const s3Steady: number[] = [];
    const localSteady: number[] = [];
    for (let i = 0; i < 3; i++) {
      const a = await timedRun(`pinned-s3-${i}`, s3Keys, env, serverPid, { oneCore: true, shardSize: PINNED_SHARD });
      const b = await timedRun(`pinned-local-${i}`, localKeys, env, serverPid, { oneCore: true, shardSize: PINNED_SHARD });
      s3.push(a.cpu / a.images);
      local.push(b.cpu / b.images);
      s3Steady.push(a.steadyCpu ?? NaN);
      localSteady.push(b.steadyCpu ?? NaN);
    }
    return { s3: median(s3), local: median(local), s3Steady: median(s3Steady), localSteady: median(localSteady) };
  } finally {
    execFileSync('taskset', ['-a', '-pc', `0-${cores - 1}`, String(serverPid)], { stdio: 'ignore' });
  }
}

Object.assign(process.env, LOCAL_S3_CREDENTIALS);
const s3 = await startLocalS3({ buckets: [BUCKET] });
try {
  configureS3({ endpoint: s3.endpoint });
  const env = { ...process.env, AWS_ENDPOINT_URL: s3.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  const costs = perImageCosts();
  const ideal = cores / (costs.decode + costs.infer);
  const one = await timedRun('x1', await upload('x1', 1), env, s3.pid);
  const many = await timedRun(`x${TIMES}`, await upload(`x${TIMES}`, TIMES), env, s3.pid);
  // The same images from local files: what the pipeline does without fetching over HTTP.
  const localKeys = localKeysFor(TIMES);
  const local = await timedRun(`local-x${TIMES}`, localKeys, env, s3.pid);
  // The client's CPU alone: imgtag on core 0, the server on core 1, so neither slows the other's caches.
  const pinned = cores >= 2 ? await pinnedClientCpu(env, s3.pid, await upload('pinned', PINNED_TIMES), localKeysFor(PINNED_TIMES)) : undefined;
  const perImage = (m: Measured, cpu: number) => `${((cpu / m.images) * 1000).toFixed(1)} ms`;
  const busy = (m: Measured) => `${(((m.cpu + m.serverCpu) / (m.seconds * cores)) * 100).toFixed(0)}%`;
  const machine = `${os.cpus()[0]?.model ?? 'cpu'}, ${cores} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
  const e2e = [
    `${machine}. ${files.length} images (${path.relative(ROOT, images)}: ImageNet samples and 3000 px photos) on s3rver over loopback HTTP; \`imgtag run --workers ${cores} --batch-size ${BATCH}\`, MobileNetV2 int8.`,
    '',
    '| measure | value |',
    '| --- | --- |',
    `| decode alone, one core | ${(1 / costs.decode).toFixed(0)} images/s (${(costs.decode * 1000).toFixed(2)} ms/image) |`,
    `| inference alone, one core, batch ${BATCH} | ${(1 / costs.infer).toFixed(0)} images/s (${(costs.infer * 1000).toFixed(2)} ms/image) |`,
    `| ideal: ${cores} cores / (decode + inference) | ${ideal.toFixed(1)} images/s |`,
    `| imgtag run, ${one.images} images, end to end (wall time of the command, start-up included) | ${one.rate.toFixed(1)} images/s |`,
    `| imgtag run, ${many.images} images, end to end | ${many.rate.toFixed(1)} images/s |`,
    `| **pipeline efficiency** (end to end / ideal), ${one.images} / ${many.images} images | **${(one.rate / ideal).toFixed(2)} / ${(many.rate / ideal).toFixed(2)}** |`,
    `| the same ${local.images} images from local files, no S3 (baseline for the cost of fetching) | ${local.rate.toFixed(1)} images/s, efficiency **${(local.rate / ideal).toFixed(2)}** |`,
    `| where the CPU went, ${many.images} images: imgtag processes, per image | ${perImage(many, many.cpu)} (decode + inference alone: ${((costs.decode + costs.infer) * 1000).toFixed(1)} ms) |`,
    `| the loopback S3 server (s3rver, same machine), per image | ${perImage(many, many.serverCpu)} |`,
    `| imgtag's CPU per image over S3 / from local files, s3rver sharing both cores | **${(many.cpu / many.images / (local.cpu / local.images)).toFixed(2)}x** (${perImage(many, many.cpu)} / ${perImage(local, local.cpu)}) |`,
    `| cores busy (imgtag + s3rver CPU / wall x cores) | ${busy(many)} |`,
    ...(pinned
      ? [
          `| **the S3 client's own CPU**: imgtag alone on core 0, s3rver on core 1, ${PINNED_TIMES * files.length} images in shards of ${PINNED_SHARD}, median of 3: over S3 / from local files at steady state (target <= 1.05x) | **${(pinned.s3Steady / pinned.localSteady).toFixed(2)}x** (${(pinned.s3Steady * 1000).toFixed(2)} ms / ${(pinned.localSteady * 1000).toFixed(2)} ms) |`,
          `| the same, whole command (start-up included) | ${(pinned.s3 / pinned.local).toFixed(2)}x (${(pinned.s3 * 1000).toFixed(2)} ms / ${(pinned.local * 1000).toFixed(2)} ms) |`,
        ]
      : []),
    '',
    'Reproduce: `npm run build && node dist/scripts/bench-run.js`.',
  ].join('\n');
  const mem = [
    `${machine}. The same photos, 1x and ${TIMES}x under new keys, on s3rver; \`imgtag run --workers ${cores}\`, about 20 shards (at least 50 images each).`,
    '',
    '| images | seconds | images/s | peak RSS of the largest process, MB | peak RSS of a worker (commit markers), MB |',
    '| --- | --- | --- | --- | --- |',
    `| ${one.images} (1x) | ${one.seconds.toFixed(1)} | ${one.rate.toFixed(1)} | ${one.peakRssMb.toFixed(0)} | ${one.workerRssMb} |`,
    `| ${many.images} (${TIMES}x) | ${many.seconds.toFixed(1)} | ${many.rate.toFixed(1)} | ${many.peakRssMb.toFixed(0)} | ${many.workerRssMb} |`,
    '',
    `Peak RSS at ${TIMES}x / 1x: **${(many.peakRssMb / one.peakRssMb).toFixed(2)}x** (target: within 1.10x). Reproduce: \`npm run build && node dist/scripts/bench-run.js\`.`,
  ].join('\n');
  console.log(`${e2e}\n\n${mem}`);
  writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'End to end over loopback S3: pipeline efficiency', e2e);
  writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'Memory: 1x and 10x the images', mem);
} finally {
  await s3.close();
}
