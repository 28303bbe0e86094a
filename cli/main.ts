import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { UserError, errorMessage } from '../src/errors.js';
import { manifestSource } from '../src/manifest/index.js';
import { DEFAULTS } from '../src/defaults.js';
import type { NightlyResult } from '../src/nightly/nightly.js';
import { NightlyRetryLater, PreviousRunBusy } from '../src/nightly/busy.js';
import { DEVICES } from '../src/defaults.js';
import { fleetTaskShards, INDEX_VARIABLES } from '../src/fleet/task-index.js';
import { planIdentity } from '../src/rundir/plan-file.js';
import { configureS3, type S3Options } from '../src/storage/s3-client.js';
import { compactionLine, currentRows, errorRateLine, exitCodeFor, runSummaryRows, table, unfinishedLines } from './format.js';
import type { RunSummary } from '../src/run/run-plan.js';
import { progressReporter } from './progress.js';
import { exitOnSignal, stopOnSignals } from '../src/pool/stop.js';
import { readTuningConfig } from '../src/tune/config-file.js';
import { int, positiveNumber, rate, priceOptions, priceRequest, runOptions, sourceOptions, type RunFlags, type SourceFlags } from './options.js';
import { settings } from '../src/settings.js';

/** The exit code of a run, the line that explains a 4, and the run's last progress line: its summary. */
function finish(summary: RunSummary, maxErrorRate: number | undefined): void {
  const line = errorRateLine(summary, maxErrorRate);
  if (line) console.error(line);
  exitCode = exitCodeFor(summary, maxErrorRate);
  const { markers: _, compaction, ...counts } = summary;
  logEvent({ event: 'summary', exitCode, ...counts, ...(compaction ? { compaction: compaction.status } : {}) });
}

const PACKAGE_VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** A progress bar on a terminal; JSON lines on stderr for cron jobs and fleet logs. */
const logEvent = progressReporter();

/** The exit code the running command sets (see main). */
let exitCode = 0;

const program = new Command('imgtag')
  .exitOverride()
  .description('Tag images in S3 (or on disk) with an ONNX model, in batch: plan a manifest into shards, run them into Parquet.')
  .option('--endpoint <url>', 'S3-compatible endpoint (default: AWS_ENDPOINT_URL); uses path-style addressing')
  .option('--region <region>', 'AWS region (default: AWS_REGION, else us-east-1)')
  .version(PACKAGE_VERSION, '--version', 'print the version')
  // A mistyped flag gets one line and where to look, not 30 lines of usage.
  .showHelpAfterError('(imgtag <command> --help shows the options)')
  // The one place the S3 client is configured: from the global flags, before the command's action.
  .hook('preAction', () => {
    const o = program.opts<{ endpoint?: string; region?: string }>();
    s3 = { endpoint: o.endpoint, region: o.region };
    configureS3(s3);
  });

/** S3 settings from the global flags, set once before any command runs (preAction, below). */
let s3: S3Options = {};

sourceOptions(
  program
    .command('plan')
    .description('read a manifest as a stream and write shard files and plan.json into a run directory')
    .requiredOption('--run <dir>', 'run directory: local path or s3://bucket/prefix')
    .option('--dataset <dir>', 'where the run\'s rows go when compacted, as <dataset>/run_date=YYYY-MM-DD/*.parquet: give runs the same one to query them as one table (default <run>/tags)')
    .option('--since <run>', 'leave out objects this earlier run (or its ancestors) tagged with the same ETag')
    .option('--retry-errors', 'with --since: tag again objects whose newest row is an error that would repeat (not an image, too large)'),
).action(async (o: SourceFlags & { run: string; since?: string; dataset?: string; retryErrors?: boolean }) => {
  const { createPlan } = await import('../src/plan/plan.js');
  exitOnSignal('planning');
  const plan = await createPlan(manifestSource(o), o.run, { shardSize: o.shardSize, shards: o.shards, since: o.since, dataset: o.dataset, retryErrors: o.retryErrors });
  console.log(
    table([
      ['run', o.run],
      ['dataset', planIdentity(o.run, plan).dataset],
      ['manifest rows', plan.counts.rows],
      ['images', plan.counts.images],
      ['skipped (not images)', plan.counts.skipped],
      ...(o.since !== undefined ? [['unchanged since parent', plan.counts.unchanged] as [string, number]] : []),
      ['shards', plan.shards],
    ]),
  );
});

