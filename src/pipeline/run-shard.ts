import { errorDigest, topTags } from '../rundir/digest.js';
import { createHash } from 'node:crypto';
import os from 'node:os';
import { markerHolds, readCommit, writeCommit, type CommitMarker } from '../rundir/commits.js';
import { resultsParquet } from '../output/parquet.js';
import { readShardFile } from '../rundir/shard-file.js';
import { runLayout } from '../rundir/layout.js';
import { newCounter, type S3Counter } from '../storage/s3-config.js';
import { isS3Uri } from '../storage/uri.js';
import { writeBytes } from '../storage/storage.js';
import { acquireLease } from '../lease/lease.js';
import type { Machine } from '../infer/machine.js';
import type { ModelSet } from './model-set.js';
import { StageClock } from './stage-clock.js';
import { tagRows } from './tag-rows.js';
import type { Progress, StageLimits } from './stage-limits.js';

export interface ShardOptions {
  /** Images per model call. */
  batchSize: number;
  /** S3 GETs in flight. */
  concurrency: number;
  maxPixels: number;
  /** Objects over this many bytes are error rows, never read. */
  maxBytes?: number;
}

/** The run a shard belongs to: its directory, and the id every row carries. */
export interface ShardRun {
  dir: string;
  id: string;
  machine: Machine;
}

/** tagged: done now; committed: done before, skipped; leased: another worker holds it right now. */
export type ShardOutcome =
  | { status: 'tagged' | 'committed'; marker: CommitMarker }
  | { status: 'leased' };

/** Tag one shard exactly once: skip it if committed, hold its lease while tagging it. */
export interface ShardHooks {
  /** The shard's fetch..infer is over: only its write and commit remain. */
  computed?: () => void;
  /** Images done so far, as they finish. */
  progress?: (p: Progress) => void;
}

export async function runShard(run: ShardRun, shard: number, models: ModelSet, limits: StageLimits, hooks: ShardHooks = {}): Promise<ShardOutcome> {
  // This shard's own S3 requests: its writes overlap the next shard's reads, so a process-wide
  // counter read before and after would count one shard's requests in another's marker.
  const s3 = newCounter();
  const before = await readCommit(run.dir, shard, s3);
  if (before && (await markerHolds(run.dir, before, s3))) return { status: 'committed', marker: before };
  const lease = await acquireLease(run.dir, shard, s3);
  if (!lease) return { status: 'leased' };
  try {
    // Checked again under the lease: another worker may have committed it since. A marker whose
    // file is damaged or gone is overwritten by this shard's new one.
    const committed = await readCommit(run.dir, shard, s3);
    if (committed && (await markerHolds(run.dir, committed, s3))) return { status: 'committed', marker: committed };
    return { status: 'tagged', marker: await tagShard(run, shard, models, limits, hooks, s3) };
  } finally {
    await lease.release();
  }
}

/** CPU seconds (user + system) of this whole process so far, every thread included. */
function processCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return Math.round(user + system) / 1e6;
}

/** fetch -> decode (once per image) -> batch -> infer (each model) -> write Parquet -> commit marker. */
async function tagShard(run: ShardRun, shard: number, models: ModelSet, limits: StageLimits, hooks: ShardHooks, s3: S3Counter): Promise<CommitMarker> {
  const entries = await readShardFile(runLayout.shard(run.dir, shard), s3);
  const clock = new StageClock();
  const startedAt = new Date();
  const { rows: results, bytes, decodes } = await tagRows(entries, models, limits, clock, hooks.progress, s3);
  const taggedAt = new Date();
  hooks.computed?.();

  const result = runLayout.staged(run.dir, shard);
  const parquet = resultsParquet(results, models.columns, { runId: run.id, taggedAt });
  await clock.time('write', async () => writeBytes(result, parquet, 'application/vnd.apache.parquet', s3));
  const failuresByStage: CommitMarker['failuresByStage'] = {};
  for (const r of results) if (r.error) failuresByStage[r.error.stage] = (failuresByStage[r.error.stage] ?? 0) + 1;
  const failures = results.filter((r) => r.error).length;
  const finishedAt = new Date();
  const marker: CommitMarker = {
    shard,
    result,
    resultBytes: parquet.length,
    resultSha256: createHash('sha256').update(parquet).digest('hex'),
    rows: results.length,
    ok: results.length - failures,
    failures,
    failuresByStage,
    bytes,
    decodes,
    seconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    stageSeconds: clock.busy,
    stageDepth: clock.depth((finishedAt.getTime() - startedAt.getTime()) / 1000),
    stagePeak: clock.peak,
    // Every request of the shard up to and including the marker's own PUT (counted here, before it
    // is sent, if it goes to S3); only the lease's DELETE comes after the marker.
    s3: { ...s3, requests: s3.requests + (isS3Uri(run.dir) ? 1 : 0) },
    model: models.classifiers[0]!.model.id,
    models: models.classifiers.map((c) => c.model.id),
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    rssMb: Math.round(process.memoryUsage.rss() / 2 ** 20),
    cpuSeconds: processCpuSeconds(),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    host: os.hostname(),
    pid: process.pid,
    machine: run.machine,
    errors: errorDigest(results),
    topTags: topTags(results),
  };
  // The marker goes last: a shard with Parquet but no marker is redone from scratch.
  await writeCommit(run.dir, marker, s3);
  return marker;
}
