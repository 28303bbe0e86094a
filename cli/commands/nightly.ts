import type { Command } from 'commander';
import { UserError } from '../../src/errors.js';
import { manifestSource } from '../../src/manifest/index.js';
import { NightlyRetryLater, PreviousRunBusy } from '../../src/nightly/busy.js';
import type { NightlyResult } from '../../src/nightly/nightly.js';
import { stopOnSignals } from '../../src/pool/stop.js';
import { finishRun, type Act, type Cli } from '../common/context.js';
import { runSummaryRows, table } from '../common/format.js';
import { globOptions, int, rate, runOptions, sourceOptions, type RunFlags, type SourceFlags } from '../common/options.js';

type NightlyFlags = RunFlags &
  SourceFlags & {
    include?: string[];
    exclude?: string[];
    root: string;
    dataset?: string;
    maxDeletions: number;
    glueTable?: string;
    retryErrors?: boolean;
    newObjectsOnly?: boolean;
    fleetThreshold?: number;
    jobQueue?: string;
    jobDefinition?: string;
    shardsPerTask?: number;
    compactJobQueue?: string;
    compactJobDefinition?: string;
    dryRun?: boolean;
    abandonPrevious?: boolean;
  };

function resultRows(res: NightlyResult): [string, string | number][] {
  const changed = res.parentModels !== undefined && res.parentModels.join(',') !== res.models.join(',');
  const c = res.plan.current?.counts;
  return [
    ['run', res.dryRun ? `${res.run} (dry run: nothing was written)` : res.nothingToDo ? 'none: nothing new, changed or deleted since the parent, so the dataset and the current table are as they were' : res.run],
    ...(res.dryRun?.unfinished ? [['previous run', `${res.dryRun.unfinished} is not in the current table yet: a real nightly finishes it first`] as [string, string]] : []),
    ...(res.abandoned ? [['abandoned', `${res.abandoned} (not finished; planned again from the current table)`] as [string, string]] : []),
    ['parent', res.parent ?? '(none: first run)'],
    ['models', res.models.join(', ')],
    ...(changed ? [['model change', `${res.parentModels!.join(', ')} -> ${res.models.join(', ')}`] as [string, string]] : []),
    ['unchanged since parent', `${res.plan.counts.unchanged}${res.plan.counts.untaggable ? ` (${res.plan.counts.untaggable} of them untaggable, left as error rows: --retry-errors tags them again)` : ''}`],
    ['new objects', c?.new ?? 0],
    ['changed or re-tagged', res.plan.counts.images - (c?.new ?? 0)],
    ['deleted since parent', c?.deleted ?? 0],
    ...(res.plan.counts.filtered !== undefined ? [['left out by filters', `${res.plan.counts.filtered} (not tagged; not in the current table)`] as [string, string]] : []),
    ...(res.summary ? runSummaryRows(res.summary) : [['images', res.plan.counts.images] as [string, number]]),
    ...(res.submitted
      ? ([
          ['fleet job', `${res.submitted.tagJob} (array of ${res.submitted.arraySize})`],
          ...(res.submitted.mergeJob ? [['merge job', `${res.submitted.mergeJob} (merges the dataset's files in parallel)`] as [string, string]] : []),
          ['compact job', `${res.submitted.compactJob} (then updates the current table)`],
        ] as [string, string][])
      : []),
  ];
}

