import type { ErrorReason, TagCount } from './digest.js';
import type { S3Counter } from '../storage/s3-config.js';
import type { Machine } from '../infer/machine.js';
import pLimit from 'p-limit';
import { NotFoundError, UserError } from '../errors.js';
import { exists, listObjects, readText, statObject, writeBytes } from '../storage/storage.js';
import { runLayout, shardName } from './layout.js';
import { basenameUri, joinUri } from '../storage/uri.js';
import type { ErrorStage, PerStage } from './stages.js';

/** Seconds per stage: busy (wall time with the stage at work), or average tasks in flight (queue depth). */
/** Seconds (or tasks in flight) per stage. */
export type StageSeconds = PerStage;

/** commits/part-NNNNN.json: its existence means the shard's Parquet is complete and final. */
export interface CommitMarker {
  shard: number;
  result: string;
  /** The staged Parquet's size and sha256, checked before the marker is trusted (absent in older markers). */
  resultBytes?: number;
  resultSha256?: string;
  rows: number;
  ok: number;
  failures: number;
  failuresByStage: Partial<Record<ErrorStage, number>>;
  bytes: number;
  /** Compressed images decoded: one per decodable image, however many models. */
  decodes: number;
  seconds: number;
  /** Wall seconds each stage had work under way: the busiest stage is the bottleneck. */
  stageSeconds: StageSeconds;
  /** Average tasks in flight per stage (waiting for a thread included). */
  stageDepth: StageSeconds;
  /** Most tasks in flight at once per stage: never more than the stage's bound (backpressure). */
  stagePeak: StageSeconds;
  /** S3 requests this shard made, the retries among them (503 SlowDown, resets, timeouts), and those that failed for good. */
  s3: { requests: number; retries: number; failed: number };
  /** The first model's id; `models` has every model's, in --model order. */
  model: string;
  models: string[];
  /** Peak resident memory of the worker process so far. */
  maxRssMb: number;
  /** Resident memory of the worker process as the shard committed: a flat series is a worker that does not grow (absent in older markers). */
  rssMb?: number;
  /**
   * CPU seconds (user + system, every thread) the worker process has used since it started, as the
   * shard committed: the difference between two markers of one pid is the CPU of the images
   * between them, start-up left out (absent in older markers).
   */
  cpuSeconds?: number;
  startedAt: string;
  finishedAt: string;
  host: string;
  pid: number;
  /** What tagged it: the rate in a report is this machine's (absent in older markers). */
  machine?: Machine;
  /** Why its error rows failed, with sample keys (absent in older markers). */
  errors?: ErrorReason[];
  /** Its images' first tags, counted (absent in older markers). */
  topTags?: TagCount[];
}

/**
 * Where a committed shard's Parquet is, under this run directory: the marker's own path may name the
 * directory the run had when it was tagged (a run copied or moved since). Runs from before staging
 * kept it in results/.
 */
export function stagedFile(run: string, marker: Pick<CommitMarker, 'shard' | 'result'>): string {
  return /[/\\]results[/\\]part-\d+\.parquet$/.test(marker.result) ? joinUri(run, 'results', `part-${shardName(marker.shard)}.parquet`) : runLayout.staged(run, marker.shard);
}

/**
 * Whether a marker's shard is really done: its staged Parquet has the size the marker recorded (one
 * HEAD or stat), or the run is compacted (compaction checked every file's rows and footer, then
 * removed them). A truncated or missing file means the shard is redone.
 */
export async function markerHolds(run: string, marker: CommitMarker, counter?: S3Counter): Promise<boolean> {
  if (marker.resultBytes === undefined) return true;
  const size = await statObject(stagedFile(run, marker), counter).then(
    (o) => o.size,
    (e: unknown) => {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    },
  );
  if (size === marker.resultBytes) return true;
  return exists(runLayout.compaction(run, 'done.json'), counter);
}

/**
 * Marked shards whose staged Parquet is missing or not the size its marker recorded (none once the
 * run is compacted: compaction checked every file, then removed them). One listing of staging/
 * and a read of each marker, in parallel.
 */