runOptions(
  program
    .command('run')
    .description('tag the shards of a planned run into results/*.parquet, each with a commit marker; committed shards are skipped')
    .requiredOption('--run <dir>', 'run directory: local path or s3://bucket/prefix')
    .addOption(new Option('--shard <i>', 'tag only this shard').argParser(int(0)).conflicts('shardFromEnv'))
    .option('--shard-from-env', `tag this fleet task's shards: index from ${INDEX_VARIABLES.join(' or ')}`)
    .option('--shards-per-task <k>', 'with --shard-from-env: task i tags shards i*k .. i*k+k-1', int(1), 1)
    .option('--config <file>', 'batch size, concurrency, threads and workers from a file (tune writes reports/tuning-config.json); flags win')
    .option('--no-compact', 'leave the per-shard files staged when every shard is committed (compact later with imgtag compact); --shard and --shard-from-env never compact'),
).action(async (o: RunFlags & { run: string; shard?: number; shardFromEnv?: boolean; shardsPerTask: number; config?: string; compact: boolean }, cmd: Command) => {
  if (o.config) {
    // The file's values for every flag not given on the command line.
    const config = await readTuningConfig(o.config);
    for (const [key, v] of Object.entries(config)) if (cmd.getOptionValueSource(key) !== 'cli') (o as unknown as Record<string, unknown>)[key] = v;
  }
  const shards = o.shardFromEnv ? await fleetTaskShards(o.run, o.shardsPerTask) : o.shard === undefined ? undefined : [o.shard];
  // A fleet task's share is one part of a run: the compact job that submit chains merges the whole.
  const compact = o.compact === false || shards !== undefined ? false : {};
  const { runPlan } = await import('../src/run/run-plan.js');
  const summary = await runPlan({ ...o, models: o.model, shards, s3, compact, stop: stopOnSignals(o.stopTimeout) }, logEvent);
  console.log(table(runSummaryRows(summary)));
  for (const line of unfinishedLines(summary)) console.error(line);
  if (summary.interrupted) console.error(`imgtag: interrupted by ${summary.interrupted}: ${summary.failedShards.length} shard(s) left unfinished, no lease held: exit 3, run the same command again to finish them`);
  else if (summary.failedShards.length > 0) console.error('run the same command again to finish the remaining shards');
  finish(summary, o.maxErrorRate);
});

runOptions(
  program
    .command('demo')
    .description('the whole job locally, no cloud account: a loopback S3 server, images, a key list, plan, run, summary')
    .option('--images <dir>', 'a folder of images to tag (default: generated images)')
    .option('--count <n>', 'how many images to generate', int(1), 200)
    .option('--run <dir>', 'run directory for the results', path.join('runs', `demo-${Date.now()}`)),
).action(async (o) => {
  const { runDemo } = await import('../src/demo/demo.js');
  const res = await runDemo({ ...o, models: o.model, stop: stopOnSignals(o.stopTimeout) }, logEvent);
  console.log(table([['S3 server', `${res.endpoint} (stopped)`], ['results', path.resolve(res.run)], ...runSummaryRows(res.summary)]));
  console.log('\ntop tags');
  console.log(table(res.top.map((t) => [t.label, t.count])));
  finish(res.summary, o.maxErrorRate);
});