/** imgtag nightly: tag only what is new or changed, and keep the current table (for cron). */
export function nightlyCommand(program: Command, cli: Cli, act: Act): void {
  runOptions(
    globOptions(sourceOptions(
      program
        .command('nightly')
        .description('tag only what is new or changed since the last nightly under --root (for cron), and keep <root>/current/: one row per live object with its newest tags')
        .requiredOption('--root <dir>', 'folder of the nightly: current/ (the current table), current.json, nightly.json, runs/<time>/, nightly.lock')
        .option('--dataset <dir>', "where the runs' rows go, as <dataset>/run_date=YYYY-MM-DD/*.parquet (default <root>/tags)")
        .option('--max-deletions <share>', "refuse a manifest that would delete more than this share (0 to 1) of the current table's objects: an empty or misread manifest never empties the table", rate, 0.1)
        .option('--glue-table <database.table>', 'move this Glue (Athena) table to each new version of the current table, in one call (terraform output athena_current_table)')
        .option('--retry-errors', 'tag again objects whose row is an error that would repeat (not an image, empty, truncated, too large); by default they wait for a new ETag or model')
        .option('--new-objects-only', 'tag only new or changed objects even when the model changed (default: a new model version re-tags everything)')
        .option('--fleet-threshold <n>', 'submit the run to AWS Batch when it has this many images or more (0: always); needs --job-queue and --job-definition', int(0))
        .option('--job-queue <arn>', 'fleet: job queue (terraform output job_queue)')
        .option('--job-definition <arn>', 'fleet: job definition (terraform output job_definition)')
        .option('--shards-per-task <k>', 'fleet: shards per array child (default: the fewest that fit the delta in 10,000 children)', int(1))
        .option('--compact-job-queue <arn>', 'fleet: queue of the compact job that then updates the current table (terraform output planning_queue)')
        .option('--compact-job-definition <arn>', 'fleet: its job definition (terraform output compact_job_definition)')
        .option('--abandon-previous', "give up the previous nightly's unfinished run (after stopping its runaway fleet job with aws batch terminate-job): it is not finished or resubmitted, and tonight plans again what it would have tagged")
        .option('--dry-run', 'plan in a scratch folder and say what would be done (for a fleet delta, the SubmitJob requests): nothing under --root changes, nothing is tagged or submitted'),
    )),
  ).action(
    act(async (o: NightlyFlags) => {
      if (o.fleetThreshold !== undefined && (!o.jobQueue || !o.jobDefinition)) throw new UserError('--fleet-threshold needs --job-queue and --job-definition');
      const fleet =
        o.fleetThreshold === undefined
          ? undefined
          : { threshold: o.fleetThreshold, jobQueue: o.jobQueue!, jobDefinition: o.jobDefinition!, shardsPerTask: o.shardsPerTask, compact: { jobQueue: o.compactJobQueue, jobDefinition: o.compactJobDefinition } };
      let res: NightlyResult;
      try {
        const { runNightly } = await import('../../src/nightly/nightly.js');
        res = await runNightly(
          { root: o.root, source: manifestSource(o), plan: { shardSize: o.shardSize, shards: o.shards, ...(o.include || o.exclude ? { filter: { include: o.include, exclude: o.exclude } } : {}) }, run: { ...o, models: o.model, s3: cli.s3(), stop: stopOnSignals(o.stopTimeout) }, newObjectsOnly: o.newObjectsOnly, retryErrors: o.retryErrors, glueTable: o.glueTable, dataset: o.dataset, maxDeletions: o.maxDeletions, dryRun: o.dryRun, abandonPrevious: o.abandonPrevious, fleet },
          cli.log,
        );
      } catch (e) {
        if (e instanceof NightlyRetryLater) {
          cli.log({ event: 'notice', message: `${e.message}: exit 3` });
          return 3;
        }
        if (!(e instanceof PreviousRunBusy)) throw e;
        // An overlap, a resubmission or a wait is normal: the scheduled job succeeds (no alarm) and says so, for people and for logs.
        cli.log({ event: e.event, reason: e.message });
        cli.log({ event: 'notice', message: `${e.headline}: ${e.message}` });
        return 0;
      }
      // For cron's log too: a night with nothing to do is a success that wrote nothing.
      if (res.nothingToDo) cli.log({ event: 'nightly-unchanged', parent: res.parent, reason: 'nothing new, changed or deleted since the parent: nothing written' });
      const out = [table(resultRows(res)), ...(res.submitted?.requests ? [JSON.stringify(res.submitted.requests, null, 2)] : [])];
      if (res.summary) return finishRun(cli, res.summary, o.maxErrorRate, out);
      for (const line of out) console.log(line);
      return 0;
    }),
  );
}
