import type { Device } from '../defaults.js';
import type { Settings } from '../settings.js';
import type { S3Options } from '../storage/s3-config.js';
import type { ShardOptions } from './run-shard.js';

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
  /** The parent's IMGTAG_* settings, as it parsed them. */
  settings: Settings;
}