runOptions(
  sourceOptions(
    program
      .command('nightly')
      .description('tag only what is new or changed since the last nightly under --root (for cron), and keep <root>/current/: one row per live object with its newest tags')
      .requiredOption('--root <dir>', 'folder of the nightly: current/ (the current table), current.json, nightly.json, runs/<time>/, nightly.lock')
      .option('--dataset <dir>', 'where the runs\' rows go, as <dataset>/run_date=YYYY-MM-DD/*.parquet (default <root>/tags)')
      .option('--max-deletions <share>', 'refuse a manifest that would delete more than this share (0 to 1) of the current table\'s objects: an empty or misread manifest never empties the table', rate, 0.1)
      .option('--glue-table <database.table>', 'move this Glue (Athena) table to each new version of the current table, in one call (terraform output athena_current_table)')
      .option('--retry-errors', 'tag again objects whose row is an error that would repeat (not an image, empty, truncated, too large); by default they wait for a new ETag or model')
      .option('--new-objects-only', 'tag only new or changed objects even when the model changed (default: a new model version re-tags everything)')
      .option('--fleet-threshold <n>', 'submit the run to AWS Batch when it has this many images or more (0: always); needs --job-queue and --job-definition', int(0))
      .option('--job-queue <arn>', 'fleet: job queue (terraform output job_queue)')
      .option('--job-definition <arn>', 'fleet: job definition (terraform output job_definition)')
      .option('--shards-per-task <k>', 'fleet: shards per array child (default: the fewest that fit the delta in 10,000 children)', int(1))
      .option('--compact-job-queue <arn>', 'fleet: queue of the compact job that then updates the current table (terraform output planning_queue)')
      .option('--compact-job-definition <arn>', 'fleet: its job definition (terraform output compact_job_definition)')
      .option('--dry-run', 'plan in a scratch folder and say what would be done (for a fleet delta, the SubmitJob requests): nothing under --root changes, nothing is tagged or submitted'),
  ),
).action(async (o) => {
  if (o.fleetThreshold !== undefined && (!o.jobQueue || !o.jobDefinition)) throw new UserError('--fleet-threshold needs --job-queue and --job-definition');
  const fleet =
    o.fleetThreshold === undefined
      ? undefined
      : { threshold: o.fleetThreshold, jobQueue: o.jobQueue, jobDefinition: o.jobDefinition, shardsPerTask: o.shardsPerTask, compact: { jobQueue: o.compactJobQueue, jobDefinition: o.compactJobDefinition } };
  let res: NightlyResult;
  try {
    const { runNightly } = await import('../src/nightly/nightly.js');
    res = await runNightly(
      { root: o.root, source: manifestSource(o), plan: { shardSize: o.shardSize, shards: o.shards }, run: { ...o, models: o.model, s3, stop: stopOnSignals(o.stopTimeout) }, newObjectsOnly: o.newObjectsOnly, retryErrors: o.retryErrors, glueTable: o.glueTable, dataset: o.dataset, maxDeletions: o.maxDeletions, dryRun: o.dryRun, fleet },
      logEvent,
    );
  } catch (e) {
    if (e instanceof NightlyRetryLater) {
      console.error(`imgtag: ${e.message}: exit 3`);
      exitCode = 3;
      return;
    }
    if (!(e instanceof PreviousRunBusy)) throw e;
    // An overlap is normal: the scheduled job succeeds (no alarm) and says so, for people and for logs.
    logEvent({ event: 'nightly-busy', reason: e.message });
    console.error(`imgtag: nothing started tonight, the previous nightly is still going: ${e.message}`);
    return;
  }
  const changed = res.parentModels !== undefined && res.parentModels.join(',') !== res.models.join(',');
  const c = res.plan.current?.counts;
  console.log(
    table([
      ['run', res.dryRun ? `${res.run} (dry run: nothing was written)` : res.run],
      ...(res.dryRun?.unfinished ? [['previous run', `${res.dryRun.unfinished} is not in the current table yet: a real nightly finishes it first`] as [string, string]] : []),
      ['parent', res.parent ?? '(none: first run)'],
      ['models', res.models.join(', ')],
      ...(changed ? [['model change', `${res.parentModels!.join(', ')} -> ${res.models.join(', ')}`] as [string, string]] : []),
      ['unchanged since parent', `${res.plan.counts.unchanged}${res.plan.counts.untaggable ? ` (${res.plan.counts.untaggable} of them untaggable, left as error rows: --retry-errors tags them again)` : ''}`],
      ['new objects', c?.new ?? 0],
      ['changed or re-tagged', res.plan.counts.images - (c?.new ?? 0)],
      ['deleted since parent', c?.deleted ?? 0],
      ...(res.summary ? runSummaryRows(res.summary) : [['images', res.plan.counts.images] as [string, number]]),
      ...(res.submitted
        ? ([
            ['fleet job', `${res.submitted.tagJob} (array of ${res.submitted.arraySize})`],
            ...(res.submitted.mergeJob ? [['merge job', `${res.submitted.mergeJob} (merges the dataset's files in parallel)`] as [string, string]] : []),
            ['compact job', `${res.submitted.compactJob} (then updates the current table)`],
          ] as [string, string][])
        : []),
    ]),
  );
  if (res.submitted?.requests) console.log(JSON.stringify(res.submitted.requests, null, 2));
  if (res.summary) finish(res.summary, o.maxErrorRate);
});

