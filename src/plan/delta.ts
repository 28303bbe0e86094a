import { UserError } from '../errors.js';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { resultFiles } from '../rundir/result-files.js';
import { streamResultFiles } from '../rundir/stream-sessions.js';
import { joinManifest, type JoinCounts, type JoinResult } from '../current/join.js';
import { readCurrent, rootId } from '../rundir/current.js';
import type { LocalCopy } from '../sql/duckdb.js';
import { downloadFile, uploadFile } from '../storage/storage.js';
import { isS3Uri, joinUri } from '../storage/uri.js';
import { loadPlan, type PlanCurrent } from '../rundir/plan-file.js';
import { settings } from '../settings.js';

/** What a plan leaves out: objects tagged before, by a run's lineage (`--since`) or in a nightly root's current table. */
export interface DeltaSource {
  since?: string;
  /** Nightly: the root whose current table to join against, and the share of its rows a manifest may delete (default DEFAULT_MAX_DELETIONS). */
  current?: { root: string; baseModels?: string[]; maxDeletions?: number; glueTable?: string };
  /** Only rows tagged by exactly these model ids count as tagged. */
  models?: string[];
  /** Permanent error rows do not count as tagged: their objects are tagged again. */
  retryErrors?: boolean;
  /** The plan has filters: a key they leave out is a deletion too, so the guard names them. */
  filtered?: boolean;
}

/**
 * Settings for DuckDB's join. Beyond its memory DuckDB spills to local disk; below about 256 MB, its
 * out-of-core join and aggregate run out on tens of millions of rows. IMGTAG_JOIN_MEMORY_MB sets it.
 */
export const joinSettings = () => ({ memoryLimitMb: settings().joinMemoryMb, fileMb: 256 });

/** The run and its ancestors, newest first (plan.json `parent` links). */
async function lineage(run: string): Promise<string[]> {
  const out: string[] = [];
  for (let r: string | undefined = run; r !== undefined && !out.includes(r); r = (await loadPlan(r)).parent) out.push(r);
  return out;
}

/** Local copies of Parquet objects (local files are read where they are). */
export async function localCopies(uris: string[], dir: string, name = 'tagged'): Promise<LocalCopy[]> {
  const limit = pLimit(8);
  return Promise.all(
    uris.map((uri, i) =>
      limit(async () => {
        if (!isS3Uri(uri)) return { file: uri, uri };
        const file = path.join(dir, `${name}-${i}.parquet`);
        await downloadFile(uri, file);
        return { file, uri };
      }),
    ),
  );
}

/** The share of the current table one nightly may delete unless told otherwise (--max-deletions). */
export const DEFAULT_MAX_DELETIONS = 0.1;

/**
 * An empty or misread manifest (an empty key list, an Inventory with no files, columns in another
 * order) looks like every object was deleted: refused before anything is written, so bad input
 * never empties the table. A real mass deletion is let through with a larger --max-deletions.
 */
export function refuseMassDeletion(tableRows: number, deleted: number, maxShare: number, filtered = false): void {
  if (tableRows === 0 || deleted <= maxShare * tableRows) return;
  const what = filtered ? 'the manifest through the filters' : 'the manifest';
  const check = filtered
    ? 'Check the filters first (a key --include, --exclude or a bound leaves out leaves the table as a deletion), then the manifest'
    : 'Check the manifest (empty? columns in the order its fileSchema says?)';
  throw new UserError(
    `${what} would delete ${deleted} of the current table's ${tableRows} objects (${((100 * deleted) / tableRows).toFixed(1)}%), over --max-deletions ${maxShare}: ` +
      `refused, the table is unchanged. ${check}; if the objects really are gone, run again with a larger --max-deletions`,
  );
}

/**
 * Join the manifest's part files against what was tagged before: the delta to plan, and for a
 * nightly, the current table's rows that stay, uploaded into the run directory until the run is done.
 */
export async function planDelta(parts: string[], src: DeltaSource, run: string, dir: string): Promise<{ join: JoinResult; current?: PlanCurrent }> {
  const table = src.current === undefined ? undefined : await readCurrent(src.current.root);
  const uris = table ? table.files.map((f) => f.uri) : src.since ? (await Promise.all((await lineage(src.since)).map(resultFiles))).flat() : [];
  const files = await localCopies(uris, dir);
  // What `imgtag listen` tagged since: folded into the table, never tagged again.
  const stream = src.current === undefined ? [] : await localCopies(await streamResultFiles(src.current.root), dir, 'stream');
  const join = await joinManifest(parts, { files, models: src.models, current: src.current !== undefined, retryErrors: src.retryErrors, stream }, dir, {
    ...joinSettings(),
    threads: os.availableParallelism(),
  });
  if (src.current === undefined) return { join };
  refuseMassDeletion(table?.rows ?? 0, join.counts.deleted, src.current.maxDeletions ?? DEFAULT_MAX_DELETIONS, src.filtered);
  const limit = pLimit(8);
  const kept = await Promise.all(
    join.kept.map(({ file, rows }, i) =>
      limit(async () => {
        const uri = joinUri(run, 'current', `kept-${String(i).padStart(5, '0')}.parquet`);
        await uploadFile(file, uri, 'application/vnd.apache.parquet');
        return { uri, rows };
      }),
    ),
  );
  return { join, current: { root: rootId(src.current.root), base: table?.run, baseModels: table ? src.current.baseModels : undefined, kept, counts: { new: join.counts.new, deleted: join.counts.deleted, ...(join.counts.stream ? { stream: join.counts.stream } : {}) }, ...(src.current.glueTable ? { glueTable: src.current.glueTable } : {}) } };
}
