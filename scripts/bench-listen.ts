import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from '../src/demo/local-s3.js';
import { configureS3 } from '../src/storage/s3-config.js';
import { listFolders, listObjects, readText, writeBytes } from '../src/storage/storage.js';
import { s3Notification } from '../test/helpers/s3-events.js';
import { startSqsServer, type SqsQueue, type SqsServer } from '../test/helpers/sqs-server.js';
import { cpuFlags, ROOT } from './bench-env.js';
import { writeBenchmarkSection } from './benchmarks-md.js';

/**
 * The stream against the batch path, in one invocation, on a loopback S3 server and SQS queue:
 * (1) sustained images/s: N uploads already on the queue, `imgtag listen --until-empty`, beside
 * `imgtag run` over the same N objects; (2) upload-to-row latency: M uploads at a steady rate
 * below the consumer's capacity while one listener runs, each object's latency from its upload
 * to the moment its batch was committed (p50, p95, max). Then a day at 1 M uploads, priced.
 * Usage: node dist/scripts/bench-listen.js [N images] [M images] [uploads/s]
 */
const n = Number(process.argv[2] ?? 2000);
const m = Number(process.argv[3] ?? 600);
const rate = Number(process.argv[4] ?? 20);
const BUCKET = 'bench-listen';
const images = path.resolve(process.env.IMGTAG_IMAGE_DIR ?? path.join(ROOT, '..', 'shared', 'images'), 'imagenet-samples');
const photos = fs.readdirSync(images).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => fs.readFileSync(path.join(images, f)));
const cli = path.join(ROOT, 'dist/cli/imgtag.js');

interface Proc {
  code: number | null;
  seconds: number;
  cpuSeconds: number;
  stderr: string;
}

