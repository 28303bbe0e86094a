import os from 'node:os';
import { INDEX_VARIABLES } from '../../src/fleet/task-index.js';
import type { RunEvent } from '../../src/run/run-plan.js';
import { settings } from '../../src/settings.js';

export type AnyEvent = RunEvent | { event: string; [k: string]: unknown };

const clock = (s: number) => {
  const t = Math.max(0, Math.round(s));
  return `${Math.floor(t / 3600)}:${String(Math.floor(t / 60) % 60).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
};

/** Seconds between heartbeat lines in JSON mode: a fleet log shows a live task even inside a long shard. */
const heartbeatSeconds = () => settings().heartbeatSeconds;

/** Where these lines come from, on every JSON line: a fleet's logs are read together. */
function origin(): Record<string, string | number> {
  const index = INDEX_VARIABLES.map((v) => process.env[v]).find((v) => v !== undefined && v !== '');
  return {
    host: os.hostname(),
    pid: process.pid,
    ...(process.env.AWS_BATCH_JOB_ID ? { job: process.env.AWS_BATCH_JOB_ID } : {}),
    ...(index !== undefined ? { arrayIndex: Number(index) } : {}),
  };
}

/** Images, bytes and shards done since the run started, and what follows from them. */
class Tally {
  private started = performance.now();
  todoImages = 0;
  todoShards = 0;
  images = 0;
  errors = 0;
  bytes = 0;
  shards = 0;

  start(e: Record<string, unknown>): void {
    this.started = performance.now();
    this.todoImages = Number(e.images ?? 0);
    this.todoShards = Number(e.todo ?? 0);
  }

  get seconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  numbers() {
    const s = this.seconds;
    const rate = s > 0 ? this.images / s : 0;
    const left = Math.max(0, this.todoImages - this.images);
    return {
      images: this.images,
      todoImages: this.todoImages,
      errors: this.errors,
      shards: this.shards,
      todoShards: this.todoShards,
      imagesPerSecond: Number(rate.toFixed(2)),
      mbPerSecond: Number((s > 0 ? this.bytes / 1e6 / s : 0).toFixed(2)),
      ...(rate > 0 ? { etaSeconds: Math.round(left / rate) } : {}),
    };
  }
}

/**
 * Progress for people and for machines. On a terminal: one line redrawn as images finish (a bar,
 * images/s, MB/s, error rows, ETA). Otherwise (cron, fleet logs): one JSON object per event, each
 * with the run, host and array index; a heartbeat every 30 s while tagging; the run's summary last.
 */
export function progressReporter(stream: NodeJS.WriteStream = process.stderr): (e: AnyEvent) => void {
  const tally = new Tally();
  let run: string | undefined;
  const where = origin();
  const count = (e: Record<string, unknown>) => {
    if (e.event === 'start') tally.start(e);
    else if (e.event === 'progress') {
      tally.images += Number(e.images);
      tally.errors += Number(e.errors);
      tally.bytes += Number(e.bytes);
    } else if (e.event === 'shard' || e.event === 'shard-failed') {
      tally.shards += 1;
      // Shards another worker had done: their images count as done, though none were tagged here.
      if (e.status === 'committed') tally.todoImages = Math.max(0, tally.todoImages - Number(e.rows ?? 0));
    }
  };

  if (!stream.isTTY) {
    let heartbeat: NodeJS.Timeout | undefined;
    const write = (e: Record<string, unknown>) => stream.write(JSON.stringify({ time: new Date().toISOString(), ...(run ? { run } : {}), ...where, ...e }) + '\n');
    return (event) => {
      const e = event as Record<string, unknown> & { event: string };
      if (e.event === 'start') run = String(e.run);
      count(e);
      if (e.event === 'start' && heartbeatSeconds() > 0) {
        clearInterval(heartbeat);
        heartbeat = setInterval(() => write({ event: 'heartbeat', ...tally.numbers() }), heartbeatSeconds() * 1000);
        heartbeat.unref();
      }
      if (e.event === 'summary') clearInterval(heartbeat);
      if (e.event !== 'progress') write(e);
    };
  }

  let drawn = 0;
  const draw = (final: boolean) => {
    const n = tally.numbers();
    const width = 24;
    const filled = n.todoImages > 0 ? Math.min(width, Math.round((n.images / n.todoImages) * width)) : width;
    const line =
      `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${n.images}/${n.todoImages} images  ${n.imagesPerSecond.toFixed(1)} images/s  ` +
      `${n.mbPerSecond.toFixed(1)} MB/s  ${n.errors} error rows  ${n.shards}/${n.todoShards} shards  ETA ${n.etaSeconds === undefined ? '?' : clock(n.etaSeconds)}`;
    stream.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
    drawn = performance.now();
  };
  return (event) => {
    const e = event as Record<string, unknown> & { event: string };
    count(e);
    if (e.event === 'tune-iteration') return void stream.write(`\r\x1b[2Ktune: iteration ${e.index} ${e.change}: ${e.imagesPerSecond} images/s (spread ${(100 * Number(e.spread ?? 0)).toFixed(1)}%)\n`);
    if (e.event === 'summary') return draw(true);
    if (e.event === 'notice') return void stream.write(`\r\x1b[2Kimgtag: ${e.message}\n`);
    // A few redraws a second at most: a terminal is slower than the images.
    if (e.event === 'start' || e.event === 'shard' || e.event === 'shard-failed' || (e.event === 'progress' && performance.now() - drawn > 200)) draw(false);
  };
}
