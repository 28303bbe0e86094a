import os from 'node:os';
import type { CommitMarker, StageSeconds } from '../rundir/commits.js';
import type { Stage } from '../rundir/stages.js';
import { coveredSeconds } from '../report/aggregate.js';
import type { Pricing, Projection } from '../report/prices.js';
import type { Device } from '../defaults.js';
import type { Knob } from './knobs.js';

/** tune's search rules: what it varies, in what order, and when a change is kept. No I/O. */

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

/** Candidate values per knob, tried in this order from the defaults `imgtag run` uses. */
export function searchSpace(storage: 's3' | 'local', vary?: Knob[]): { knob: keyof TuneConfig; values: number[] }[] {
  const cores = os.availableParallelism();
  const flag: Record<keyof TuneConfig, Knob> = { batchSize: 'batch-size', concurrency: 'concurrency', workers: 'workers', threads: 'threads' };
  const all: { knob: keyof TuneConfig; values: number[] }[] = [
    { knob: 'batchSize', values: [8, 32] },
    // Local files are read in microseconds: GETs in flight only matter on S3.
    ...(storage === 's3' ? [{ knob: 'concurrency' as const, values: [8, 32, 64] }] : []),
    { knob: 'workers', values: [...new Set([1, 2, cores])] },
    { knob: 'threads', values: [1, 2, cores] },
  ];
  return vary === undefined ? all : all.filter((k) => vary.includes(flag[k.knob]));
}

export const median = (xs: number[]) => {
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

/**
 * CPU seconds per image at steady state: per worker process, the CPU between its first commit and
 * its last over the images committed after the first (start-up and the first shard left out, as
 * steadyRate does). Undefined when no process committed twice with CPU stamps (older markers).
 */
export function steadyCpuPerImage(markers: CommitMarker[]): number | undefined {
  const byPid = new Map<number, CommitMarker[]>();
  for (const m of markers) {
    if (m.cpuSeconds === undefined) continue;
    const ms = byPid.get(m.pid) ?? [];
    ms.push(m);
    byPid.set(m.pid, ms);
  }
  let cpu = 0;
  let images = 0;
  for (const ms of byPid.values()) {
    if (ms.length < 2) continue;
    ms.sort((a, b) => a.cpuSeconds! - b.cpuSeconds!);
    cpu += ms.at(-1)!.cpuSeconds! - ms[0]!.cpuSeconds!;
    images += ms.slice(1).reduce((n, m) => n + m.rows, 0);
  }
  return images > 0 ? cpu / images : undefined;
}

const range = (xs: number[]) => Math.max(...xs) - Math.min(...xs);

/**
 * A change is kept only when its gain is more than the noise: its median beats the best setting's
 * by more than half the wider of the two ranges of runs (one median outside the other's half-range).
 * One run of a setting measures no noise at all, so it shows no gain (`tune --repeats 1`).
 */
export function beatsSpread(next: Pick<Iteration, 'imagesPerSecond' | 'repetitions'>, best: Pick<Iteration, 'imagesPerSecond' | 'repetitions'>): boolean {
  if (next.repetitions.length < 2 || best.repetitions.length < 2) return false;
  return next.imagesPerSecond - best.imagesPerSecond > Math.max(range(next.repetitions), range(best.repetitions)) / 2;
}
