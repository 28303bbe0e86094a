import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { invalid, UserError } from '../errors.js';
import { basenameUri, isS3Uri } from '../storage/uri.js';
import { resolveManifest, type ManifestSource } from '../manifest/index.js';
import { listObjects, writeBytes } from '../storage/storage.js';
import { runLayout } from '../rundir/layout.js';
import { dropScratch, scratchDir } from '../temp/scratch.js';
import { manifestParts, partChunks } from './manifest-parts.js';
import { hasFilter, type RowFilterOptions } from './row-filter.js';
import { MAX_SHARDS, refuseFileAsRun, type Plan, type PlanCurrent } from '../rundir/plan-file.js';
import { hashedSink, sequentialSink } from './shard-sink.js';
import { planDelta } from './delta.js';
import { DEFAULTS } from '../defaults.js';


export interface PlanOptions {
  /** Images per shard (consecutive in manifest order). */
  shardSize?: number;
  /** Or: this many shards, rows spread by a hash of their URI. */
  shards?: number;
  /** ListObjectsV2 page size; tests set it small to exercise pagination. */
  pageSize?: number;
  /** A previous run: objects it (or its ancestors) tagged with the same ETag are left out. */
  since?: string;
  /** Nightly: a root whose current table's objects, tagged with the same ETag, are left out; and the models that table was tagged with. */
  current?: { root: string; baseModels?: string[]; maxDeletions?: number; glueTable?: string };
  /** With since or current: only rows tagged by exactly these model ids count as tagged. */
  sinceModels?: string[];
  /** With since or current: tag again objects whose row is a permanent error (not an image, too large). */
  retryErrors?: boolean;
  /** Where the run's rows go once compacted: a dataset shared by many runs (default `<run>/tags`). */
  dataset?: string;
  /** Which images go into the plan (--include, --exclude, --min-bytes, --max-bytes, --modified-after). */
  filter?: RowFilterOptions;
}

/** A run id no other run writing to the same dataset has: the folder's name and a hash of where and when it was planned. */
function newRunId(run: string, createdAt: string): string {
  const name = basenameUri(run).replace(/[^A-Za-z0-9._-]+/g, '_') || 'run';
  return `${name}-${createHash('sha256').update(`${run}\n${createdAt}`).digest('hex').slice(0, 8)}`;
}

async function hasCommits(run: string): Promise<boolean> {
  for await (const _ of listObjects(runLayout.commits(run), 1)) return true;
  return false;
}

/** Stream the manifest once, keep the images, write shard files and then plan.json (last: its presence means "planned"). */
export async function createPlan(given: ManifestSource, run: string, opts: PlanOptions = {}): Promise<Plan> {
  // plan.json records the report actually read, not the folder it was picked from.
  const source = await resolveManifest(given);
  if (opts.shardSize !== undefined && opts.shards !== undefined) throw new UserError('give --shard-size or --shards, not both');
  for (const [name, v] of [['--shard-size', opts.shardSize], ['--shards', opts.shards]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw invalid(name, 'a positive integer', v);
  }
  refuseFileAsRun(run);
  // A shard is a file, a commit marker and a lease: a million is 10,000 array children of 100.
  if (opts.shards !== undefined && opts.shards > MAX_SHARDS) throw invalid('--shards', `at most ${MAX_SHARDS.toLocaleString('en-US')}`, opts.shards);
  if (await hasCommits(run)) {
    throw new UserError(`${run} already has committed shards: plan into a new run directory`);
  }
  const sharding = opts.shards !== undefined ? { shards: opts.shards } : { shardSize: opts.shardSize ?? DEFAULTS.shardSize };
  const sink = sharding.shards !== undefined ? await hashedSink(run, sharding.shards) : sequentialSink(run, sharding.shardSize!);
  // The filters too: what a plan left out, and why, is read from plan.json, not from a shell history.
  const options: Plan['options'] = { ...sharding, ...(hasFilter(opts.filter) ? { filter: { ...opts.filter, modifiedAfter: opts.filter.modifiedAfter?.toISOString() } } : {}) };
  const counts: Plan['counts'] = { rows: 0, images: 0, skipped: 0, unchanged: 0, bytes: 0, ...(hasFilter(opts.filter) ? { filtered: 0 } : {}) };
  const dir = await scratchDir('plan');
  let current: PlanCurrent | undefined;
  try {
    const join = opts.since !== undefined || opts.current !== undefined;
    const files: string[] = [];
    for await (const part of manifestParts(source, dir, opts.pageSize, opts.filter)) {
      counts.rows += part.counts.rows;
      counts.skipped += part.counts.skipped;
      counts.bytes! += part.counts.bytes;
      if (counts.filtered !== undefined) counts.filtered += part.counts.filtered ?? 0;
      if (join) {
        files.push(part.file);
        continue;
      }
      counts.images += part.counts.images;
      for await (const chunk of partChunks(part.file)) await sink.add(chunk);
      await fsp.rm(part.file);
    }
    if (join) {
      const delta = await planDelta(files, { since: opts.since, current: opts.current, models: opts.sinceModels, retryErrors: opts.retryErrors, filtered: hasFilter(opts.filter) }, run, dir);
      counts.images = delta.join.counts.delta;
      counts.unchanged = delta.join.counts.unchanged;
      counts.untaggable = delta.join.counts.untaggable;
      current = delta.current;
      for await (const chunk of partChunks(delta.join.delta)) await sink.add(chunk);
    }
  } finally {
    await dropScratch(dir);
  }
  const shards = await sink.finish();
  const createdAt = new Date().toISOString();
  // Recorded only when given: a run directory with its dataset inside can be moved or copied whole.
  const plan: Plan = { version: 1, createdAt, id: newRunId(run, createdAt), dataset: opts.dataset === undefined || isS3Uri(opts.dataset) ? opts.dataset : path.resolve(opts.dataset), source, options, counts, shards, parent: opts.since, current };
  await writeBytes(runLayout.plan(run), JSON.stringify(plan, null, 2) + '\n', 'application/json');
  return plan;
}
