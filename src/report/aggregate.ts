import { finishedCompaction, refuseDamagedDataset } from '../compact/verify.js';
import { damagedShards, damageError, readMarkers, type CommitMarker, type StageSeconds } from '../rundir/commits.js';
import { loadPlan } from '../rundir/plan-file.js';
import { pricedRate, project, resolvePricing, type PriceRequest, type Pricing, type Projection } from './prices.js';
import { machineLabel, type Machine } from '../infer/machine.js';
import { mergeErrorDigests, mergeTopTags, type ErrorReason, type TagCount } from '../rundir/digest.js';
import { isS3Uri } from '../storage/uri.js';
import { addStages, STAGES, zeroStages, type Stage } from '../rundir/stages.js';
import { plural } from './units.js';

export interface RunReport {
  run: string;
  generatedAt: string;
  complete: boolean;
  /** Model ids (name@sha256 prefix) that made this run's rows. */
  models: string[];
  /** The parent run's (plan --since / nightly), to show a model version change. */
  parent?: { run: string; models: string[] };
  shards: { planned: number; committed: number };
  images: { planned: number; done: number; ok: number; failed: number; failuresByStage: Record<string, number> };
  bytes: number;
  /** First shard's start to last shard's end. */
  wallSeconds: number;
  /** Seconds at least one worker was tagging: the gaps between attempts (a run resumed hours later) left out. */
  taggingSeconds: number;
  /** Tagging seconds summed over machines: what was paid for. */
  machineSeconds: number;
  /** The run's rate over its tagging seconds, all machines together. */
  imagesPerSecond: number;
  /** One machine's rate: images per machine-second. Costs are projected from this. */
  imagesPerMachineSecond: number;
  /** The machine(s) the rate was measured on. */
  machines: string[];
  workers: { worker: string; shards: number; images: number; busySeconds: number; imagesPerSecond: number }[];
  stageSeconds: StageSeconds;
  /** The busiest stage; undefined before any shard is committed. */
  bottleneck?: Stage;
  s3: { requests: number; retries: number; failed: number };
  maxRssMb: number;
  pricing: Pricing;
  /** What the work done so far cost (absent before any shard is committed). */
  cost?: Projection;
  /** The whole plan at the measured rate (absent before any shard is committed: nothing measured). */
  projection?: Projection;
  /** Seconds to finish at the measured rate, while in progress. */
  etaSeconds?: number;
  /** The most frequent reasons for error rows, with sample keys. */
  errors: ErrorReason[];
  /** The most frequent first tags (the first model's). */
  topTags: TagCount[];
  /** Images/s over the run's wall time, in up to 60 steps (each shard's rows spread over its own time). */
  throughput: { seconds: number; imagesPerSecond: number }[];
}

/** Images/s per time step from the markers: a shard's rows are spread evenly over its start..finish. */
export function throughputSeries(markers: Pick<CommitMarker, 'startedAt' | 'finishedAt' | 'rows'>[], steps = 60): RunReport['throughput'] {
  if (markers.length === 0) return [];
  const start = Math.min(...markers.map((m) => Date.parse(m.startedAt)));
  const end = Math.max(...markers.map((m) => Date.parse(m.finishedAt)));
  const step = Math.max(1000, Math.ceil((end - start) / steps / 1000) * 1000);
  const images = new Array<number>(Math.max(1, Math.ceil((end - start) / step))).fill(0);
  for (const m of markers) {
    const [a, b] = [Date.parse(m.startedAt) - start, Math.max(Date.parse(m.finishedAt) - start, Date.parse(m.startedAt) - start + 1)];
    for (let i = Math.floor(a / step); i < images.length && i * step < b; i++) {
      const overlap = Math.min(b, (i + 1) * step) - Math.max(a, i * step);
      if (overlap > 0) images[i]! += (m.rows * overlap) / (b - a);
    }
  }
  return images.map((n, i) => ({ seconds: (i * step) / 1000, imagesPerSecond: n / (step / 1000) }));
}

function modelIds(markers: CommitMarker[]): string[] {
  return [...new Set(markers.flatMap((m) => m.models ?? [m.model]))];
}

/** The busiest stage: where adding capacity pays first. */
export function bottleneckOf(s: StageSeconds): Stage {
  return STAGES.reduce((a, b) => (s[b] > s[a] ? b : a));
}

export function sumStages(markers: CommitMarker[]): StageSeconds {
  return markers.reduce((total, m) => addStages(total, m.stageSeconds), zeroStages());
}

/** Seconds covered by the union of the markers' [start, finish] intervals: overlaps counted once, gaps not at all. */
export function coveredSeconds(markers: Pick<CommitMarker, 'startedAt' | 'finishedAt'>[]): number {
  const spans = markers.map((m) => [Date.parse(m.startedAt), Date.parse(m.finishedAt)] as const).sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [from, to] = [-Infinity, -Infinity];
  for (const [s, e] of spans) {
    if (s > to) {
      if (to > from) total += to - from;
      [from, to] = [s, e];
    } else to = Math.max(to, e);
  }
  if (to > from) total += to - from;
  return total / 1000;
}

/** The machine most shards were tagged on (a fleet is one kind; a mixed one is priced by its majority). */
function measuredMachine(markers: CommitMarker[]): { machine?: Machine; labels: string[] } {
  const byLabel = new Map<string, { machine: Machine; shards: number }>();
  for (const m of markers) {
    if (!m.machine) continue;
    const label = machineLabel(m.machine);
    const seen = byLabel.get(label) ?? { machine: m.machine, shards: 0 };
    byLabel.set(label, { ...seen, shards: seen.shards + 1 });
  }
  const ranked = [...byLabel].sort((a, b) => b[1].shards - a[1].shards);
  return { machine: ranked[0]?.[1].machine, labels: ranked.map(([label, v]) => `${label} (${plural(v.shards, 'shard')})`) };
}

