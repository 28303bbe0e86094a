import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { failureDigestLines, runSummaryRows, table, unfinishedLines } from '../../cli/common/format.js';
import { barLine, watchLine } from '../../cli/common/progress.js';
import { nothingToTag } from '../../cli/commands/plan.js';
import { reportTable } from '../../cli/commands/report.js';
import { refuseMassDeletion } from '../../src/plan/delta.js';
import { aggregateRunReport } from '../../src/report/aggregate.js';
import { markdown } from '../../src/report/render.js';
import { runReportSections } from '../../src/report/run-report.js';
import type { RunSummary } from '../../src/run/run-plan.js';
import type { CommitMarker } from '../../src/rundir/commits.js';
import type { Plan } from '../../src/rundir/plan-file.js';
import { errorDigest } from '../../src/rundir/digest.js';

// What a person reads of one fixed run, at 80 columns, against test/golden/what-a-person-reads.txt.
// A change to any of it shows here as a diff; IMGTAG_UPDATE_GOLDEN=1 writes the file anew, on purpose.
const GOLDEN = fileURLToPath(new URL('../../../test/golden/what-a-person-reads.txt', import.meta.url));
const COLUMNS = 80;

const stages = (fetch: number) => ({ fetch, decode: fetch / 2, batch: 0.1, infer: fetch * 1.5, write: 0.2 });
const errorRows = (shard: number) =>
  errorDigest([
    { key: `2026/${shard}/empty.jpg`, bucket: 'photos', error: { stage: 'fetch', message: 'empty file: 0 bytes' }, models: [] },
    { key: `2026/${shard}/page.jpg`, bucket: 'photos', error: { stage: 'decode', message: 'not an image: no known image format starts with bytes 3c 68 74 6d' }, models: [] },
    { key: `2026/${shard}/huge.jpg`, bucket: 'photos', error: { stage: 'decode', message: `too many pixels: ${20000 + shard}x15000 is over the --max-pixels limit of 100000000` }, models: [] },
  ]);

/** Three of four shards of 100 images committed by two workers on one c7i.xlarge. */
function marker(shard: number): CommitMarker {
  const started = Date.parse('2026-12-01T01:00:00.000Z') + shard * 40_000;
  return {
    shard,
    result: `s3://photos/runs/r1/staging/part-0000${shard}.parquet`,
    rows: 100,
    ok: 97,
    failures: 3,
    failuresByStage: { fetch: 1, decode: 2 },
    bytes: 12_345_678 + shard,
    decodes: 99,
    seconds: 50,
    stageSeconds: stages(20 + shard),
    stageDepth: stages(1),
    stagePeak: stages(4),
    s3: { requests: 205, retries: shard, failed: 0 },
    model: 'mobilenetv2-12-int8@cc028fe6cae7',
    models: ['mobilenetv2-12-int8@cc028fe6cae7'],
    maxRssMb: 512 + shard,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(started + 50_000).toISOString(),
    host: 'ip-10-0-0-1',
    pid: 100 + (shard % 2),
    machine: { cpus: 4, cpuModel: 'Intel Xeon', device: 'cpu', instanceType: 'c7i.xlarge' },
    errors: errorRows(shard),
    topTags: [{ label: 'tabby', count: 40 }, { label: 'golden retriever', count: 30 }],
  };
}

const plan: Plan = {
  version: 1,
  createdAt: '2026-12-01T00:00:00.000Z',
  id: 'r1-0a1b2c3d',
  source: { kind: 'prefix', uri: 's3://photos/2026/' },
  options: { shardSize: 100, filter: { include: ['*.jpg'] } },
  counts: { rows: 420, images: 400, skipped: 20, unchanged: 0, bytes: 49_382_716 },
  shards: 4,
};
const markers = [0, 1, 2].map(marker);

const summary: RunSummary = {
  shards: 4,
  tagged: 3,
  skipped: 0,
  leased: 0,
  failedShards: [{ shard: 3, message: 'fetch: s3://photos/2026/x.jpg: not read within its deadline of 0:00:30 after 6 tries' }],
  images: 300,
  ok: 291,
  failures: 9,
  bytes: markers.reduce((n, m) => n + m.bytes, 0),
  seconds: 151.4,
  markers,
};

async function render(): Promise<string> {
  const report = aggregateRunReport({ run: 's3://photos/runs/r1', plan }, markers, { instances: 1 });
  const watch = { committed: 3, planned: 4, images: 300, errorRows: 9, imagesPerSecond: 2.01, s3Requests: 615 };
  const refused = (filtered: boolean) => {
    try {
      refuseMassDeletion(1000, 400, 0.1, filtered);
    } catch (e) {
      return (e as Error).message;
    }
    return 'not refused';
  };
  const sections: [string, string[]][] = [
    ['run summary', [table(runSummaryRows(summary)), ...failureDigestLines(summary), ...unfinishedLines(summary)]],
    ['progress bar', [barLine({ images: 150, todoImages: 400, errors: 4, shards: 1, todoShards: 4, unfinishedShards: 0, imagesPerSecond: 2.5, mbPerSecond: 0.31, etaSeconds: 100 }, COLUMNS), barLine({ images: 0, todoImages: 400, errors: 0, shards: 0, todoShards: 4, unfinishedShards: 0, imagesPerSecond: 0, mbPerSecond: 0 }, COLUMNS)]],
    ['report --watch', [watchLine({ ...watch, etaSeconds: 50 }, COLUMNS), watchLine(watch, COLUMNS), watchLine({ ...watch, stalledSeconds: 300 }, COLUMNS)]],
    ['report (terminal)', [await reportTable(report, ['s3://photos/runs/r1/reports/report.json', 's3://photos/runs/r1/reports/report.md'])]],
    ['report.md', [markdown('imgtag run report: s3://photos/runs/r1', runReportSections(report))]],
    ['errors', [nothingToTag({ ...plan, counts: { rows: 0, images: 0, skipped: 0, unchanged: 0 } }), nothingToTag({ ...plan, counts: { rows: 420, images: 0, skipped: 20, unchanged: 0, filtered: 400 } }), nothingToTag({ ...plan, counts: { rows: 20, images: 0, skipped: 20, unchanged: 0 } }), refused(false), refused(true)]],
  ];
  return sections.map(([name, lines]) => `== ${name}\n${lines.join('\n')}\n`).join('\n');
}

test('what a person reads of a fixed run (summary, bar, watch line, report, errors) at 80 columns is the checked-in text', async () => {
  const text = await render();
  if (process.env.IMGTAG_UPDATE_GOLDEN === '1') fs.writeFileSync(GOLDEN, text);
  assert.equal(text, fs.readFileSync(GOLDEN, 'utf8'), 'what a person reads changed: if on purpose, IMGTAG_UPDATE_GOLDEN=1 node --test dist/test/unit/golden.test.js');
  for (const line of text.split('\n').filter((l) => l.startsWith('['))) assert.ok(line.length < COLUMNS, line);
});
