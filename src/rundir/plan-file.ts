import fs from 'node:fs';
import { DEFAULTS } from '../defaults.js';
import { UserError } from '../errors.js';
import type { ManifestSource } from '../manifest/types.js';
import { exists, readText, refuseMissingBucket } from '../storage/storage.js';
import { runLayout } from './layout.js';
import { basenameUri, isS3Uri, joinUri } from '../storage/uri.js';


/** plan.json's record of a nightly plan: what to put in the current table once the run is done. */
export interface PlanCurrent {
  root: string;
  /** The run the current table reflected when this plan was made (none: the first nightly), and its models. */
  base?: string;
  baseModels?: string[];
  /** Rows of that table still live and unchanged, staged in the run directory. */
  kept: { uri: string; rows: number }[];
  /** stream: objects `imgtag listen` tagged since the table, folded into it (not tagged again). */
  counts: { new: number; deleted: number; stream?: number };
  /** The Glue table (database.table) moved to each new version of the current table. */
  glueTable?: string;
}

/** plan.json: what a run directory was planned from, and how many shards it has. */
export interface Plan {
  version: 1;
  createdAt: string;
  source: ManifestSource;
  /** How it was sharded, and the filters that chose its images (--include ... --modified-after, as given). */
  options: { shardSize?: number; shards?: number; filter?: { include?: string[]; exclude?: string[]; minBytes?: number; maxBytes?: number; modifiedAfter?: string } };
  /**
   * rows read; images planned; skipped: not images; unchanged: already tagged by the parent run or
   * its ancestors (or the current table); untaggable: of those, objects whose row is a permanent error.
   */
  /**
   * bytes: the manifest's images' sizes, summed (before a --since or nightly join leaves some out);
   * filtered: images plan's filters left out. Both absent in older plans.
   */
  counts: { rows: number; images: number; skipped: number; unchanged: number; untaggable?: number; bytes?: number; filtered?: number };
  shards: number;
  /** The run this one continues (`plan --since`): objects tagged there with the same ETag were left out. */
  parent?: string;
  /** Unique run id, carried by every row (`run_id`) and in the dataset's file names. Older plans: the folder's name. */
  id?: string;
  /** Where compaction puts the run's rows (`<dataset>/run_date=YYYY-MM-DD/`); absent: `<run>/tags`. */
  dataset?: string;
  /** A nightly's run: the current table it updates once it is done. */
  current?: PlanCurrent;
  /** A stream session (`imgtag listen`): its shards are micro-batches of S3 events from this queue, added as they come. */
  stream?: { queue: string };
}

/** The run's id, and its dataset and partition: defaults for plans written before they were recorded. */
export function planIdentity(run: string, plan: Plan): { id: string; dataset: string; runDate: string } {
  return {
    id: plan.id ?? basenameUri(run),
    dataset: plan.dataset ?? defaultDataset(run),
    runDate: plan.createdAt.slice(0, 10),
  };
}

/** Without --dataset a run keeps its rows in its own folder; runs that share a --dataset form one table. */
export function defaultDataset(run: string): string {
  return joinUri(run, 'tags');
}

/**
 * Images in these shards of a plan: exact for --shard-size plans (every shard full but the last),
 * whose resumed run's bar then ends at its total; estimated from the average shard for --shards.
 */
export function imagesIn(plan: Plan, shards: number[]): number {
  const { images } = plan.counts;
  if (shards.length === plan.shards) return images;
  const size = plan.options.shardSize;
  if (size === undefined || Math.ceil(images / size) !== plan.shards) return Math.round((images / Math.max(1, plan.shards)) * shards.length);
  return shards.reduce((sum, i) => sum + Math.max(0, Math.min(size, images - i * size)), 0);
}

/** A shard is a file, a commit marker and a lease: a million is 10,000 array children of 100. */
export const MAX_SHARDS = 1_000_000;

/** A local --run that names a file: said plainly, not as the ENOTDIR of a path below it. */
export function refuseFileAsRun(run: string): void {
  if (isS3Uri(run)) return;
  const stat = fs.statSync(run, { throwIfNoEntry: false });
  if (stat && !stat.isDirectory()) throw new UserError(`--run ${run} is a file, not a run directory: give a folder (it is created if missing)`);
}

export async function loadPlan(run: string): Promise<Plan> {
  const uri = runLayout.plan(run);
  refuseFileAsRun(run);
  if (!(await exists(uri))) {
    await refuseMissingBucket(uri);
    throw new UserError(`no plan in ${run}: run "imgtag plan --run ${run} ..." first`);
  }
  let plan: Plan;
  try {
    plan = JSON.parse(await readText(uri)) as Plan;
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    throw new UserError(`${uri} is damaged (not JSON): restore it, or plan the run again into a new directory`);
  }
  if (typeof plan.version === 'number' && plan.version > 1) {
    throw new UserError(`${uri} was written by a newer imgtag (plan version ${plan.version}, this one reads 1): upgrade imgtag to run it`);
  }
  if (plan.version !== 1 || !Number.isInteger(plan.shards)) throw new UserError(`${uri} is not an imgtag plan`);
  // No plan imgtag writes has more: a damaged or hand-made one would have a run list 1e8 shards.
  if (plan.shards < 0 || plan.shards > MAX_SHARDS) throw new UserError(`${uri} claims ${plan.shards} shards, outside 0..${MAX_SHARDS}: it is damaged, plan the run again`);
  return plan;
}

