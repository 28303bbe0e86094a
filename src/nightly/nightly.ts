import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { UserError } from '../errors.js';
import { NightlyRetryLater, PreviousRunBusy } from './busy.js';
import { dryRunSubmission, resumeFleetRun, submitNightly, type FleetSubmitted, type NightlyFleet } from './fleet-run.js';

export type { NightlyFleet } from './fleet-run.js';
import { awaitInventory } from './inventory-wait.js';
import { settleStreams } from './streams.js';
import { compactRun } from '../compact/compact.js';
import { readCurrent, readLatestRun, rootId, writeLatestRun, type LatestRun } from '../rundir/current.js';
import { tidyCurrent } from '../current/update.js';
import { acquireLock } from '../lease/lease.js';
import type { ManifestSource } from '../manifest/index.js';
import { committedShards } from '../rundir/commits.js';
import { loadPlan, type Plan } from '../rundir/plan-file.js';
import { createPlan, type PlanOptions } from '../plan/plan.js';
import { dropScratch, scratchDir } from '../temp/scratch.js';
import { runPlan, type RunEvent, type RunOptions, type RunSummary } from '../run/run-plan.js';
import { deleteTree } from '../storage/storage.js';
import { joinUri } from '../storage/uri.js';
import { exitOnSignal } from '../pool/stop.js';
import { runName } from '../rundir/layout.js';
import { modelsOrDefault } from '../defaults.js';
import { resolveModel } from '../model/resolve.js';
import { settings } from '../settings.js';

/**
 * nightly.lock holds this many lease times (10 minutes by default), renewed while the nightly runs:
 * a nightly whose host was lost leaves it to expire, and the next attempt (Batch retries a lost host)
 * takes it after that.
 */
const LOCK_LEASES = 5;

export interface NightlyOptions {
  /** Holds current/, current.json, nightly.json, runs/<time>/ and nightly.lock. */
  root: string;
  source: ManifestSource;
  /**
   * Shard sizes, and `filter`: the keys a nightly keeps (--include/--exclude). The current table
   * holds only those: an object the filters leave out is not tagged, and its row, if an earlier
   * night tagged it, leaves the current table as a deletion (which --max-deletions guards).
   */
  plan: Pick<PlanOptions, 'shardSize' | 'shards' | 'filter'>;
  run: Omit<RunOptions, 'run' | 'shards'>;
  /** Tag only new or changed objects even when the models changed (default: a new model version re-tags everything). */
  newObjectsOnly?: boolean;
  /** Tag again objects whose row is a permanent error (default: they wait for a new ETag or model). */
  retryErrors?: boolean;
  /** Where every nightly run's rows go (default `<root>/tags`). */
  dataset?: string;
  /** The Glue (Athena) table to move to each new version of the current table: database.table. */
  glueTable?: string;
  /** The share of the current table's objects one night may delete (default 0.1): more is refused as bad input. */
  maxDeletions?: number;
  /**
   * Plan in a scratch folder and say what would be done (the SubmitJob requests of a fleet delta):
   * nothing under the root changes (no plan, no nightly.json, no current table), nothing is tagged.
   */
  dryRun?: boolean;
  /**
   * Give up the previous nightly's unfinished run (an operator stopped its runaway fleet job): it is
   * not finished or resubmitted; tonight plans against the current table, so what that run would
   * have tagged is planned again. Its committed shards stay in its folder, in no table.
   */
  abandonPrevious?: boolean;
  fleet?: NightlyFleet;
}

