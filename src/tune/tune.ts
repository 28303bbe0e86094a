import { DEFAULTS } from '../defaults.js';
import os from 'node:os';
import type { Device } from '../infer/device.js';
import type { CommitMarker, StageSeconds } from '../output/commit.js';
import type { Stage } from '../pipeline/stages.js';
import { manifestSource, type ManifestRow } from '../manifest/index.js';
import { readShardFile } from '../plan/shard-file.js';
import { encodeShardRow } from '../plan/shard-line.js';
import { createPlan, loadPlan } from '../plan/plan.js';
import { defaultWorkers, runPlan, type RunEvent } from '../pipeline/run-plan.js';
import { pricedRate, project, resolvePricing, type PriceRequest, type Pricing, type Projection } from '../report/prices.js';
import { describeMachine, machineLabel } from '../report/machine.js';
import { bottleneckOf, coveredSeconds, sumStages } from '../report/aggregate.js';
import { writeReports } from '../report/run-report.js';
import { readMarkers } from '../output/commit.js';
import type { Section } from '../report/render.js';
import { costTable, priceLine, projectionLine } from '../report/cost-table.js';
import { runLayout, runName } from '../run-dir.js';
import type { S3Options } from '../storage/s3-client.js';
import { writeBytes } from '../storage/storage.js';
import { isS3Uri, joinUri } from '../storage/uri.js';
import { invalid, UserError } from '../errors.js';

/** What tune varies; `run --config` takes the same keys. */
export interface TuneConfig {
  batchSize: number;
  /** Only for samples on S3: local files have nothing to overlap. */
  concurrency?: number;
  threads: number;
  workers: number;
}

export interface Iteration {
  index: number;
  change: string;
  config: TuneConfig;
  /** Images/s of each repetition, at steady state (each worker's first shard, and start-up, left out). */
  repetitions: number[];
  /** The median of the repetitions. */
  imagesPerSecond: number;
  /** (max - min) / median of the repetitions. */
  spread: number;
  stageSeconds: StageSeconds;
  bottleneck: Stage;
  maxRssMb: number;
  kept: boolean;
  projection?: Projection;
}

export interface TuneResult {
  run: string;
  sample: number;
  storage: 's3' | 'local';
  repeats: number;
  strategy: string;
  device: Device;
  machine: string;
  pricing: Pricing;
  iterations: Iteration[];
  winner: Iteration;
  /** The winner's whole-plan hours and dollars against the fleet size. */
  fleet: { instances: number; hours: number; totalUsd: number; spotUsd?: number }[];
  reports: string[];
  configFile: string;
}

export interface TuneOptions {
  run: string;
  model?: string;
  sample: number;
  repeats: number;
  price: PriceRequest;
  device: Device;
  maxPixels: number;
  s3: S3Options;
}

const RUN_DEFAULTS = { batchSize: DEFAULTS.batchSize, concurrency: DEFAULTS.concurrency };
const FLEET_SIZES = [1, 2, 5, 10, 20, 50, 100, 200, 500];

/** Candidate values per knob, tried in this order from the defaults `imgtag run` uses. */
function searchSpace(storage: 's3' | 'local'): { knob: keyof TuneConfig; values: number[] }[] {
  const cores = os.availableParallelism();
  return [
    { knob: 'batchSize', values: [8, 32] },
    // Local files are read in microseconds: GETs in flight only matter on S3.
    ...(storage === 's3' ? [{ knob: 'concurrency' as const, values: [8, 32, 64] }] : []),
    { knob: 'workers', values: [...new Set([1, 2, cores])] },
    { knob: 'threads', values: [1, 2, cores] },
  ];
}

