import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../errors.js';
import type { ShardOutcome } from './run-shard.js';
import type { WorkerInit, WorkerReply } from './worker-protocol.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./worker.js', import.meta.url));

export interface PoolCallbacks {
  onDone(shard: number, outcome: ShardOutcome): void;
  onFailed(shard: number, message: string): void;
}

/**
 * N worker processes take shards one at a time from a shared queue. A worker that dies (OOM, kill -9)
 * loses only its current shard, which stays uncommitted and is redone by the next run.
 */
export async function runPool(init: WorkerInit, shards: number[], workers: number, cb: PoolCallbacks): Promise<void> {
  const queue = [...shards];
  const startWorker = () =>
    new Promise<void>((resolve) => {
      const child: ChildProcess = fork(WORKER_SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      let current: number | undefined;
      const next = () => {
        current = queue.shift();
        if (current === undefined) child.send({ type: 'exit' });
        else child.send({ type: 'shard', shard: current });
      };
      child.on('message', (msg: WorkerReply) => {
        if (msg.type === 'ready') return next();
        if (msg.type === 'done') cb.onDone(msg.shard, msg.outcome);
        else if (msg.type === 'failed' && msg.shard !== undefined) cb.onFailed(msg.shard, msg.message);
        else if (msg.type === 'failed') {
          // The worker could not start (bad model, bad config): put nothing more on it.
          cb.onFailed(-1, msg.message);
          child.send({ type: 'exit' });
          return;
        }
        next();
      });
      child.on('error', (e) => cb.onFailed(current ?? -1, errorMessage(e)));
      child.on('exit', (code, signal) => {
        if (current !== undefined) cb.onFailed(current, `worker exited (${signal ?? `code ${code}`}) during the shard`);
        resolve();
      });
      child.send({ type: 'init', init });
    });
  await Promise.all(Array.from({ length: Math.min(workers, shards.length) }, startWorker));
}
