import { InvalidArgumentError, type Command } from 'commander';
import type { RunReport } from '../../src/report/aggregate.js';
import type { Act, Cli } from '../common/context.js';
import { hms, table } from '../common/format.js';
import { priceOptions, priceRequest, type PriceFlags } from '../common/options.js';

/** imgtag report: a run, finished or in progress, into reports/report.{json,md,html}. */
export function reportCommand(program: Command, cli: Cli, act: Act): void {
  priceOptions(
    program
      .command('report')
      .description('aggregate a run (finished or in progress) into reports/report.{json,md,html}: images, failures, rate, stages, cost, ETA')
      .requiredOption('--run <dir>', 'run directory'),
  )
    .option('--watch [seconds]', 'refresh every N seconds (default 10) until the run is complete, reading only new commit markers; then write the reports. Ends with exit 3 when nothing has moved for a lease time and no lease is live (a killed run)', (v) => positiveSeconds(v))
    .action(
      act(async (o: PriceFlags & { run: string; watch?: number | true }) => {
        const [{ buildRunReport, aggregateRunReport, reportContext }, { runReportSections, writeReports }] = await Promise.all([
          import('../../src/report/aggregate.js'),
          import('../../src/report/run-report.js'),
        ]);
        if (o.watch !== undefined) {
          const { MarkerWatch, StallWatch } = await import('../../src/report/watch.js');
          const every = o.watch === true ? 10 : o.watch;
          const ctx = await reportContext(o.run);
          const watch = new MarkerWatch(o.run);
          const stall = new StallWatch(o.run);
          for (;;) {
            const { markers, requests } = await watch.refresh();
            const r = aggregateRunReport(ctx, markers, priceRequest(o));
            const still = r.complete ? undefined : await stall.stalled(r.shards.committed);
            // A stalled run has no ETA: the one from its last rate would be a promise nobody keeps.
            const eta = r.etaSeconds !== undefined && still === undefined ? { etaSeconds: Math.ceil(r.etaSeconds) } : {};
            cli.log({ event: 'watch', committed: r.shards.committed, planned: r.shards.planned, images: r.images.done, errorRows: r.images.failed, imagesPerSecond: Number(r.imagesPerSecond.toFixed(2)), ...eta, s3Requests: requests.requests, ...(still !== undefined ? { stalledSeconds: Math.round(still / 1000) } : {}) });
            if (r.complete) break;
            if (still !== undefined) {
              console.error(
                `imgtag: ${o.run} has not moved for ${hms(still / 1000)} (${r.shards.committed}/${r.shards.planned} shards committed) and no worker holds a live lease: ` +
                  `it is not running (killed, or its machines lost). "imgtag run --run ${o.run}" goes on from where it stopped`,
              );
              return 3;
            }
            await new Promise((resolve) => setTimeout(resolve, every * 1000));
          }
        }
        const r = await buildRunReport(o.run, priceRequest(o));
        const files = await writeReports(o.run, 'report', `imgtag run report: ${o.run}`, r, runReportSections(r));
        console.log(await reportTable(r, files));
        return 0;
      }),
    );
}

const positiveSeconds = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('seconds must be a number above 0');
  return n;
};

/** What `report` prints: the state, the rates by name, the cost and where the files are. */
export async function reportTable(r: RunReport, files: string[]): Promise<string> {
  const [{ usd }, { projectionLine }] = await Promise.all([import('../../src/report/render.js'), import('../../src/report/cost-table.js')]);
  return table([
    ['state', r.complete ? 'complete' : `in progress (${r.shards.committed}/${r.shards.planned} shards)`],
    ['images done', r.images.done],
    ['error rows', r.images.failed],
    ['images/s', `${r.imagesPerSecond.toFixed(1)} while tagging (all machines), ${r.imagesPerMachineSecond.toFixed(1)} per machine`],
    ['measured on', r.machines.join('; ') || (r.shards.committed === 0 ? 'nothing committed yet' : 'not recorded')],
    ['rate used', r.pricing.rateBasis],
    ['bottleneck', r.bottleneck ?? 'n/a (nothing committed yet)'],
    ['cost so far', r.cost ? `${usd(r.cost.totalUsd)} on demand${r.cost.spot ? `, ${usd(r.cost.spot.totalUsd)} spot` : ''}` : '$0 (nothing committed yet)'],
    ['whole plan', projectionLine(r.projection, r.pricing)],
    ...(r.etaSeconds !== undefined ? [['ETA', hms(r.etaSeconds)] as [string, string]] : []),
    ['reports', files.join('\n             ')],
  ]);
}
