import os from 'node:os';
import { UserError } from '../errors.js';
import { trustedShards, type CommitMarker } from '../rundir/commits.js';
import { imagesIn, loadPlan, planIdentity } from '../rundir/plan-file.js';
import { compactRun, type CompactOptions, type CompactOutcome } from '../compact/compact.js';
import type { Device } from '../defaults.js';
import { DEFAULTS, modelsOrDefault } from '../defaults.js';
import type { S3Options } from '../storage/s3-config.js';
import type { ShardOptions, ShardOutcome } from '../pipeline/run-shard.js';
import { runPool } from '../pool/worker-pool.js';
import { jpegFastPathProblem } from '../decode/jpeg-fast.js';
import { heicFastPathProblem } from '../decode/heic-native.js';
import type { Progress } from '../pipeline/stage-limits.js';
import { type RunStop } from '../pool/stop.js';
import { leaseTtlMs } from '../lease/lease.js';
import { settings } from '../settings.js';
import type { WorkerInit } from '../pipeline/worker-init.js';

export interface RunOptions extends ShardOptions {
  run: string;
  /** Models (built-in names, paths or s3:// URIs); the first one's columns have no suffix. */
  models?: string[];
  /** Only these shards (one fleet task's share); otherwise every shard not yet committed. */
  shards?: number[];
  /** Worker processes (default: defaultWorkers). */
  workers?: number;
  threads?: number;
  device?: Device;
  s3: S3Options;
  /** Merge the run into its dataset once every shard is committed (default on; false: leave it to `imgtag compact`). */
  compact?: CompactOptions | false;
  /** SIGTERM/SIGINT: stop gracefully (see stop.ts). */
  stop?: RunStop;
}

export interface RunSummary {
  shards: number;
  tagged: number;
  skipped: number;
  /** Shards another worker held a lease on: left to it, and counted unfinished (exit 3) too. */
  leased: number;
  failedShards: { shard: number; message: string }[];
  images: number;
  ok: number;
  failures: number;
  bytes: number;
  seconds: number;
  markers: CommitMarker[];
  /** The signal that stopped this run before it had done every shard. */
  interrupted?: string;
  /** What became of compaction, when this invocation tried it. */
  compaction?: CompactOutcome;
}

export type RunEvent =
  | { event: 'start'; run: string; shards: number; todo: number; images: number; workers: number; threads: number; batchSize: number; concurrency: number }
  /** Images finished within shards (tagged or error rows), as they finish. */
  | ({ event: 'progress' } & Progress)
  | { event: 'shard'; shard: number; status: ShardOutcome['status']; rows?: number; failures?: number; seconds?: number }
  | { event: 'shard-failed'; shard: number; message: string }
  /** Said once at the start: something runs slower than it could (the JPEG fast path is not built). */
  | { event: 'notice'; message: string }
  /** SIGTERM/SIGINT asked the run to stop: within `seconds` (0: at once, a second signal). */
  | { event: 'stopping'; signal: string; seconds: number }
  | { event: 'compacted'; files: number; rows: number; bytes: number; seconds: number };

/**
 * One single-threaded worker process per core on CPU: each decodes and infers on its own core, with
 * no thread of one stage waiting on another's (1.2x one worker with all the threads, BENCHMARKS.md).
 * On a GPU the device does the inference: one process feeds it, its threads decoding.
 */
export function defaultWorkers(device: Device): number {
  return settings().workers ?? (device === 'cpu' ? os.availableParallelism() : 1);
}

/** Which shards this invocation must do: the given ones, or all without a commit marker. */
async function shardsToDo(opts: RunOptions, total: number): Promise<number[]> {
  if (opts.shards !== undefined) {
    const bad = opts.shards.find((s) => !Number.isInteger(s) || s < 0 || s >= total);
    if (bad !== undefined) throw new UserError(`--shard ${bad} is out of range: the plan has shards 0..${total - 1}`);
    return opts.shards;
  }
  const done = await trustedShards(opts.run);
  return Array.from({ length: total }, (_, i) => i).filter((i) => !done.has(i));
}

/** Why a shard held by another lease is left unfinished, and when running again will finish it. */
export const heldMessage = () => `held by another worker's lease (a live worker, or a dead one's until its ${Math.round(leaseTtlMs() / 1000)} s lease expires): run the same command again later`;

