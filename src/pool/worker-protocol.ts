import type { Device } from '../infer/device.js';
import type { S3Options } from '../storage/s3-client.js';
import type { ShardOptions, ShardOutcome } from '../pipeline/run-shard.js';
import type { Progress } from '../pipeline/tag-rows.js';

/** What a worker process needs to tag shards of one run. */
export interface WorkerInit {
  run: string;
  /** The plan's run id, written into every row. */
  runId: string;
  /** Model arguments (built-in names, paths or s3:// URIs), in column order. */
  models: string[];
  shard: ShardOptions;
  threads: number;
  device: Device;
  s3: S3Options;
  /** On SIGTERM/SIGINT, how long the shards in hand may take to finish before they are abandoned. */
  stopSeconds: number;
}

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
  /** Images finished since the last progress message (sent at most a few times a second). */
  | { type: 'progress'; progress: Progress }
  /** fatal: every shard would fail the same way (refused credentials, no such bucket): the run stops. */
  | { type: 'failed'; shard?: number; message: string; fatal?: boolean; interrupted?: boolean };
