import type { ShardOutcome } from '../pipeline/run-shard.js';
import type { WorkerInit } from '../pipeline/worker-init.js';
import type { Progress } from '../pipeline/stage-limits.js';

export type WorkerRequest =
  | { type: 'init'; init: WorkerInit }
  | { type: 'shard'; shard: number }
  /** Take no new shard; finish the ones in hand within `seconds` or abandon them. */
  | { type: 'stop'; seconds: number }
  | { type: 'exit' };

export type WorkerReply =
  | { type: 'ready' }
  /** A signal reached this worker alone (or first): it takes no more shards and leaves. */
  | { type: 'stopping' }
  /** The shard's fetch..infer is over; its write and commit go on while the next shard starts. */
  | { type: 'computed'; shard: number }
  | { type: 'done'; shard: number; outcome: ShardOutcome }
  /** Something the user should hear once, in imgtag's words (an AWS SDK warning). */
  | { type: 'notice'; message: string }
  /** Images finished since the last progress message (sent at most a few times a second). */
  | { type: 'progress'; progress: Progress }
  /** fatal: every shard would fail the same way (refused credentials, no such bucket): the run stops. */
  | { type: 'failed'; shard?: number; message: string; fatal?: boolean; interrupted?: boolean };