priceOptions(
  program
    .command('tune')
    .description('run the pipeline on the same sample under a sequence of configurations; report time and cost per iteration')
    .requiredOption('--run <dir>', 'a planned run directory')
    .option('--model <path|name>', 'model', DEFAULTS.model)
    .option('--sample <n>', 'images in the sample', int(1), 200)
    .option('--repeats <n>', 'runs of each setting (median and spread reported)', int(1), 3)
    .addOption(new Option('--device <device>', 'onnxruntime execution provider').choices(DEVICES).default(DEFAULTS.device))
    .option('--max-pixels <n>', 'refuse images larger than this many pixels', int(1), DEFAULTS.maxPixels),
).action(async (o) => {
  const [{ tune }, { projectionLine }] = await Promise.all([import('../src/tune/tune.js'), import('../src/report/cost-table.js')]);
  const res = await tune({ ...o, price: priceRequest(o), s3 }, logEvent);
  const w = res.winner;
  console.log(table([
    ['iterations', `${res.iterations.length}, ${res.repeats} runs each`],
    ['winner', `#${w.index}: ${JSON.stringify(w.config)}`],
    ['images/s', `${w.imagesPerSecond.toFixed(1)} median, spread ${(100 * w.spread).toFixed(1)}% (${w.repetitions.map((x) => x.toFixed(1)).join(', ')})`],
    ['measured on', res.machine],
    ['rate used', res.pricing.rateBasis],
    ['whole plan', projectionLine(w.projection, res.pricing)],
    ['config', res.configFile],
    ['reports', res.reports.join('\n              ')],
  ]));
});

priceOptions(
  program
    .command('report')
    .description('aggregate a run (finished or in progress) into reports/report.{json,md,html}: images, failures, rate, stages, cost, ETA')
    .requiredOption('--run <dir>', 'run directory'),
).action(async (o) => {
  const [{ buildRunReport }, { runReportSections, writeReports }, { usd }, { projectionLine }] = await Promise.all([
    import('../src/report/aggregate.js'),
    import('../src/report/run-report.js'),
    import('../src/report/render.js'),
    import('../src/report/cost-table.js'),
  ]);
  const r = await buildRunReport(o.run, priceRequest(o));
  const files = await writeReports(o.run, 'report', `imgtag run report: ${o.run}`, r, runReportSections(r));
  console.log(table([
    ['state', r.complete ? 'complete' : `in progress (${r.shards.committed}/${r.shards.planned} shards)`],
    ['images done', r.images.done],
    ['error rows', r.images.failed],
    ['images/s', `${r.imagesPerSecond.toFixed(1)} while tagging, ${r.imagesPerMachineSecond.toFixed(1)} per machine`],
    ['measured on', r.machines.join('; ') || 'not recorded'],
    ['rate used', r.pricing.rateBasis],
    ['bottleneck', r.bottleneck ?? 'n/a (nothing committed yet)'],
    ['cost so far', r.cost ? `${usd(r.cost.totalUsd)} on demand${r.cost.spot ? `, ${usd(r.cost.spot.totalUsd)} spot` : ''}` : '$0 (nothing committed yet)'],
    ['whole plan', projectionLine(r.projection, r.pricing)],
    ...(r.etaSeconds !== undefined ? [['ETA seconds', Math.ceil(r.etaSeconds)] as [string, number]] : []),
    ['reports', files.join('\n             ')],
  ]));
});

