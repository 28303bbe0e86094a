import { DEFAULTS } from '../defaults.js';
import os from 'node:os';
import type { Device } from '../defaults.js';
import type { CommitMarker, StageSeconds } from '../rundir/commits.js';
import type { Stage } from '../rundir/stages.js';
import { manifestSource, type ManifestRow } from '../manifest/index.js';
import { readShardFile } from '../rundir/shard-file.js';
import { encodeShardRow } from '../rundir/shard-line.js';
import { createPlan } from '../plan/plan.js';
import { loadPlan } from '../rundir/plan-file.js';
import { defaultWorkers, runPlan, type RunEvent } from '../run/run-plan.js';
import { pricedRate, project, resolvePricing, type PriceRequest, type Pricing, type Projection } from '../report/prices.js';
import { describeMachine, machineLabel } from '../infer/machine.js';
import { bottleneckOf, coveredSeconds, sumStages } from '../report/aggregate.js';
import { writeReports } from '../report/run-report.js';
import { readMarkers } from '../rundir/commits.js';
import { runLayout, runName } from '../rundir/layout.js';
import type { S3Options } from '../storage/s3-config.js';
import { writeBytes } from '../storage/storage.js';
import { isS3Uri, joinUri } from '../storage/uri.js';
import { invalid, UserError } from '../errors.js';
import { beatsSpread, median, searchSpace, steadyRate, type Iteration, type TuneConfig, type TuneResult } from './search.js';
import { tuningSections } from './charts.js';
import type { Knob } from './knobs.js';

export interface TuneOptions {
  run: string;
  model?: string;
  sample: number;
  repeats: number;
  price: PriceRequest;
  device: Device;
  maxPixels: number;
  s3: S3Options;
  /** Only these settings (default: all). */
  vary?: Knob[];
}

const RUN_DEFAULTS = { batchSize: DEFAULTS.batchSize, concurrency: DEFAULTS.concurrency };
const FLEET_SIZES = [1, 2, 5, 10, 20, 50, 100, 200, 500];

/** The first `n` images of the plan, in shard order: the same sample for every iteration. */
async function sampleRows(run: string, n: number): Promise<ManifestRow[]> {
  const plan = await loadPlan(run);
  const rows: ManifestRow[] = [];
  for (let i = 0; i < plan.shards && rows.length < n; i++) rows.push(...(await readShardFile(runLayout.shard(run, i))));
  if (rows.length === 0) throw new UserError(`${run} has no images to tune on`);
  return rows.slice(0, n);
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
    log({ event: 'tune-iteration', index: it.index, change, ...config, imagesPerSecond: Number(imagesPerSecond.toFixed(2)), runs: repetitions.length, spread: Number(it.spread.toFixed(3)) });
    return it;
  };

  // Warm-up, not measured: the OS file cache, the model file, the S3 connection pool.
  const workers = defaultWorkers(opts.device);
  const defaults: TuneConfig = { batchSize: RUN_DEFAULTS.batchSize, ...(storage === 's3' ? { concurrency: RUN_DEFAULTS.concurrency } : {}), threads: Math.max(1, Math.floor(cores / workers)), workers };
  await once(defaults);
  let best = await measure('run defaults', defaults);
  best.kept = true;
  for (const { knob, values } of searchSpace(storage, opts.vary)) {
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