export async function runPlan(opts: RunOptions, log: (e: RunEvent) => void = () => undefined): Promise<RunSummary> {
  const started = performance.now();
  const plan = await loadPlan(opts.run);
  const todo = await shardsToDo(opts, plan.shards);
  const device = opts.device ?? DEFAULTS.device;
  const workers = Math.max(1, Math.min(opts.workers ?? defaultWorkers(device), todo.length));
  const cores = os.availableParallelism();
  const init: WorkerInit = {
    run: opts.run,
    runId: planIdentity(opts.run, plan).id,
    models: modelsOrDefault(opts.models),
    shard: { batchSize: opts.batchSize, concurrency: opts.concurrency, maxPixels: opts.maxPixels, maxBytes: opts.maxBytes },
    threads: opts.threads ?? Math.max(1, Math.floor(cores / workers)),
    device,
    s3: opts.s3,
    stopSeconds: opts.stop?.graceSeconds ?? DEFAULTS.stopSeconds,
    settings: settings(),
  };
  const summary: RunSummary = {
    shards: plan.shards,
    tagged: 0,
    // Shards asked for by number are counted as they answer; the others are not this invocation's.
    skipped: opts.shards === undefined ? plan.shards - todo.length : 0,
    leased: 0,
    failedShards: [],
    images: 0,
    ok: 0,
    failures: 0,
    bytes: 0,
    seconds: 0,
    markers: [],
  };
  const onDone = (shard: number, outcome: ShardOutcome) => {
    if (outcome.status === 'leased') {
      // Not done by this invocation, nor known to be done by anyone: the holder may be a dead
      // worker whose lease has not yet expired. Exit 0 must mean every asked shard has its rows.
      summary.leased += 1;
      summary.failedShards.push({ shard, message: heldMessage() });
      return log({ event: 'shard', shard, status: outcome.status });
    }
    const { marker } = outcome;
    if (outcome.status === 'committed') summary.skipped += 1;
    else {
      summary.tagged += 1;
      summary.images += marker.rows;
      summary.ok += marker.ok;
      summary.failures += marker.failures;
      summary.bytes += marker.bytes;
      summary.markers.push(marker);
    }
    log({ event: 'shard', shard, status: outcome.status, rows: marker.rows, failures: marker.failures, seconds: marker.seconds });
  };
  const onFailed = (shard: number, message: string) => {
    if (shard < 0) throw new UserError(message);
    summary.failedShards.push({ shard, message });
    log({ event: 'shard-failed', shard, message });
  };
  const images = imagesIn(plan, todo);
  log({ event: 'start', run: opts.run, shards: plan.shards, todo: todo.length, images, workers, threads: init.threads, batchSize: opts.batchSize, concurrency: opts.concurrency });
  const slower = jpegFastPathProblem();
  if (slower) log({ event: 'notice', message: `JPEG fast path off, sharp decodes JPEGs: ${slower}` });
  const heicSlower = settings().heic === 'wasm' ? undefined : heicFastPathProblem();
  if (heicSlower) log({ event: 'notice', message: `native HEIC off, libheif as WebAssembly decodes HEIC (several times slower): ${heicSlower}` });

  // Always in worker processes, even one: their thread pool and malloc are set up at start (see
  // worker-pool.ts), which this process, already running, can no longer do for itself.
  let startError: string | undefined;
  const answered = new Set<number>();
  const noticed = new Set<string>();
  const acknowledge = opts.stop?.onRequest((seconds) => log({ event: 'stopping', signal: opts.stop?.reason ?? 'a signal', seconds }));
  await runPool(init, todo, workers, {
    onDone: (shard, outcome) => (answered.add(shard), onDone(shard, outcome)),
    onProgress: (p) => log({ event: 'progress', ...p }),
    // Each worker says a notice once; the run says it once.
    onNotice: (message) => noticed.has(message) || (noticed.add(message), log({ event: 'notice', message })),
    onFailed: (shard, message, fatal) => {
      if (shard < 0 || fatal) startError ??= message;
      if (shard >= 0) (answered.add(shard), onFailed(shard, message));
    },
  }, opts.stop);
  acknowledge?.();
  summary.interrupted = opts.stop?.reason;
  if (startError !== undefined) throw new UserError(startError);
  // Workers that all died before taking these shards: say so, never report them as done.
  const notStarted = summary.interrupted ? `not started: the run was interrupted (${summary.interrupted})` : 'not started: every worker process exited';
  for (const shard of todo) if (!answered.has(shard)) onFailed(shard, notStarted);
  if (opts.compact !== false && summary.failedShards.length === 0) {
    summary.compaction = await compactRun(opts.run, opts.compact);
    const c = summary.compaction;
    if (c.status === 'compacted') log({ event: 'compacted', files: c.done.files.length, rows: c.done.rows, bytes: c.done.bytes, seconds: c.seconds });
  }
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}