program
  .command('compact')
  .description('merge a finished run\'s per-shard Parquet into large sorted files in its dataset, exactly once (run does this by itself when it finishes a run)')
  .requiredOption('--run <dir>', 'run directory')
  .option('--target-file-mb <mb>', 'size of each merged file', positiveNumber, DEFAULTS.compact.targetFileMb)
  .option('--row-group-mb <mb>', 'size of each row group', positiveNumber, DEFAULTS.compact.rowGroupMb)
  .option('--memory-mb <mb>', 'memory for each merge\'s sort; beyond it, it spills to local disk', positiveNumber, DEFAULTS.compact.memoryMb)
  .option('--workers <n>', 'files merged at once, each under its own lease, in its own process, with its own --memory-mb (they share the cores)', int(1), 1)
  .option('--merge-only', 'merge files only (a fleet array child; any number may run at once): done.json, the current table and removing staged files are left to one compact without it')
  .action(async (o) => {
    const { compactRun } = await import('../src/compact/compact.js');
    const { releaseHeldLocks } = await import('../src/lease/lease.js');
    // Leases given back at once: a stopped merge's group is taken by another process, not after 2 minutes.
    exitOnSignal('compacting', undefined, releaseHeldLocks);
    const c = await compactRun(o.run, { targetFileMb: o.targetFileMb, rowGroupMb: o.rowGroupMb, memoryMb: o.memoryMb, workers: o.workers, mergeOnly: o.mergeOnly });
    console.log(table([['run', o.run], ['dataset', compactionLine(c)], ...currentRows(c), ...('seconds' in c ? [['seconds', c.seconds.toFixed(1)] as [string, string]] : [])]));
    if (c.status === 'incomplete') console.error(`imgtag: not every shard is committed: run "imgtag run --run ${o.run}" to finish them, then compact`);
    if (c.status === 'leased') console.error('imgtag: another process is compacting this run: run the same command again later');
    exitCode = c.status === 'incomplete' || c.status === 'leased' ? 3 : 0;
  });

program
  .command('current')
  .description('where the current table of a nightly root is now: its version\'s folder, rows, the run it reflects, and a DuckDB query over it')
  .requiredOption('--root <dir>', 'the nightly\'s --root')
  .action(async (o: { root: string }) => {
    const { readCurrent } = await import('../src/rundir/current.js');
    const { dirnameUri } = await import('../src/storage/uri.js');
    const current = await readCurrent(o.root);
    if (current === undefined) throw new UserError(`${o.root} has no current table yet: the first nightly makes it`);
    const location = current.location ?? `${dirnameUri(current.files[0]?.uri ?? `${o.root}/current/x`)}/`;
    console.log(table([['location', location], ['rows', current.rows], ['run', current.run], ['updated', current.updatedAt], ['duckdb', `SELECT * FROM read_parquet('${location}*.parquet')`]]));
  });

