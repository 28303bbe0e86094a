import type { Command } from 'commander';
import type { PriceRequest } from '../../src/report/prices.js';
import type { Plan } from '../../src/rundir/plan-file.js';
import { manifestSource } from '../../src/manifest/index.js';
import { exitOnSignal } from '../../src/pool/stop.js';
import { planIdentity } from '../../src/rundir/plan-file.js';
import type { Act } from '../common/context.js';
import { table } from '../common/format.js';
import { filterOptions, priceOptions, priceRequest, sourceOptions, type FilterFlags, type PriceFlags, type SourceFlags } from '../common/options.js';

type PlanFlags = SourceFlags & FilterFlags & PriceFlags & { run: string; since?: string; dataset?: string; retryErrors?: boolean };

/** imgtag plan: a manifest, streamed, into shard files and plan.json. */
export function planCommand(program: Command, act: Act): void {
  priceOptions(filterOptions(sourceOptions(
    program
      .command('plan')
      .description('read a manifest as a stream and write shard files and plan.json into a run directory')
      .requiredOption('--run <dir>', 'run directory: local path or s3://bucket/prefix')
      .option('--dataset <dir>', "where the run's rows go when compacted, as <dataset>/run_date=YYYY-MM-DD/*.parquet: give runs the same one to query them as one table (default <run>/tags)")
      .option('--since <run>', 'leave out objects this earlier run (or its ancestors) tagged with the same ETag')
      .option('--retry-errors', 'with --since: tag again objects whose newest row is an error that would repeat (not an image, too large)'),
  ))).action(
    act(async (o: PlanFlags) => {
      const { createPlan } = await import('../../src/plan/plan.js');
      exitOnSignal('planning');
      const filter = { include: o.include, exclude: o.exclude, minBytes: o.minBytes, maxBytes: o.maxBytes, modifiedAfter: o.modifiedAfter };
      const plan = await createPlan(manifestSource(o), o.run, { shardSize: o.shardSize, shards: o.shards, since: o.since, dataset: o.dataset, retryErrors: o.retryErrors, filter });
      // Before a big run: what it would take, at a rate the user measured (tune) or assumes.
      const estimate = o.rate === undefined ? undefined : await estimateLine(plan, priceRequest(o));
      console.log(
        table([
          ['run', o.run],
          ['dataset', planIdentity(o.run, plan).dataset],
          ['manifest rows', plan.counts.rows],
          ['images', plan.counts.images],
          ['skipped (not images)', plan.counts.skipped],
          ...(plan.counts.filtered !== undefined ? [['left out by filters', plan.counts.filtered] as [string, number]] : []),
          ['GB to read', `${((plan.counts.bytes ?? 0) / 1e9).toFixed(2)}${o.since !== undefined ? ' (before --since left some out)' : ''}`],
          ...(o.since !== undefined ? [['unchanged since parent', plan.counts.unchanged] as [string, number]] : []),
          ['shards', plan.shards],
          ['estimate', estimate ?? 'give --rate <images/s> (tune measures it) for hours and dollars on --instances machines'],
        ]),
      );
      return 0;
    }),
  );
}

/** Hours and dollars for the plan at --rate on --instances machines of --instance (or --price). */
async function estimateLine(plan: Plan, req: PriceRequest): Promise<string> {
  const [{ project, resolvePricing }, { projectionLine }] = await Promise.all([import('../../src/report/prices.js'), import('../../src/report/cost-table.js')]);
  const pricing = resolvePricing(req, undefined);
  return projectionLine(project(plan.counts.images, plan.shards, pricing.assumedRate ?? req.rate!, pricing), pricing);
}