/** What a report needs besides the markers, read once (a watch reuses it every refresh). */
export interface ReportContext {
  run: string;
  plan: Awaited<ReturnType<typeof loadPlan>>;
  parent?: { run: string; models: string[] };
}

export async function reportContext(run: string): Promise<ReportContext> {
  const plan = await loadPlan(run);
  const parent =
    plan.current?.base !== undefined
      ? { run: plan.current.base, models: plan.current.baseModels ?? [] }
      : plan.parent === undefined ? undefined : { run: plan.parent, models: modelIds(await readMarkers(plan.parent)) };
  return { run, plan, parent };
}

/** Aggregate a run's commit markers (possibly while it is still running) into one report, checked against its files. */
export async function buildRunReport(run: string, req: PriceRequest): Promise<RunReport> {
  const ctx = await reportContext(run);
  const { markers, damaged } = await damagedShards(run);
  // A report never counts a shard whose results are damaged or gone as done.
  if (damaged.length > 0) throw damageError(run, damaged[0]!);
  // Nor a compacted run whose dataset files are not what done.json recorded (one LIST).
  const compacted = await finishedCompaction(run);
  if (compacted) await refuseDamagedDataset(run, compacted);
  return aggregateRunReport(ctx, markers, req);
}

/** The report from markers already read: no I/O. */
export function aggregateRunReport({ run, plan, parent }: ReportContext, markers: CommitMarker[], req: PriceRequest): RunReport {
  const measured = measuredMachine(markers);
  const priced = resolvePricing(req, measured.machine);
  // A run over local files made no S3 request: its cost has none either (the fleet's would).
  const local = !isS3Uri(run) && !isS3Uri(plan.source.uri) && markers.every((m) => (m.s3?.requests ?? 0) === 0);
  const p: Pricing = {
    ...priced,
    ...(local ? { s3: { ...priced.s3, getPer1000: 0, putPer1000: 0, source: 'none: the images and the run directory are local files' } } : {}),
    ...(markers.length === 0 ? { rateBasis: 'nothing committed yet: no rate measured' } : {}),
  };
  const start = Math.min(...markers.map((m) => Date.parse(m.startedAt)));
  const end = Math.max(...markers.map((m) => Date.parse(m.finishedAt)));
  const wallSeconds = markers.length > 0 ? (end - start) / 1000 : 0;
  const done = markers.reduce((n, m) => n + m.rows, 0);
  const taggingSeconds = coveredSeconds(markers);
  const byHost = new Map<string, CommitMarker[]>();
  for (const m of markers) byHost.set(m.host, [...(byHost.get(m.host) ?? []), m]);
  const machineSeconds = [...byHost.values()].reduce((n, ms) => n + coveredSeconds(ms), 0);
  const imagesPerSecond = taggingSeconds > 0 ? done / taggingSeconds : 0;
  const imagesPerMachineSecond = machineSeconds > 0 ? done / machineSeconds : 0;
  const failuresByStage: Record<string, number> = {};
  for (const m of markers) for (const [k, v] of Object.entries(m.failuresByStage)) failuresByStage[k] = (failuresByStage[k] ?? 0) + (v ?? 0);
  const byWorker = new Map<string, CommitMarker[]>();
  for (const m of markers) byWorker.set(`${m.host}:${m.pid}`, [...(byWorker.get(`${m.host}:${m.pid}`) ?? []), m]);
  const stageSeconds = sumStages(markers);
  const rate = pricedRate(imagesPerMachineSecond, p);
  return {
    run,
    generatedAt: new Date().toISOString(),
    complete: markers.length === plan.shards,
    models: modelIds(markers),
    parent,
    shards: { planned: plan.shards, committed: markers.length },
    images: { planned: plan.counts.images, done, ok: markers.reduce((n, m) => n + m.ok, 0), failed: markers.reduce((n, m) => n + m.failures, 0), failuresByStage },
    bytes: markers.reduce((n, m) => n + m.bytes, 0),
    wallSeconds,
    taggingSeconds,
    machineSeconds,
    imagesPerSecond,
    imagesPerMachineSecond,
    machines: measured.labels,
    workers: [...byWorker].map(([worker, ms]) => {
      const images = ms.reduce((n, m) => n + m.rows, 0);
      const busySeconds = ms.reduce((n, m) => n + m.seconds, 0);
      return { worker, shards: ms.length, images, busySeconds, imagesPerSecond: busySeconds > 0 ? images / busySeconds : 0 };
    }),
    stageSeconds,
    bottleneck: markers.length > 0 ? bottleneckOf(stageSeconds) : undefined,
    s3: {
      requests: markers.reduce((n, m) => n + (m.s3?.requests ?? 0), 0),
      retries: markers.reduce((n, m) => n + (m.s3?.retries ?? 0), 0),
      failed: markers.reduce((n, m) => n + (m.s3?.failed ?? 0), 0),
    },
    maxRssMb: Math.max(0, ...markers.map((m) => m.maxRssMb ?? 0)),
    pricing: p,
    cost: project(done, markers.length, rate, p),
    projection: project(plan.counts.images, plan.shards, rate, p),
    etaSeconds: markers.length < plan.shards && imagesPerSecond > 0 ? (plan.counts.images - done) / imagesPerSecond : undefined,
    errors: mergeErrorDigests(markers.map((m) => m.errors)),
    topTags: mergeTopTags(markers.map((m) => m.topTags)),
    throughput: throughputSeries(markers),
  };
}

