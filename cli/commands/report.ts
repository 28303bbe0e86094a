import type { Command } from 'commander';
import type { Act } from '../common/context.js';
import { table } from '../common/format.js';
import { priceOptions, priceRequest, type PriceFlags } from '../common/options.js';

/** imgtag report: a run, finished or in progress, into reports/report.{json,md,html}. */
export function reportCommand(program: Command, act: Act): void {
  priceOptions(
    program
      .command('report')
      .description('aggregate a run (finished or in progress) into reports/report.{json,md,html}: images, failures, rate, stages, cost, ETA')
      .requiredOption('--run <dir>', 'run directory'),
  ).action(
    act(async (o: PriceFlags & { run: string }) => {
      const [{ buildRunReport }, { runReportSections, writeReports }, { usd }, { projectionLine }] = await Promise.all([
        import('../../src/report/aggregate.js'),
        import('../../src/report/run-report.js'),
        import('../../src/report/render.js'),
        import('../../src/report/cost-table.js'),
      ]);
      const r = await buildRunReport(o.run, priceRequest(o));
      const files = await writeReports(o.run, 'report', `imgtag run report: ${o.run}`, r, runReportSections(r));
      console.log(
        table([
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
        ]),
      );
      return 0;
    }),
  );
}
