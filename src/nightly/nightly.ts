import { UserError } from '../errors.js';
import { acquireLock } from '../lease/lease.js';
import type { ManifestSource } from '../manifest/index.js';
import { committedShards } from '../output/commit.js';
import { loadPlan } from '../plan/plan-file.js';
import { createPlan, type PlanOptions } from '../plan/plan.js';
import { runPlan, type RunEvent, type RunOptions, type RunSummary } from '../pipeline/run-plan.js';
import { listObjects } from '../storage/storage.js';
import { joinUri } from '../storage/uri.js';
import { runName } from '../run-dir.js';
import { DEFAULT_MODEL } from '../model/paths.js';
import { resolveModel } from '../model/resolve.js';
import { readMarkers } from '../output/commit.js';

export interface NightlyOptions {
  /** Holds runs/<timestamp>/ and nightly.lock. */
  root: string;
  source: ManifestSource;
  plan: Pick<PlanOptions, 'shardSize' | 'shards'>;
  run: Omit<RunOptions, 'run' | 'shards'>;
  /** Tag only new or changed objects even when the models changed (default: a new model version re-tags everything). */
  newObjectsOnly?: boolean;
  /** Where every nightly run's rows go (default `<root>/tags`). */
  dataset?: string;
}

export interface NightlyResult {
  run: string;
  parent?: string;
  /** Shards of the parent run that a crash had left unfinished, finished first. */
  resumedParent?: RunSummary;
  unchanged: number;
  /** Model ids of this run, and of the parent run where it differs (a version change). */
  models: string[];
  parentModels?: string[];
  summary: RunSummary;
}

/** The newest run directory under root with a plan.json. */
async function latestRun(root: string): Promise<string | undefined> {
  let latest: string | undefined;
  for await (const obj of listObjects(joinUri(root, 'runs/'))) {
    const m = /[/\\]runs[/\\]([^/\\]+)[/\\]plan\.json$/.exec(obj.uri);
    if (m && (latest === undefined || m[1]! > latest)) latest = m[1]!;
  }
  return latest === undefined ? undefined : joinUri(root, 'runs', latest);
}

/**
 * Tag only what is new or changed since the last run: lock, finish the last run if a crash left
 * it unfinished, plan a new run against it (`--since`), run it, unlock. Cron-safe: a second
 * nightly while one is running is refused by the lock.
 */
export async function runNightly(opts: NightlyOptions, log: (e: RunEvent) => void): Promise<NightlyResult> {
  const lockUri = joinUri(opts.root, 'nightly.lock');
  const got = await acquireLock(lockUri, 10 * 60_000);
  if ('holder' in got) {
    throw new UserError(`another nightly run holds ${lockUri} (owner ${got.holder.owner}, since ${got.holder.since}): not starting`);
  }
  try {
    const parent = await latestRun(opts.root);
    let resumedParent: RunSummary | undefined;
    if (parent !== undefined) {
      const plan = await loadPlan(parent);
      if ((await committedShards(parent)).size < plan.shards) resumedParent = await runPlan({ ...opts.run, run: parent }, log);
      if (resumedParent && resumedParent.failedShards.length > 0) {
        throw new UserError(`the previous run ${parent} still has unfinished shards: fix that first`);
      }
    }
    // The exact model bytes decide what counts as tagged: their ids are resolved (and verified) first.
    const models = await Promise.all((opts.run.models?.length ? opts.run.models : [DEFAULT_MODEL]).map(async (m) => (await resolveModel(m)).id));
    const parentModels = parent === undefined ? undefined : [...new Set((await readMarkers(parent)).flatMap((m) => m.models ?? [m.model]))];
    const run = joinUri(opts.root, 'runs', runName(new Date()));
    const plan = await createPlan(opts.source, run, { ...opts.plan, since: parent, sinceModels: opts.newObjectsOnly ? undefined : models, dataset: opts.dataset ?? joinUri(opts.root, 'tags') });
    const summary = await runPlan({ ...opts.run, run }, log);
    return { run, parent, resumedParent, unchanged: plan.counts.unchanged, models, parentModels, summary };
  } finally {
    await got.lease.release();
  }
}
