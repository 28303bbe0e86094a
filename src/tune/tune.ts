import os from 'node:os';
import type { Device } from '../infer/device.js';
import type { StageSeconds } from '../output/commit.js';
import { manifestSource, type ManifestRow } from '../manifest/index.js';
import { readShardFile, encodeShardRow } from '../plan/shard-file.js';
import { createPlan, loadPlan } from '../plan/plan.js';
import { runPlan, type RunEvent } from '../pipeline/run-plan.js';
import { project, type Pricing, type Projection } from '../report/prices.js';
import { bottleneckOf, sumStages, writeReports } from '../report/run-report.js';
import { readMarkers } from '../output/commit.js';
import { usd, type Section } from '../report/render.js';
import { runLayout, runName } from '../run-dir.js';
import type { S3Options } from '../storage/s3-client.js';
import { writeBytes } from '../storage/storage.js';
import { joinUri } from '../storage/uri.js';
import { UserError } from '../errors.js';

/** What tune varies; `run --config` takes the same keys. */
export interface TuneConfig {
  batchSize: number;
  concurrency: number;
  threads: number;
  workers: number;
}

export interface Iteration {
  index: number;
  change: string;
  config: TuneConfig;
  imagesPerSecond: number;
  wallSeconds: number;
  stageSeconds: StageSeconds;
  bottleneck: keyof StageSeconds;
  maxRssMb: number;
  kept: boolean;
  projection: Projection;
}

export interface TuneResult {
  run: string;
  sample: number;
  strategy: string;
  device: Device;
  pricing: Pricing;
  iterations: Iteration[];
  winner: Iteration;
  reports: string[];
  configFile: string;
}

export interface TuneOptions {
  run: string;
  model?: string;
  sample: number;
  pricing: Pricing;
  device: Device;
  maxPixels: number;
  s3: S3Options;
}

/** A new value must beat the best so far by this much to be kept: runs are noisy. */
const MIN_GAIN = 1.05;

/** Candidate values per knob, tried in this order from a plain baseline (one image, one GET, one thread, one worker). */
function searchSpace(): { knob: keyof TuneConfig; values: number[] }[] {
  const cores = os.availableParallelism();
  return [
    { knob: 'batchSize', values: [8, 32] },
    { knob: 'concurrency', values: [8, 32] },
    { knob: 'threads', values: [...new Set([2, cores])].filter((t) => t > 1) },
    { knob: 'workers', values: [...new Set([2, cores])].filter((w) => w > 1) },
  ];
}

const BASELINE: TuneConfig = { batchSize: 1, concurrency: 1, threads: 1, workers: 1 };

/** The first `n` images of the plan, in shard order: the same sample for every iteration. */
async function sampleRows(run: string, n: number): Promise<ManifestRow[]> {
  const plan = await loadPlan(run);
  const rows: ManifestRow[] = [];
  for (let i = 0; i < plan.shards && rows.length < n; i++) rows.push(...(await readShardFile(runLayout.shard(run, i))));
  if (rows.length === 0) throw new UserError(`${run} has no images to tune on`);
  return rows.slice(0, n);
}

/**
 * Coordinate search: from the baseline, change one knob per iteration; keep a change only if it
 * made the pipeline at least 5% faster. Each iteration is a real run of the same sample.
 */