program
  .command('verify')
  .description('check a compacted run\'s dataset files against compaction/done.json: size, footer row count, sha256; --repair makes damaged ones again from their shards')
  .requiredOption('--run <dir>', 'run directory')
  .option('--repair', 'forget the damaged files\' shards (their commit markers), so that "imgtag run" re-tags them and compacts just those files')
  .action(async (o: { run: string; repair?: boolean }) => {
    const { loadPlan } = await import('../src/rundir/plan-file.js');
    const { checkDataset, repairDataset } = await import('../src/compact/verify.js');
    const { readState } = await import('../src/rundir/compaction.js');
    await loadPlan(o.run);
    const done = await readState<import('../src/rundir/compaction.js').CompactionDone>(o.run, 'done.json');
    if (done === undefined) throw new UserError(`${o.run} is not compacted yet: nothing to verify (its shards are checked by run and report)`);
    const damage = await checkDataset(done, true);
    for (const d of damage) console.error(`imgtag: ${d.uri} ${d.why}`);
    if (damage.length === 0) return console.log(table([['run', o.run], ['dataset', `${done.files.length} file(s), ${done.rows} rows: sizes, row counts and checksums as done.json records`]]));
    if (!o.repair) {
      console.error(`imgtag: ${damage.length} of ${done.files.length} file(s) damaged: "imgtag verify --run ${o.run} --repair", then "imgtag run --run ${o.run}", re-tags their shards`);
      exitCode = 1;
      return;
    }
    const r = await repairDataset(o.run, damage);
    console.log(table([['run', o.run], ['repair', `${r.groups.length} file(s) to make again from ${r.shards.length} shard(s): now run "imgtag run --run ${o.run}"`]]));
  });

program
  .command('submit')
  .description('submit a planned run to AWS Batch as an array job (one child per --shards-per-task shards)')
  .requiredOption('--run <dir>', 'the planned run directory (s3://...)')
  .requiredOption('--job-queue <arn>', 'job queue (terraform output job_queue)')
  .requiredOption('--job-definition <arn>', 'job definition (terraform output job_definition)')
  .option('--shards-per-task <k>', 'shards per array child (default: the fewest that fit the run in AWS Batch\'s 10,000 children)', int(1))
  .option('--job-name <name>', 'job name (default: from the run directory)')
  .option('--compact-job-queue <arn>', 'queue of the compact job that follows the array (terraform output planning_queue; default: --job-queue)')
  .option('--compact-job-definition <arn>', 'its job definition (terraform output compact_job_definition; default: --job-definition)')
  .option('--compact-children <n>', 'array children that merge the dataset\'s files in parallel before the last compact step (default: one per 10 M images, at most 32)', int(1))
  .option('--dry-run', 'print the SubmitJob requests instead of sending them')
  .action(async (o) => {
    const { submitRun } = await import('../src/fleet/submit.js');
    const res = await submitRun({ ...o, compact: { jobQueue: o.compactJobQueue, jobDefinition: o.compactJobDefinition, children: o.compactChildren } });
    if (o.dryRun) return console.log(JSON.stringify(res.requests, null, 2));
    console.log(table([['job id', res.tagJob], ['array size', res.arraySize], ...(res.mergeJob ? [['merge job id', `${res.mergeJob} (array of ${res.requests.merge!.arrayProperties!.size}: the dataset's files, merged in parallel)`] as [string, string]] : []), ['compact job id', `${res.compactJob} (the last step: starts when every child has finished)`]]));
  });

/**
 * Run imgtag with these arguments (process.argv's shape) and answer its exit code; nothing here
 * calls process.exit. 0: done; 1: could not run (one line on stderr says why); 3: unfinished,
 * run again; 4: over --max-error-rate. Commander's own (--help, --version, a bad flag) keep theirs.
 */
export async function main(argv: string[]): Promise<number> {
  exitCode = 0;
  try {
    // Every IMGTAG_* variable checked before anything runs: a bad one is refused by name here.
    settings();
    await program.parseAsync(argv);
    return exitCode;
  } catch (e: unknown) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof UserError) console.error(`imgtag: ${e.message}`);
    else console.error(`imgtag: ${errorMessage(e)}`, settings().debug ? e : '');
    return 1;
  }
}
