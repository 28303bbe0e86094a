import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../errors.js';
import { ShardDispatch } from './dispatch.js';
import { decodesInFlight, type Progress } from '../pipeline/stage-limits.js';
import type { ShardOutcome } from '../pipeline/run-shard.js';
import type { RunStop } from './stop.js';
import type { WorkerInit } from '../pipeline/worker-init.js';
import type { WorkerReply } from './worker-protocol.js';
import { settings } from '../settings.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./worker.js', import.meta.url));

/**
 * Set before a worker starts, as only then they take effect. libuv's thread pool runs sharp's
 * decodes: its default of 4 threads would cap decodes in flight on a bigger machine. glibc's
 * malloc defaults let RSS creep up with the number of images: 8 arenas per core for libvips's
 * threads, and image-sized buffers kept in the heap once its mmap threshold has grown. Two arenas
 * and a fixed 1 MiB threshold keep a worker's RSS flat over 50,000 images while pixel buffers and
 * image bodies (100-200 KB) come from the heap, not an mmap, page faults and munmap each: 64 KiB
 * cost 4% more CPU per image, 4 MiB let RSS creep (BENCHMARKS.md, the mmap soak). The user's
 * environment wins.
 */
function workerEnvDefaults(threads: number): NodeJS.ProcessEnv {
  return {
    UV_THREADPOOL_SIZE: String(Math.max(4, decodesInFlight(threads) + 2)),
    MALLOC_ARENA_MAX: '2',
    MALLOC_MMAP_THRESHOLD_: '1048576',
    // The AWS SDK's 7-line Node-version notice: the run's own process prints it once, never each worker.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

export interface PoolCallbacks {
  onDone(shard: number, outcome: ShardOutcome): void;
  onProgress?(p: Progress): void;
  onNotice?(message: string): void;
  onFailed(shard: number, message: string, fatal?: boolean): void;
}

/**
 * A worker's V8. Its heap is small (about 17 MB live) but its garbage is mostly large buffers (image
 * bodies, pixels), and V8 sized the old generation to that: it ran 80 full collections per 2,000
 * images over S3, 0.5 ms of CPU an image. Starting the old generation at 128 MB leaves 3 (bench-run,
 * BENCHMARKS.md). TurboFan inlines up to 920 bytecode bytes into a function by default: the stage
 * functions, hot only after thousands of images, then took 20-70 ms of compiling each on the cores
 * the decodes need; a quarter of that budget costs 3.5% less CPU per image at steady state (three
 * interleaved pairs of 4,000-image runs), none of the hot paths being JavaScript.
 */
export const WORKER_V8_FLAGS = ['--initial-old-space-size=128', '--max-inlined-bytecode-size-cumulative=230'];

/**
 * N worker processes take shards from a shared queue. A worker that dies (OOM, kill -9) loses only
 * the shards it holds (the one computing and the one being written), which stay uncommitted and are
 * redone by the next run.
 */

export async function runPool(init: WorkerInit, shards: number[], workers: number, cb: PoolCallbacks, stop?: RunStop): Promise<void> {
  const queue = [...shards];
  const children = new Set<ChildProcess>();
  const dispatches = new Set<ShardDispatch>();
  /**
   * A worker that stops while the run does not (a signal to it alone) gives back the shards it did
   * not finish: the others take them. Only when no worker is left are they reported unfinished.
   */
  const giveBack = (from: ShardDispatch, shard: number) => {
    queue.unshift(shard);
    for (const d of dispatches) if (d !== from) d.nudge();
  };
  // Asked to stop: hand out nothing more; each worker finishes or abandons its shards within the
  // grace time and releases their leases; one that does not exit by then (plus a margin) is killed.
  const unsubscribe = stop?.onRequest((seconds) => {
    queue.length = 0;
    for (const c of children) if (c.connected) c.send({ type: 'stop', seconds });
    setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), (seconds + 5) * 1000).unref();
  });
  const startWorker = () =>
    new Promise<void>((resolve) => {
      const env = { ...workerEnvDefaults(init.threads), ...process.env };
      // IMGTAG_PROFILE=DIR: each worker writes a V8 CPU profile there (NODE_OPTIONS may not carry --cpu-prof).
      const { profileDir } = settings();
      const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
      const execArgv = [...WORKER_V8_FLAGS, ...profile];
      const child: ChildProcess = fork(WORKER_SCRIPT, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
      children.add(child);
      const dispatch = new ShardDispatch(
        queue,
        (shard) => child.send({ type: 'shard', shard }),
        () => child.send({ type: 'exit' }),
      );
      dispatches.add(dispatch);
      let leaving = false;
      child.on('message', (msg: WorkerReply) => {
        if (msg.type === 'ready') return dispatch.start();
        if (msg.type === 'stopping') return (leaving = true, dispatch.retire());
        if (msg.type === 'computed') return dispatch.computed(msg.shard);
        if (msg.type === 'progress') return cb.onProgress?.(msg.progress);
        if (msg.type === 'notice') return cb.onNotice?.(msg.message);
        if (msg.type === 'failed' && msg.shard === undefined) {
          // The worker could not start (bad model, bad config): put nothing more on it.
          cb.onFailed(-1, msg.message);
          child.send({ type: 'exit' });
          return;
        }
        const shard = msg.shard!;
        if (msg.type === 'done') cb.onDone(shard, msg.outcome);
        else if (msg.interrupted && !stop?.reason) {
          dispatch.finished(shard);
          return giveBack(dispatch, shard);
        } else {
          // A failure every shard would meet: hand out nothing more, to any worker.
          if (msg.fatal) queue.length = 0;
          cb.onFailed(shard, msg.message, msg.fatal);
        }
        dispatch.finished(shard);
      });
      child.on('error', (e) => dispatch.outstanding.forEach((s) => cb.onFailed(s, errorMessage(e))));
      child.on('exit', (code, signal) => {
        children.delete(child);
        dispatches.delete(dispatch);
        if (leaving && !stop?.reason) {
          // Its abandoned shards' leases were released as it left: another worker can take them now.
          for (const s of dispatch.outstanding) giveBack(dispatch, s);
          return resolve();
        }
        const why = stop?.reason
          ? `interrupted (${stop.reason}): abandoned with its lease released; the next run redoes it`
          : `worker exited (${signal ?? `code ${code}`}) during the shard`;
        for (const s of dispatch.outstanding) cb.onFailed(s, why);
        resolve();
      });
      child.send({ type: 'init', init });
      // A stop asked for while this worker was starting.
      if (stop?.reason) child.send({ type: 'stop', seconds: 0 });
    });
  try {
    await Promise.all(Array.from({ length: Math.min(workers, shards.length) }, startWorker));
  } finally {
    unsubscribe?.();
  }
}
