import type { Command } from 'commander';
import { manifestSource } from '../../src/manifest/index.js';
import { exitOnSignal } from '../../src/pool/stop.js';
import { planIdentity } from '../../src/rundir/plan-file.js';
import type { Act } from '../common/context.js';
import { table } from '../common/format.js';
import { sourceOptions, type SourceFlags } from '../common/options.js';

type PlanFlags = SourceFlags & { run: string; since?: string; dataset?: string; retryErrors?: boolean };

/** imgtag plan: a manifest, streamed, into shard files and plan.json. */
export function planCommand(program: Command, act: Act): void {
  sourceOptions(
    program
      .command('plan')
      .description('read a manifest as a stream and write shard files and plan.json into a run directory')
      .requiredOption('--run <dir>', 'run directory: local path or s3://bucket/prefix')
      .option('--dataset <dir>', "where the run's rows go when compacted, as <dataset>/run_date=YYYY-MM-DD/*.parquet: give runs the same one to query them as one table (default <run>/tags)")
      .option('--since <run>', 'leave out objects this earlier run (or its ancestors) tagged with the same ETag')
      .option('--retry-errors', 'with --since: tag again objects whose newest row is an error that would repeat (not an image, too large)'),
  ).action(
    act(async (o: PlanFlags) => {
      const { createPlan } = await import('../../src/plan/plan.js');
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
      return 0;
    }),
  );
}
