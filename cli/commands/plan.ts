import type { Command } from 'commander';
import type { PriceRequest } from '../../src/report/prices.js';
import type { Plan } from '../../src/rundir/plan-file.js';
import { manifestSource } from '../../src/manifest/index.js';
import { exitOnSignal } from '../../src/pool/stop.js';
import { planIdentity } from '../../src/rundir/plan-file.js';
import type { Act, Cli } from '../common/context.js';
import { plural, size, table } from '../common/format.js';
import { IMAGE_EXTENSIONS } from '../../src/plan/filter.js';
import { filterOptions, priceOptions, priceRequest, sourceOptions, type FilterFlags, type PriceFlags, type SourceFlags } from '../common/options.js';

type PlanFlags = SourceFlags & FilterFlags & PriceFlags & { run: string; since?: string; dataset?: string; retryErrors?: boolean };

/** imgtag plan: a manifest, streamed, into shard files and plan.json. */
export function planCommand(program: Command, cli: Cli, act: Act): void {
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
      const [{ createPlan }, { bareKeysWarning }] = await Promise.all([import('../../src/plan/plan.js'), import('../../src/manifest/bare-keys.js')]);
      exitOnSignal('planning');
      const filter = { include: o.include, exclude: o.exclude, minBytes: o.minBytes, maxBytes: o.maxBytes, modifiedAfter: o.modifiedAfter };
      const source = manifestSource(o);
      const plan = await createPlan(source, o.run, { shardSize: o.shardSize, shards: o.shards, since: o.since, dataset: o.dataset, retryErrors: o.retryErrors, filter });
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
          ['to read', `${bytesToRead(plan)}${o.since !== undefined ? ' (before --since left some out)' : ''}`],
          ...(o.since !== undefined ? [['unchanged since parent', plan.counts.unchanged] as [string, number]] : []),
          ['shards', plan.shards],
          ['estimate', estimate ?? 'give --rate <images/s> (tune measures it) for hours and dollars on --instances machines'],
        ]),
      );
      if (plan.counts.images === 0 && o.since === undefined) cli.log({ event: 'notice', message: nothingToTag(plan) });
      const bare = await bareKeysWarning(source);
      if (bare) cli.log({ event: 'notice', message: `warning: ${bare}` });
      return 0;
    }),
  );
}

/** Why a plan has no image, in the words of its counts: an empty manifest, no image among it, or filters. */
export function nothingToTag(plan: Plan): string {
  const { rows, skipped, filtered = 0 } = plan.counts;
  if (rows === 0) return 'nothing to tag: the manifest lists no objects';
  if (filtered > 0 && filtered + skipped === rows) return `nothing to tag: the filters left out every image (${plural(filtered, 'image')}; globs match the key or the path under --prefix, a glob without "/" the file name)`;
  return `nothing to tag: none of the ${plural(rows, 'row')} is an image by its extension (${IMAGE_EXTENSIONS.join(', ')}, any case)`;
}

/** The images' bytes, or unknown when the manifest gives no sizes (a key list without a size column). */
function bytesToRead(plan: Plan): string {
  const { bytes, images } = plan.counts;
  return bytes === undefined || (bytes === 0 && images > 0) ? 'unknown (the manifest gives no sizes)' : size(bytes);
}

/** Hours and dollars for the plan at --rate on --instances machines of --instance (or --price). */
async function estimateLine(plan: Plan, req: PriceRequest): Promise<string> {
  const [{ project, resolvePricing }, { projectionLine }] = await Promise.all([import('../../src/report/prices.js'), import('../../src/report/cost-table.js')]);
  const pricing = resolvePricing(req, undefined);
  return projectionLine(project(plan.counts.images, plan.shards, pricing.assumedRate ?? req.rate!, pricing), pricing);
}
