import { writeBytes } from '../storage/storage.js';
import { joinUri } from '../storage/uri.js';
import { html, markdown, type Section } from './render.js';
import { costTable, priceLine } from './cost-table.js';
import type { RunReport } from './aggregate.js';
import { hms } from './duration.js';
import { size } from './units.js';

export function runReportSections(r: RunReport): Section[] {
  return [
    {
      heading: 'Summary',
      text: r.complete ? 'The run is complete.' : `In progress: ${r.shards.committed} of ${r.shards.planned} shards committed${r.etaSeconds !== undefined ? `, about ${hms(r.etaSeconds)} to go` : ''}.`,
      table: {
        headers: ['measure', 'value'],
        rows: [
          ['images planned', r.images.planned],
          ['images done', r.images.done],
          ['tagged ok', r.images.ok],
          ['error rows', r.images.failed],
          ...Object.entries(r.images.failuresByStage).map(([k, v]) => [`  ${k} errors`, v] as [string, number]),
          ['read', size(r.bytes)],
          ['wall time', hms(r.wallSeconds)],
          ['tagging time (gaps between attempts left out)', hms(r.taggingSeconds)],
          ['images/s (all machines, while tagging)', r.imagesPerSecond],
          ['images/s per machine', r.imagesPerMachineSecond],
          ['measured on', r.machines.join('; ') || 'not recorded'],
          ['bottleneck stage', r.bottleneck ?? 'n/a (nothing committed yet)'],
          ['S3 requests / retries / failed', `${r.s3.requests} / ${r.s3.retries} / ${r.s3.failed}`],
          ['peak worker RSS MB', r.maxRssMb],
          ['model', r.models.join(', ')],
          ...(r.parent
            ? [['parent run models', `${r.parent.models.join(', ')}${r.parent.models.join() === r.models.join() ? ' (same)' : ' (changed)'}`] as [string, string]]
            : []),
        ],
      },
    },
    {
      heading: 'Cost',
      text: `Prices: ${priceLine(r.pricing)}.`,
      table: costTable([
        ['this run so far', r.cost],
        ['whole plan', r.projection],
      ]),
    },
    {
      heading: 'Where the time went (busy seconds per stage: wall time with the stage at work, summed over shards)',
      chart: {
        data: { values: Object.entries(r.stageSeconds).map(([stage, seconds]) => ({ stage, seconds })) },
        mark: 'bar',
        width: 400,
        encoding: { y: { field: 'stage', type: 'nominal', sort: null }, x: { field: 'seconds', type: 'quantitative' } },
      },
      table: { headers: ['stage', 'busy seconds'], rows: Object.entries(r.stageSeconds) },
    },
    {
      heading: 'Failures (the most frequent reasons, numbers as #, with sample keys)',
      text: r.images.failed === 0 ? 'No error rows.' : `${r.images.failed} error rows; the full messages are in the results' error column.`,
      ...(r.errors.length > 0 ? { table: { headers: ['stage', 'reason', 'rows', 'sample keys'], rows: r.errors.map((e) => [e.stage, e.reason, e.count, e.samples.join(' ')]) } } : {}),
    },
    {
      heading: 'Top tags (the first tag of each image, first model)',
      ...(r.topTags.length > 0
        ? {
            chart: {
              data: { values: r.topTags },
              mark: 'bar',
              width: 400,
              encoding: { y: { field: 'label', type: 'nominal', sort: '-x' }, x: { field: 'count', type: 'quantitative', title: 'images' } },
            },
            table: { headers: ['tag', 'images'], rows: r.topTags.map((t) => [t.label, t.count]) },
          }
        : { text: 'No tags yet.' }),
    },
    {
      heading: 'Throughput over time (images/s, all workers, from each shard\'s start and finish)',
      ...(r.throughput.length > 0
        ? {
            chart: {
              data: { values: r.throughput },
              mark: { type: 'line', point: true },
              width: 500,
              encoding: { x: { field: 'seconds', type: 'quantitative', title: 'seconds since the first shard started' }, y: { field: 'imagesPerSecond', type: 'quantitative', title: 'images/s' } },
            },
          }
        : { text: 'Nothing committed yet.' }),
    },
    {
      heading: 'Workers',
      table: { headers: ['worker', 'shards', 'images', 'busy seconds', 'images/s'], rows: r.workers.map((w) => [w.worker, w.shards, w.images, w.busySeconds, w.imagesPerSecond]) },
    },
  ];
}

/** A report never holds NaN or Infinity (JSON would turn them into null unseen): a number that is not finite is a bug, named here. */
function assertFinite(v: unknown, where: string): void {
  if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`internal error: the report would hold ${v} at ${where}`);
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) assertFinite(x, `${where}.${k}`);
}

/** reports/<name>.json, .md and .html under the run directory. */
export async function writeReports(run: string, name: string, title: string, data: unknown, sections: Section[]): Promise<string[]> {
  const base = joinUri(run, 'reports', name);
  assertFinite(data, name);
  await writeBytes(`${base}.json`, JSON.stringify(data, null, 2) + '\n', 'application/json');
  await writeBytes(`${base}.md`, markdown(title, sections), 'text/markdown');
  await writeBytes(`${base}.html`, await html(title, sections), 'text/html');
  return [`${base}.json`, `${base}.md`, `${base}.html`];
}