/** The first `n` images of the plan, in shard order: the same sample for every iteration. */
async function sampleRows(run: string, n: number): Promise<ManifestRow[]> {
  const plan = await loadPlan(run);
  const rows: ManifestRow[] = [];
  for (let i = 0; i < plan.shards && rows.length < n; i++) rows.push(...(await readShardFile(runLayout.shard(run, i))));
  if (rows.length === 0) throw new UserError(`${run} has no images to tune on`);
  return rows.slice(0, n);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Images/s at steady state: each worker's first shard (model warm-up, first batches) is left out, as is process start-up. */
export function steadyRate(markers: CommitMarker[]): number {
  const first = new Map<number, CommitMarker>();
  for (const m of markers) if (!first.has(m.pid) || m.startedAt < first.get(m.pid)!.startedAt) first.set(m.pid, m);
  const steady = markers.filter((m) => first.get(m.pid) !== m);
  const counted = steady.length > 0 ? steady : markers;
  const seconds = coveredSeconds(counted);
  return seconds > 0 ? counted.reduce((n, m) => n + m.rows, 0) / seconds : 0;
}

const range = (xs: number[]) => Math.max(...xs) - Math.min(...xs);

/**
 * A change is kept only when its gain is more than the noise: its median beats the best setting's
 * by more than half the wider of the two ranges of runs (one median outside the other's half-range).
 */
export function beatsSpread(next: Pick<Iteration, 'imagesPerSecond' | 'repetitions'>, best: Pick<Iteration, 'imagesPerSecond' | 'repetitions'>): boolean {
  return next.imagesPerSecond - best.imagesPerSecond > Math.max(range(next.repetitions), range(best.repetitions)) / 2;
}

/**
 * Coordinate search from `imgtag run`'s defaults: one knob per iteration, each setting run `repeats`
 * times on the same sample; a change is kept only when it beats the spread (beatsSpread). Rates are
 * steady-state (see steadyRate).
 */
export async function tune(opts: TuneOptions, log: (e: RunEvent | { event: string; [k: string]: unknown }) => void): Promise<TuneResult> {
  if (!Number.isInteger(opts.repeats) || opts.repeats < 1) throw invalid('--repeats', 'a whole number >= 1', opts.repeats);
  const plan = await loadPlan(opts.run);
  const rows = await sampleRows(opts.run, opts.sample);
  const storage = rows.some((r) => isS3Uri(r.uri)) ? 's3' : 'local';
  const machine = await describeMachine(opts.device);
  const pricing = resolvePricing(opts.price, machine);
  const session = joinUri(opts.run, 'tune', runName(new Date()));
  const sampleList = joinUri(session, 'sample.jsonl');
  await writeBytes(sampleList, rows.map(encodeShardRow).join(''));
  const cores = os.availableParallelism();
  // Enough shards that every worker has some after its first (left out as warm-up).
  const shardSize = Math.max(1, Math.ceil(rows.length / Math.max(8, 3 * cores)));
  const iterations: Iteration[] = [];
  let runs = 0;

  const once = async (config: TuneConfig) => {
    const dir = joinUri(session, `run-${String(++runs).padStart(3, '0')}`);
    await createPlan(manifestSource({ manifest: sampleList }), dir, { shardSize });
    await runPlan({ run: dir, models: opts.model ? [opts.model] : undefined, maxPixels: opts.maxPixels, device: opts.device, s3: opts.s3, compact: false, ...RUN_DEFAULTS, ...config });
    return readMarkers(dir);
  };

  const measure = async (change: string, config: TuneConfig): Promise<Iteration> => {
    const repetitions: number[] = [];
    let markers: CommitMarker[] = [];
    for (let r = 0; r < opts.repeats; r++) {
      markers = await once(config);
      repetitions.push(steadyRate(markers));
    }
    const imagesPerSecond = median(repetitions);
    const stageSeconds = sumStages(markers);
    const it: Iteration = {
      index: iterations.length + 1,
      change,
      config,
      repetitions,
      imagesPerSecond,
      spread: imagesPerSecond > 0 ? (Math.max(...repetitions) - Math.min(...repetitions)) / imagesPerSecond : 0,
      stageSeconds,
      bottleneck: bottleneckOf(stageSeconds),
      maxRssMb: Math.max(0, ...markers.map((m) => m.maxRssMb)),
      kept: false,
      projection: project(plan.counts.images, plan.shards, pricedRate(imagesPerSecond, pricing), pricing),
    };
    iterations.push(it);
    log({ event: 'tune-iteration', index: it.index, change, ...config, imagesPerSecond: Number(imagesPerSecond.toFixed(2)), spread: Number(it.spread.toFixed(3)) });
    return it;
  };

  // Warm-up, not measured: the OS file cache, the model file, the S3 connection pool.
  const workers = defaultWorkers(opts.device);
  const defaults: TuneConfig = { batchSize: RUN_DEFAULTS.batchSize, ...(storage === 's3' ? { concurrency: RUN_DEFAULTS.concurrency } : {}), threads: Math.max(1, Math.floor(cores / workers)), workers };
  await once(defaults);
  let best = await measure('run defaults', defaults);
  best.kept = true;
  for (const { knob, values } of searchSpace(storage)) {
    for (const value of values) {
      if (best.config[knob] === value) continue;
      const next = { ...best.config, [knob]: value };
      // More worker processes share the cores: each gets its part of them.
      if (knob === 'workers') next.threads = Math.max(1, Math.floor(cores / value));
      if (knob === 'threads' && value * next.workers > cores) continue;
      const label = `${knob} ${best.config[knob]} -> ${value}${knob === 'workers' ? ` (threads ${next.threads})` : ''}`;
      const it = await measure(label, next);
      if (beatsSpread(it, best)) {
        it.kept = true;
        best = it;
      }
    }
  }
  const configFile = joinUri(opts.run, 'reports', 'tuning-config.json');
  await writeBytes(configFile, JSON.stringify({ ...best.config, storage }, null, 2) + '\n', 'application/json');
  const rate = pricedRate(best.imagesPerSecond, pricing);
  const fleet = FLEET_SIZES.flatMap((instances) => {
    const p = project(plan.counts.images, plan.shards, rate, { ...pricing, instances });
    return p ? [{ instances, hours: p.hours, totalUsd: p.totalUsd, ...(p.spot ? { spotUsd: p.spot.totalUsd } : {}) }] : [];
  });
  const result: Omit<TuneResult, 'reports'> = {
    run: opts.run,
    sample: rows.length,
    storage,
    repeats: opts.repeats,
    strategy:
      `coordinate search from imgtag run's defaults, one knob per iteration, each setting run ${opts.repeats} times after a warm-up run; ` +
      `rates at steady state (each worker's first shard left out); a change kept only when its median beats the best setting's by more than half the wider range of runs`,
    device: opts.device,
    machine: machineLabel(machine),
    pricing,
    iterations,
    winner: best,
    fleet,
    configFile,
  };
  const reports = await writeReports(opts.run, 'tuning', `imgtag tuning: ${opts.run}`, result, tuningSections(result));
  return { ...result, reports };
}

const configText = (c: TuneConfig) => `batch ${c.batchSize}${c.concurrency !== undefined ? `, concurrency ${c.concurrency}` : ''}, threads ${c.threads}, workers ${c.workers}`;

export function tuningSections(r: Omit<TuneResult, 'reports'>): Section[] {
  const w = r.winner;
  return [
    {
      heading: 'Winner',
      text:
        `Iteration ${w.index} (${configText(w.config)}): median ${w.imagesPerSecond.toFixed(1)} images/s (spread ${(100 * w.spread).toFixed(1)}%) ` +
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
        headers: ['instances', 'hours', 'on demand $', 'spot $'],
        rows: r.fleet.map((f) => [f.instances, f.hours, f.totalUsd, f.spotUsd ?? 'n/a']),
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