export interface NightlyResult {
  run: string;
  /** The run the current table reflected when this one was planned. */
  parent?: string;
  /** The previous nightly's run, finished here first (a crash had left it unfinished). */
  resumedParent?: RunSummary;
  /** The previous nightly's unfinished run, given up on (--abandon-previous). */
  abandoned?: string;
  plan: Plan;
  /** Model ids of this run, and of the previous nightly where they differ (a version change). */
  models: string[];
  parentModels?: string[];
  /** Tagged here... */
  summary?: RunSummary;
  /** Nothing new, changed or deleted since the parent: the run planned to find out is removed, and the dataset and current table are as they were. */
  nothingToDo?: true;
  /** A dry run: nothing was written; the previous run a real nightly would finish first, if any. */
  dryRun?: { unfinished?: string };
  /** ...or submitted to the fleet: the array job and the job that compacts it and updates the current table. */
  submitted?: FleetSubmitted;
}

/** Mark the previous run, if the current table does not reflect it yet, as given up on; answers it. */
async function abandonPrevious(root: string, latest: LatestRun | undefined): Promise<string | undefined> {
  if (latest === undefined || latest.abandoned || (await readCurrent(root))?.run === latest.run) return undefined;
  await writeLatestRun(root, { ...latest, abandoned: true });
  return latest.run;
}

/** A nightly run tagged here always compacts: that is what updates the current table. */
const localRun = (opts: NightlyOptions, run: string): RunOptions => ({ ...opts.run, run, compact: opts.run.compact || undefined });

/**
 * Bring the current table up to the previous nightly's run, if it is not yet: a run tagged here is
 * finished here (its unfinished shards, compaction, the table); a fleet run is only compacted here,
 * once every shard is committed; else its job is still going (PreviousRunBusy) or it ended and its
 * unfinished shards are resubmitted (see resumeFleetRun).
 */
async function settlePrevious(root: string, latest: LatestRun | undefined, opts: NightlyOptions, log: (e: RunEvent) => void): Promise<RunSummary | undefined> {
  if (latest === undefined || latest.abandoned || (await readCurrent(root))?.run === latest.run) return undefined;
  const plan = await loadPlan(latest.run);
  if (latest.fleet !== undefined) {
    const committed = (await committedShards(latest.run)).size;
    if (committed < plan.shards) await resumeFleetRun(root, latest, plan.shards, committed, opts.fleet);
    const c = await compactRun(latest.run);
    if (c.status !== 'compacted' && c.status !== 'already') throw new PreviousRunBusy(`the previous nightly run ${latest.run} is being compacted: try again later`);
    return undefined;
  }
  const resumed = await runPlan(localRun(opts, latest.run), log);
  if (resumed.interrupted) throw new NightlyRetryLater(`interrupted (${resumed.interrupted}) while finishing the previous nightly run ${latest.run}: run the nightly again`);
  if (resumed.leased > 0) {
    throw new NightlyRetryLater(`the previous nightly run ${latest.run} has ${resumed.leased} shard(s) held by another worker's lease: run the nightly again later`);
  }
  if (resumed.failedShards.length > 0 || (await readCurrent(root))?.run !== latest.run) {
    throw new UserError(`the previous nightly run ${latest.run} still has unfinished shards: fix that first`);
  }
  return resumed;
}

/**
 * Tag only what is new or changed: lock; bring the current table up to the last nightly; join the
 * manifest against that table alone (never against older runs, which may be expired); tag the delta
 * here or on the fleet; the finished run becomes the current table. Cron-safe: a second nightly
 * while one is running is refused by the lock.
 */