export async function tune(opts: TuneOptions, log: (e: RunEvent | { event: string; [k: string]: unknown }) => void): Promise<TuneResult> {
  const plan = await loadPlan(opts.run);
  const rows = await sampleRows(opts.run, opts.sample);
  const session = joinUri(opts.run, 'tune', runName(new Date()));
  const sampleList = joinUri(session, 'sample.jsonl');
  await writeBytes(sampleList, rows.map(encodeShardRow).join(''));
  const iterations: Iteration[] = [];

  const measure = async (change: string, config: TuneConfig): Promise<Iteration> => {
    const dir = joinUri(session, `iter-${String(iterations.length + 1).padStart(2, '0')}`);
    await createPlan(manifestSource({ manifest: sampleList }), dir, { shardSize: Math.ceil(rows.length / 4) });
    const summary = await runPlan({ run: dir, models: opts.model ? [opts.model] : undefined, maxPixels: opts.maxPixels, device: opts.device, s3: opts.s3, compact: false, ...config });
    const markers = await readMarkers(dir);
    const stageSeconds = sumStages(markers);
    const imagesPerSecond = summary.images / summary.seconds;
    const it: Iteration = {
      index: iterations.length + 1,
      change,
      config,
      imagesPerSecond,
      wallSeconds: summary.seconds,
      stageSeconds,
      bottleneck: bottleneckOf(stageSeconds),
      maxRssMb: Math.max(0, ...markers.map((m) => m.maxRssMb)),
      kept: false,
      projection: project(plan.counts.images, plan.shards, imagesPerSecond, opts.pricing),
    };
    iterations.push(it);
    log({ event: 'tune-iteration', index: it.index, change, ...config, imagesPerSecond: Number(imagesPerSecond.toFixed(2)) });
    return it;
  };

  let best = await measure('baseline', BASELINE);
  best.kept = true;
  for (const { knob, values } of searchSpace()) {
    for (const value of values) {
      if (best.config[knob] === value) continue;
      const next = { ...best.config, [knob]: value };
      // More worker processes share the cores: each gets its part of them.
      if (knob === 'workers') next.threads = Math.max(1, Math.floor(os.availableParallelism() / value));
      const label = `${knob} ${best.config[knob]} -> ${value}${knob === 'workers' ? ` (threads ${next.threads})` : ''}`;
      const it = await measure(label, next);
      if (it.imagesPerSecond >= best.imagesPerSecond * MIN_GAIN) {
        it.kept = true;
        best = it;
      }
    }
  }
  const configFile = joinUri(opts.run, 'reports', 'tuning-config.json');
  await writeBytes(configFile, JSON.stringify(best.config, null, 2) + '\n', 'application/json');
  const result: Omit<TuneResult, 'reports'> = {
    run: opts.run,
    sample: rows.length,
    strategy: `coordinate search from a plain baseline, one knob per iteration, a change kept when >= ${Math.round((MIN_GAIN - 1) * 100)}% faster`,
    device: opts.device,
    pricing: opts.pricing,
    iterations,
    winner: best,
    configFile,
  };
  const reports = await writeReports(opts.run, 'tuning', `imgtag tuning: ${opts.run}`, result, tuningSections(result));
  return { ...result, reports };
}

export function tuningSections(r: Omit<TuneResult, 'reports'>): Section[] {
  const w = r.winner;
  const p = r.pricing;
  return [
    {
      heading: 'Winner',
      text:
        `Iteration ${w.index} (batch ${w.config.batchSize}, concurrency ${w.config.concurrency}, threads ${w.config.threads}, workers ${w.config.workers}): ` +
        `${w.imagesPerSecond.toFixed(1)} images/s on ${r.sample} sample images, device ${r.device}. ` +
        `Whole plan (${w.projection.images} images) on ${p.instances} x ${p.instance ?? 'custom'} at $${p.usdPerHour}/h: ` +
        `${Number(w.projection.hours.toPrecision(3))} h, ${usd(w.projection.totalUsd)} (${usd(w.projection.computeUsd)} compute + ${usd(w.projection.requestUsd)} S3 requests), ` +
        `${usd(w.projection.usdPerMillion)} per million images. Saved to ${r.configFile} for run --config. Prices: ${p.source}.`,
    },
    {
      heading: 'Iterations',
      text: `Strategy: ${r.strategy}.`,
      table: {
        headers: ['#', 'change', 'batch', 'concurrency', 'threads', 'workers', 'images/s', 'bottleneck', 'peak RSS MB', 'kept', 'hours', 'total $'],
        rows: r.iterations.map((i) => [
          i.index,
          i.change,
          i.config.batchSize,
          i.config.concurrency,
          i.config.threads,
          i.config.workers,
          i.imagesPerSecond,
          i.bottleneck,
          i.maxRssMb,
          i.kept ? 'yes' : 'no',
          i.projection.hours,
          usd(i.projection.totalUsd),
        ]),
      },
    },
    {
      heading: 'Images per second, per iteration',
      chart: {
        data: { values: r.iterations.map((i) => ({ iteration: `${i.index} ${i.change}`, rate: i.imagesPerSecond, kept: i.kept ? 'kept' : 'dropped' })) },
        mark: 'bar',
        width: 600,
        encoding: {
          x: { field: 'iteration', type: 'nominal', sort: null, axis: { labelAngle: -30 } },
          y: { field: 'rate', type: 'quantitative', title: 'images/s' },
          color: { field: 'kept', type: 'nominal' },
        },
      },
    },
    {
      heading: 'Where the time went, per iteration (busy seconds per stage)',
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
