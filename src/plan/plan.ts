import { UserError } from '../errors.js';
import { readManifest, type ManifestSource } from '../manifest/index.js';
import { readText, listObjects, exists, writeBytes } from '../storage/storage.js';
import { runLayout } from '../run-dir.js';
import { isImageUri } from './filter.js';
import { hashedSink, sequentialSink } from './shard-sink.js';

export interface PlanOptions {
  /** Images per shard (consecutive in manifest order). */
  shardSize?: number;
  /** Or: this many shards, rows spread by a hash of their URI. */
  shards?: number;
  /** ListObjectsV2 page size; tests set it small to exercise pagination. */
  pageSize?: number;
}

/** plan.json: what a run directory was planned from, and how many shards it has. */
export interface Plan {
  version: 1;
  createdAt: string;
  source: ManifestSource;
  options: { shardSize?: number; shards?: number };
  counts: { rows: number; images: number; skipped: number };
  shards: number;
}

export const DEFAULT_SHARD_SIZE = 1000;

export async function loadPlan(run: string): Promise<Plan> {
  const uri = runLayout.plan(run);
  if (!(await exists(uri))) throw new UserError(`no plan in ${run}: run "imgtag plan --run ${run} ..." first`);
  const plan = JSON.parse(await readText(uri)) as Plan;
  if (plan.version !== 1 || !Number.isInteger(plan.shards)) throw new UserError(`${uri} is not an imgtag plan`);
  return plan;
}

async function hasCommits(run: string): Promise<boolean> {
  for await (const _ of listObjects(runLayout.commits(run), 1)) return true;
  return false;
}

/** Stream the manifest once, keep the images, write shard files and then plan.json (last: its presence means "planned"). */
export async function createPlan(source: ManifestSource, run: string, opts: PlanOptions = {}): Promise<Plan> {
  if (opts.shardSize !== undefined && opts.shards !== undefined) throw new UserError('give --shard-size or --shards, not both');
  for (const [name, v] of [['--shard-size', opts.shardSize], ['--shards', opts.shards]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new UserError(`${name} must be a positive integer`);
  }
  if (await hasCommits(run)) {
    throw new UserError(`${run} already has committed shards: plan into a new run directory`);
  }
  const options = opts.shards !== undefined ? { shards: opts.shards } : { shardSize: opts.shardSize ?? DEFAULT_SHARD_SIZE };
  const sink = options.shards !== undefined ? await hashedSink(run, options.shards) : sequentialSink(run, options.shardSize!);
  const counts = { rows: 0, images: 0, skipped: 0 };
  for await (const row of readManifest(source, opts.pageSize)) {
    counts.rows += 1;
    if (!isImageUri(row.uri)) {
      counts.skipped += 1;
      continue;
    }
    counts.images += 1;
    await sink.add(row);
  }
  const shards = await sink.finish();
  const plan: Plan = { version: 1, createdAt: new Date().toISOString(), source, options, counts, shards };
  await writeBytes(runLayout.plan(run), JSON.stringify(plan, null, 2) + '\n', 'application/json');
  return plan;
}