export async function runNightly(opts: NightlyOptions, log: (e: RunEvent) => void): Promise<NightlyResult> {
  const root = rootId(opts.root);
  if (opts.dryRun) return dryRun(root, opts);
  const lockUri = joinUri(root, 'nightly.lock');
  const got = await acquireLock(lockUri, LOCK_LEASES * settings().leaseTtlMs);
  if ('holder' in got) {
    throw new PreviousRunBusy(`another nightly run holds ${lockUri} (owner ${got.holder.owner}, since ${got.holder.since}): not starting`);
  }
  try {
    // First, what a crash between tables left: from now on readers see one table again.
    await tidyCurrent(root);
    let latest = await readLatestRun(root);
    const abandoned = opts.abandonPrevious ? await abandonPrevious(root, latest) : undefined;
    if (abandoned) latest = { ...latest!, abandoned: true };
    const resumedParent = await settlePrevious(root, latest, opts, log);
    // An Inventory configuration's first report comes within 48 hours: until then, a quiet wait.
    const source = await awaitInventory(root, opts.source);
    // The stream's closed sessions merged into the dataset before the join folds their rows in.
    await settleStreams(root);
    const models = await modelIds(opts);
    const run = nightlyRunUri(root);
    // Planning has no graceful stop: a signal ends it at once, the lock given back.
    const planning = exitOnSignal('planning the nightly', opts.run.stop, () => got.lease.release());
    const plan = await createPlan(source, run, planOptions(root, latest, models, opts)).finally(planning);
    // The plan read the current table it joined against: its run is the parent.
    const result: NightlyResult = { run, parent: plan.current?.base, resumedParent, ...(abandoned ? { abandoned } : {}), plan, models, parentModels: latest?.models };
    if (nothingChanged(plan)) {
      await deleteTree(run);
      return { ...result, nothingToDo: true };
    }
    const fleet = opts.fleet;
    if (fleet !== undefined && plan.counts.images >= fleet.threshold) return { ...result, submitted: await submitNightly(root, { version: 1, run, models }, fleet) };
    await writeLatestRun(root, { version: 1, run, models });
    const summary = await runPlan(localRun(opts, run), log);
    return { ...result, summary };
  } finally {
    await got.lease.release();
  }
}

/** A plan against a current table that finds nothing to tag, nothing deleted and nothing from the stream to fold in: a new table version would be the same rows. */
const nothingChanged = (plan: Plan) => plan.counts.images === 0 && plan.current?.base !== undefined && plan.current.counts.deleted === 0 && !plan.current.counts.stream;

/**
 * A new run folder: its time, and a random tail so that two nightlies started in the same second on
 * a store without conditional writes (where both may take the lock) never plan into one folder.
 */
const nightlyRunUri = (root: string) => joinUri(root, 'runs', `${runName(new Date())}-${randomUUID().slice(0, 6)}`);

/** The exact model bytes decide what counts as tagged: their ids are resolved (and verified) first. */
const modelIds = (opts: NightlyOptions) => Promise.all(modelsOrDefault(opts.run.models).map(async (m) => (await resolveModel(m)).id));

function planOptions(root: string, latest: LatestRun | undefined, models: string[], opts: NightlyOptions): PlanOptions {
  return {
    ...opts.plan,
    current: { root, baseModels: latest?.models, maxDeletions: opts.maxDeletions, glueTable: opts.glueTable },
    sinceModels: opts.newObjectsOnly ? undefined : models,
    retryErrors: opts.retryErrors,
    dataset: opts.dataset ?? joinUri(root, 'tags'),
  };
}

/**
 * --dry-run: the same join, planned into a scratch folder, and what a real nightly would do with
 * it. No lock, no plan under the root, no nightly.json, no tidying: the next real nightly runs as
 * if this never happened. A previous run not yet in the current table is named, not finished.
 */
async function dryRun(root: string, opts: NightlyOptions): Promise<NightlyResult> {
  const latest = await readLatestRun(root);
  const current = await readCurrent(root);
  const models = await modelIds(opts);
  const run = nightlyRunUri(root);
  const scratch = await scratchDir('plan');
  try {
    const plan = await createPlan(opts.source, path.join(scratch, 'run'), planOptions(root, latest, models, opts));
    const result: NightlyResult = {
      run,
      parent: plan.current?.base,
      plan,
      models,
      parentModels: latest?.models,
      dryRun: latest !== undefined && current?.run !== latest.run ? { unfinished: latest.run } : {},
    };
    const fleet = opts.fleet;
    if (fleet === undefined || plan.counts.images < fleet.threshold) return result;
    const r = await dryRunSubmission(run, fleet, plan);
    return { ...result, submitted: r };
  } finally {
    await dropScratch(scratch);
  }
}