/** Run the CLI; its CPU seconds (user + system, with its worker processes) from bash's `times`. */
function imgtag(args: string[], env: NodeJS.ProcessEnv): Promise<Proc> {
  return new Promise((resolve) => {
    const started = performance.now();
    const quoted = [process.execPath, cli, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    const child = spawn('bash', ['-c', `${quoted} 1>/dev/null; c=$?; times >&3; exit $c`], { env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let times = '';
    child.stderr!.on('data', (d) => (stderr += d));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d) => (times += d));
    child.on('close', (code) => {
      // `times`: the shell's, then its children's user and system time, as 0m1.234s.
      const secs = [...times.matchAll(/(\d+)m([\d.]+)s/g)].map((x) => Number(x[1]) * 60 + Number(x[2]));
      resolve({ code, seconds: (performance.now() - started) / 1000, cpuSeconds: (secs[2] ?? 0) + (secs[3] ?? 0), stderr });
    });
  });
}

async function upload(key: string, i: number): Promise<{ etag: string; size: number }> {
  const body = photos[i % photos.length]!;
  await writeBytes(`s3://${BUCKET}/${key}`, body);
  let etag = '';
  for await (const o of listObjects(`s3://${BUCKET}/${key}`)) if (o.uri.endsWith(key)) etag = o.etag!;
  return { etag, size: body.length };
}

const pct = (xs: number[], p: number) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

Object.assign(process.env, LOCAL_S3_CREDENTIALS);
const s3 = await startLocalS3({ buckets: [BUCKET] });
const sqs: SqsServer = await startSqsServer();
try {
  configureS3({ endpoint: s3.endpoint });
  const env = { ...process.env, AWS_ENDPOINT_URL: s3.endpoint, AWS_ENDPOINT_URL_SQS: sqs.endpoint, AWS_REGION: 'us-east-1' };
  const threads = String(os.availableParallelism());

  // (1) Throughput: the same N objects through run and through the queue.
  const queue: SqsQueue = sqs.createQueue('bench');
  for (let i = 0; i < n; i++) {
    const key = `burst/${i}.jpg`;
    const { etag, size } = await upload(key, i);
    sqs.send(queue, s3Notification('created', BUCKET, key, etag, size));
  }
  const run = `s3://${BUCKET}/runs/batch`;
  const planned = await imgtag(['plan', '--prefix', `s3://${BUCKET}/burst/`, '--run', run, '--shard-size', '500'], env);
  if (planned.code !== 0) throw new Error(planned.stderr);
  const batch = await imgtag(['run', '--run', run, '--workers', '1', '--threads', threads, '--no-compact', '--progress', 'none'], env);
  if (batch.code !== 0) throw new Error(batch.stderr);
  const streamed = await imgtag(['listen', '--root', `s3://${BUCKET}/burst-root`, '--queue-url', queue.url, '--threads', threads, '--batch-size', '100', '--batch-seconds', '5', '--until-empty', '--progress', 'json'], env);
  if (streamed.code !== 0 || queue.messages.length > 0) throw new Error(`listen left ${queue.messages.length} messages: ${streamed.stderr.slice(-2000)}`);
  if (process.env.BENCH_LISTEN_LOG) fs.writeFileSync(process.env.BENCH_LISTEN_LOG, streamed.stderr);

  // (2) Latency: M uploads at `rate` a second while one listener runs.
  const live = sqs.createQueue('live');
  const root = `s3://${BUCKET}/live-root`;
  const uploadedAt = new Map<string, number>();
  const listener = imgtag(['listen', '--root', root, '--queue-url', live.url, '--threads', threads, '--batch-size', '100', '--batch-seconds', '2', '--progress', 'json'], env);
  await new Promise((r) => setTimeout(r, 3000));
  const t0 = Date.now();
  for (let i = 0; i < m; i++) {
    const wait = t0 + (i * 1000) / rate - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const key = `live/${i}.jpg`;
    const { etag, size } = await upload(key, i);
    uploadedAt.set(`s3://${BUCKET}/${key}`, Date.now());
    sqs.send(live, s3Notification('created', BUCKET, key, etag, size));
  }
  while (live.messages.length > 0) await new Promise((r) => setTimeout(r, 200));
  // The listener is stopped as ECS stops a task; its batches' commit times are in its log.
  const [session] = await listFolders(`${root}/stream/`);
  const committedAt = new Map<number, number>();
  for await (const o of listObjects(`${session}commits/`)) {
    const marker = JSON.parse(await readText(o.uri)) as { shard: number; finishedAt: string };
    committedAt.set(marker.shard, Date.parse(marker.finishedAt));
  }
  const latencies: number[] = [];
  for (const [shard, at] of committedAt) {
    for (const line of (await readText(`${session}shards/shard-${String(shard).padStart(5, '0')}.jsonl`)).split('\n').filter(Boolean)) {
      const up = uploadedAt.get((JSON.parse(line) as { uri: string }).uri);
      if (up !== undefined) latencies.push((at - up) / 1000);
    }
  }
  spawn('pkill', ['-TERM', '-f', '--', `queue-url ${live.url}`]);
  await listener;

  const runRate = n / batch.seconds;
  const listenRate = n / streamed.seconds;
  const runCpu = (1000 * batch.cpuSeconds) / n;
  const listenCpu = (1000 * streamed.cpuSeconds) / n;
  // A day at 1 M uploads on Fargate (us-east-1: $0.04048 per vCPU-hour, $0.004445 per GB-hour; a 2 vCPU / 4 GB task).
  const perDay = 1_000_000;
  const cpuHours = (perDay * listenCpu) / 1000 / 3600;
  const fargate = cpuHours * 0.04048 + (cpuHours / 2) * 4 * 0.004445;
  const sqsRequests = perDay * (1 + 0.1 + 0.1 + 0.05); // S3's sends, receives of 10, batched deletes, visibility changes
  const table = [
    `Loopback s3rver and SQS, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'cpu'}; flags: ${cpuFlags()}), MobileNetV2 int8, ${n} ImageNet photos; CPU seconds are the process and its workers, user + system.`,
    '',
    '| path | images | seconds | images/s | CPU ms per image | vs run |',
    '| --- | --- | --- | --- | --- | --- |',
    `| \`imgtag run\` (1 worker, ${threads} threads), the baseline | ${n} | ${batch.seconds.toFixed(1)} | ${runRate.toFixed(1)} | ${runCpu.toFixed(2)} | 1.00x |`,
    `| \`imgtag listen --until-empty\` (batches of 100 from the queue) | ${n} | ${streamed.seconds.toFixed(1)} | ${listenRate.toFixed(1)} | ${listenCpu.toFixed(2)} | ${(listenRate / runRate).toFixed(2)}x the rate, ${(listenCpu / runCpu).toFixed(2)}x the CPU |`,
    '',
    `Upload to committed row, one listener (\`--batch-size 100 --batch-seconds 2\`), ${m} uploads at ${rate}/s: p50 **${pct(latencies, 50).toFixed(1)} s**, p95 **${pct(latencies, 95).toFixed(1)} s**, max ${pct(latencies, 100).toFixed(1)} s (${latencies.length} rows). A batch waits at most its 2 s, then tags; SQS long polls add nothing while messages come.`,
    '',
    `A day at 1 M uploads: ${(perDay * listenCpu / 1000 / 3600).toFixed(2)} CPU-hours at the CPU per image measured here (${(cpuHours / 2).toFixed(2)} task-hours of a 2 vCPU / 4 GB Fargate task, $${fargate.toFixed(2)}); SQS ~${(sqsRequests / 1e6).toFixed(2)} M requests ($${(sqsRequests * 0.4e-6).toFixed(2)}); S3 1 M GETs ($0.40) and ~${Math.ceil((perDay / 100) * 5 / 1000)} k PUTs of the stream's files ($${((perDay / 100) * 5 * 5e-6).toFixed(2)}): **~$${(fargate + sqsRequests * 0.4e-6 + 0.4 + (perDay / 100) * 5 * 5e-6).toFixed(2)} a day**, plus the scaled-to-zero service's idle cost (none). The nightly then tags none of them again. Reproduce: \`npm run build && node dist/scripts/bench-listen.js ${n} ${m} ${rate}\`.`,
  ].join('\n');
  console.log(table);
  writeBenchmarkSection(path.join(ROOT, 'BENCHMARKS.md'), 'Fresh uploads: the stream (imgtag listen) against run', table);
} finally {
  await sqs.close();
  await s3.close();
}
