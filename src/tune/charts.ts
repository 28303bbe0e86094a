import { costTable, priceLine, projectionLine } from '../report/cost-table.js';
import type { Section } from '../report/render.js';
import type { TuneConfig, TuneResult } from './search.js';
import { spreadText } from './spread.js';
import { hms } from '../report/duration.js';

/** The tuning report's sections: the search's iterations, the winner, the fleet projection, as tables and charts. */

const configText = (c: TuneConfig) => `batch ${c.batchSize}${c.concurrency !== undefined ? `, concurrency ${c.concurrency}` : ''}, threads ${c.threads}, workers ${c.workers}`;

export function tuningSections(r: Omit<TuneResult, 'reports'>): Section[] {
  const w = r.winner;
  return [
    {
      heading: 'Winner',
      text:
        `Iteration ${w.index} (${configText(w.config)}): median ${w.imagesPerSecond.toFixed(1)} images/s (${spreadText(w)}) ` +
        `on ${r.sample} sample images (${r.storage === 's3' ? 'on S3' : 'local files: concurrency not tuned, run keeps its default'}), measured on ${r.machine}. ` +
        `Whole plan: ${projectionLine(w.projection, r.pricing)}. Saved to ${r.configFile} for run --config. Prices: ${priceLine(r.pricing)}.`,
      table: costTable([['whole plan, winner', w.projection]]),
    },
    {
      heading: 'Iterations',
      text: `Strategy: ${r.strategy}.`,
      table: {
        headers: ['#', 'change', 'batch', 'concurrency', 'threads', 'workers', 'median images/s', 'runs (images/s)', 'spread', 'bottleneck', 'peak RSS MB', 'kept'],
        rows: r.iterations.map((i) => [
          i.index,
          i.change,
          i.config.batchSize,
          i.config.concurrency ?? '-',
          i.config.threads,
          i.config.workers,
          i.imagesPerSecond,
          i.repetitions.map((x) => x.toFixed(1)).join(', '),
          `${(100 * i.spread).toFixed(1)}%`,
          i.bottleneck,
          i.maxRssMb,
          i.kept ? 'yes' : 'no',
        ]),
      },
    },
    {
      heading: 'Images per second, per iteration (median, with the range of the runs)',
      chart: {
        data: {
          values: r.iterations.map((i) => ({ iteration: `${i.index} ${i.change}`, rate: i.imagesPerSecond, low: Math.min(...i.repetitions), high: Math.max(...i.repetitions), kept: i.kept ? 'kept' : 'dropped' })),
        },
        width: 600,
        layer: [
          {
            mark: 'bar',
            encoding: {
              x: { field: 'iteration', type: 'nominal', sort: null, axis: { labelAngle: -30 } },
              y: { field: 'rate', type: 'quantitative', title: 'images/s' },
              color: { field: 'kept', type: 'nominal' },
            },
          },
          {
            mark: { type: 'rule', color: 'black' },
            encoding: { x: { field: 'iteration', type: 'nominal', sort: null }, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' } },
          },
        ],
      },
    },
    {
      heading: `The whole plan against the fleet size (winner's rate, ${r.pricing.instance ?? 'the measured machine'}): hours fall, dollars do not`,
      chart: {
        data: { values: r.fleet.flatMap((f) => [{ instances: f.instances, measure: 'hours', value: f.hours }, { instances: f.instances, measure: 'dollars (on demand)', value: f.totalUsd }]) },
        mark: { type: 'line', point: true },
        width: 600,
        encoding: {
          x: { field: 'instances', type: 'quantitative', scale: { type: 'log' }, title: 'instances' },
          y: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: 'hours / dollars' },
          color: { field: 'measure', type: 'nominal' },
        },
      },
      table: {
        headers: ['instances', 'time on the fleet', 'on demand $', 'spot $'],
        rows: r.fleet.map((f) => [f.instances, hms(f.hours * 3600), f.totalUsd, f.spotUsd ?? 'n/a']),
      },
    },
    {
      heading: 'Where the time went, per iteration (busy seconds per stage, last run)',
      chart: {
        data: {
          values: r.iterations.flatMap((i) => Object.entries(i.stageSeconds).map(([stage, seconds]) => ({ iteration: `${i.index}`, stage, seconds }))),
        },
        mark: 'bar',
        width: 600,
        encoding: {
          x: { field: 'iteration', type: 'nominal', sort: null },
          y: { field: 'seconds', type: 'quantitative', stack: 'normalize', title: 'share of busy time' },
          color: { field: 'stage', type: 'nominal' },
        },
      },
    },
  ];
}