export async function damagedShards(run: string): Promise<{ markers: CommitMarker[]; damaged: { marker: CommitMarker; file: string; size?: number }[] }> {
  const markers = await readMarkers(run);
  if (await exists(runLayout.compaction(run, 'done.json'))) return { markers, damaged: [] };
  const sizes = new Map<string, number | undefined>();
  for await (const o of listObjects(runLayout.staging(run))) sizes.set(basenameUri(o.uri), o.size);
  const damaged = [];
  for (const m of markers) {
    const file = stagedFile(run, m);
    const inStaging = file.startsWith(runLayout.staging(run));
    const size = sizes.get(basenameUri(file));
    // Markers from before sizes were recorded are trusted when their file is there.
    const holds = m.resultBytes === undefined ? !inStaging || sizes.has(basenameUri(file)) : size === m.resultBytes;
    if (!holds) damaged.push({ marker: m, file, size });
  }
  return { markers, damaged };
}

/** The shards whose markers hold: a run redoes the others. */
export async function trustedShards(run: string): Promise<Set<number>> {
  const { markers, damaged } = await damagedShards(run);
  const bad = new Set(damaged.map((d) => d.marker.shard));
  return new Set(markers.map((m) => m.shard).filter((shard) => !bad.has(shard)));
}

/** A damaged run's first damaged file, named, with what to do about it. */
export function damageError(run: string, d: { marker: CommitMarker; file: string; size?: number }): UserError {
  const found = d.size === undefined ? 'is missing' : `has ${d.size} bytes`;
  return new UserError(`${d.file} ${found} where its commit marker says ${d.marker.resultBytes ?? 'it exists'}: run "imgtag run --run ${run}" to redo shard ${d.marker.shard}`);
}

export async function writeCommit(run: string, marker: CommitMarker, counter?: S3Counter): Promise<void> {
  await writeBytes(runLayout.commit(run, marker.shard), JSON.stringify(marker, null, 2) + '\n', 'application/json', counter);
  // The watch's index, after the marker and not part of the commit: if this PUT fails the shard is
  // still done, and the watch finds its marker at its next full listing (watch.ts).
  await writeBytes(runLayout.commitLog(run, Date.parse(marker.finishedAt), marker.shard), '').catch(() => undefined);
}

export async function readCommit(run: string, shard: number, counter?: S3Counter): Promise<CommitMarker | undefined> {
  const uri = runLayout.commit(run, shard);
  if (!(await exists(uri, counter))) return undefined;
  return readMarker(uri, counter);
}

/** One marker; a body that is not JSON is named as damaged (a store error stays what it is). */
export async function readMarker(uri: string, counter?: S3Counter): Promise<CommitMarker> {
  const text = await readText(uri, counter);
  try {
    return JSON.parse(text) as CommitMarker;
  } catch {
    throw new UserError(`${uri} is damaged: delete it (and the shard's Parquet) to redo the shard`);
  }
}

/** The shard a commit marker's URI names, or undefined for another file under commits/. */
export const markerShard = (uri: string): number | undefined => {
  const m = /part-(\d+)\.json$/.exec(uri);
  return m ? Number(m[1]) : undefined;
};

/** The shard numbers that have a commit marker, from one listing rather than one request per shard. */
export async function committedShards(run: string): Promise<Set<number>> {
  const done = new Set<number>();
  for await (const obj of listObjects(runLayout.commits(run))) {
    const shard = markerShard(obj.uri);
    if (shard !== undefined) done.add(shard);
  }
  return done;
}

/** Every commit marker of a run, in shard order, read 64 at a time (a fleet run has 100,000s); a damaged one is named. */
export async function readMarkers(run: string): Promise<CommitMarker[]> {
  const limit = pLimit(64);
  const reads: Promise<CommitMarker>[] = [];
  for await (const o of listObjects(runLayout.commits(run))) if (markerShard(o.uri) !== undefined) reads.push(limit(() => readMarker(o.uri)));
  return (await Promise.all(reads)).sort((a, b) => a.shard - b.shard);
}
