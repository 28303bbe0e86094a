import { joinUri } from './storage/uri.js';

/** Everything of a run lives under one directory (local or s3://): the names are fixed, so retries overwrite. */
export function shardName(index: number): string {
  return String(index).padStart(5, '0');
}

export const runLayout = {
  plan: (run: string) => joinUri(run, 'plan.json'),
  shard: (run: string, i: number) => joinUri(run, 'shards', `shard-${shardName(i)}.jsonl`),
  result: (run: string, i: number) => joinUri(run, 'results', `part-${shardName(i)}.parquet`),
  commit: (run: string, i: number) => joinUri(run, 'commits', `part-${shardName(i)}.json`),
  commits: (run: string) => joinUri(run, 'commits/'),
  lease: (run: string, i: number) => joinUri(run, 'leases', `part-${shardName(i)}.json`),
};

/** Lexically sortable UTC time: run directories sort in the order they were made. */
export function runName(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}
