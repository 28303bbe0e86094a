import { joinUri } from '../storage/uri.js';

/** Everything of a run lives under one directory (local or s3://): the names are fixed, so retries overwrite. */
export function shardName(index: number): string {
  return String(index).padStart(5, '0');
}

/**
 * A run directory holds control files only: what query engines read is the dataset (below). Each
 * shard's Parquet is staged here until compaction merges the run's shards into the dataset.
 */
export const runLayout = {
  plan: (run: string) => joinUri(run, 'plan.json'),
  shard: (run: string, i: number) => joinUri(run, 'shards', `shard-${shardName(i)}.jsonl`),
  staged: (run: string, i: number) => joinUri(run, 'staging', `part-${shardName(i)}.parquet`),
  staging: (run: string) => joinUri(run, 'staging/'),
  commit: (run: string, i: number) => joinUri(run, 'commits', `part-${shardName(i)}.json`),
  commits: (run: string) => joinUri(run, 'commits/'),
  /** An empty object per commit, named by its finish time: `report --watch` lists only what is new. */
  commitLog: (run: string, finishedMs: number, i: number) => joinUri(run, 'commit-log', `${String(finishedMs).padStart(13, '0')}-${shardName(i)}`),
  commitLogs: (run: string) => joinUri(run, 'commit-log/'),
  lease: (run: string, i: number) => joinUri(run, 'leases', `part-${shardName(i)}.json`),
  /** Compaction's own state: its plan, one marker per merged file, and done.json last. */
  compaction: (run: string, name: string) => joinUri(run, 'compaction', name),
  compactionLock: (run: string) => joinUri(run, 'leases', 'compaction.json'),
};

/**
 * The dataset: Parquet files only, Hive-style partitions by the day a run was planned, so one table
 * (DuckDB's hive_partitioning, Athena partition projection on run_date) spans every run written to it.
 * File names start with the run id, which every row also carries.
 */
export const datasetLayout = {
  file: (dataset: string, runDate: string, runId: string, i: number) => joinUri(dataset, `run_date=${runDate}`, `${runId}-${shardName(i)}.parquet`),
};

/** Lexically sortable UTC time: run directories sort in the order they were made. */
export function runName(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}
