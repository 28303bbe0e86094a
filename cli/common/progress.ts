import os from 'node:os';
import { INDEX_VARIABLES } from '../../src/fleet/task-index.js';
import type { RunEvent } from '../../src/run/run-plan.js';
import { settings } from '../../src/settings.js';
import { clock } from '../../src/report/duration.js';
import { plural } from '../../src/report/units.js';
import { RateWindow } from './rate-window.js';

export type AnyEvent = RunEvent | { event: string; [k: string]: unknown };


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

/** How progress is shown: `auto` is a bar on a terminal and JSON lines elsewhere. */
export const PROGRESS_MODES = ['auto', 'bar', 'json', 'none'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

/** What a heartbeat line carries and the bar shows. */
export interface ProgressNumbers {
  images: number;
  todoImages: number;
  errors: number;
  shards: number;
  todoShards: number;
  unfinishedShards: number;
  imagesPerSecond: number;
  mbPerSecond: number;
  etaSeconds?: number;
}

/** Images, bytes and shards since the run started, and what follows from them. */
class Tally {
  private window = new RateWindow();
  todoImages = 0;
  todoShards = 0;
  workers = 1;
  images = 0;
  errors = 0;
  bytes = 0;
  /** Shards with their rows: tagged here or found committed. */
  done = 0;
  /** Shards left without rows (failed, held by another worker's lease, abandoned at a stop): never counted as done. */
  unfinished = 0;

  start(e: Record<string, unknown>): void {
    this.window = new RateWindow();
    this.todoImages = Number(e.images ?? 0);
    this.todoShards = Number(e.todo ?? 0);
    this.workers = Number(e.workers ?? 1);
  }

  count(e: Record<string, unknown>): void {
    if (e.event === 'start') this.start(e);
    else if (e.event === 'progress') {
      this.images += Number(e.images);
      this.errors += Number(e.errors);
      this.bytes += Number(e.bytes);
      this.window.add(Number(e.images), Number(e.bytes));
    } else if (e.event === 'shard' && e.status !== 'leased') {
      this.done += 1;
      // Shards another worker had done: their images count as done, though none were tagged here.
      if (e.status === 'committed') this.todoImages = Math.max(0, this.todoImages - Number(e.rows ?? 0));
    } else if (e.event === 'shard' || e.event === 'shard-failed') this.unfinished += 1;
  }

  /** Shards being tagged now, at most one per worker. */
  get inHand(): number {
    return Math.max(0, Math.min(this.workers, this.todoShards - this.done - this.unfinished));
  }

  numbers(): ProgressNumbers {
    const r = this.window.rates();
    const left = Math.max(0, this.todoImages - this.images);
    return {
      images: this.images,
      todoImages: this.todoImages,
      errors: this.errors,
      shards: this.done,
      todoShards: this.todoShards,
      unfinishedShards: this.unfinished,
      // Over the last 20 s (rate-window.ts): the run summary's images/s is over the whole run.
      imagesPerSecond: Number((r?.imagesPerSecond ?? 0).toFixed(2)),
      mbPerSecond: Number((r?.mbPerSecond ?? 0).toFixed(2)),
      ...(r && r.imagesPerSecond > 0 ? { etaSeconds: Math.round(left / r.imagesPerSecond) } : {}),
    };
  }
}

/** A JSON line's level: what an operator filters a fleet's logs by. */
function levelOf(e: Record<string, unknown>): 'info' | 'warn' | 'error' {
  if (e.event === 'error') return 'error';
  if (e.event === 'summary') return e.exitCode === 0 ? 'info' : e.exitCode === 3 ? 'warn' : 'error';
  if (e.event === 'shard-failed' || e.event === 'notice' || e.event === 'stopping' || (e.event === 'shard' && e.status === 'leased')) return 'warn';
  return 'info';
}

/**
 * Columns a redrawn line may use: one short of the edge (a full line wraps the cursor) and two more
 * for the terminal's own `^C` echo, which lands after the bar; if that wrapped, the redraw could not
 * clear it and a stale bar would stay on the screen.
 */
function usableColumns(columns: number): number {
  return Math.max(1, columns - 3);
}

/**
 * The bar's line, made to fit `columns`: the parts an operator needs most are kept, the others
 * dropped from the end, so a redraw never wraps (a wrapped line is redrawn as a new one each time).
 */
export function barLine(n: ProgressNumbers, columns: number): string {
  const head = (width: number) => {
    const filled = n.todoImages > 0 ? Math.min(width, Math.round((n.images / n.todoImages) * width)) : width;
    return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${n.images}/${n.todoImages} images`;
  };
  const parts = [
    `${n.imagesPerSecond.toFixed(1)} images/s`,
    `ETA ${n.etaSeconds === undefined ? 'unknown' : clock(n.etaSeconds)}`,
    `${n.shards}/${n.todoShards} shards${n.unfinishedShards > 0 ? ` (${n.unfinishedShards} unfinished)` : ''}`,
    `${n.errors} error rows`,
    `${n.mbPerSecond.toFixed(1)} MB/s`,
  ];
  const max = usableColumns(columns);
  for (let keep = parts.length; keep >= 0; keep--) {
    const tail = parts.slice(0, keep).map((p) => `  ${p}`).join('');
    for (const width of [24, 16, 10]) {
      const line = head(width) + tail;
      if (line.length <= max) return line;
    }
  }
  return head(10).slice(0, max);
}

/**
 * `report --watch`'s line, fitted to `columns` as the bar is: whole parts dropped from the end, never
 * a word cut; an ETA that cannot be known (nothing measured yet, or a stalled run) says so.
 */
export function watchLine(e: Record<string, unknown>, columns: number): string {
  const eta = e.etaSeconds !== undefined ? clock(Number(e.etaSeconds)) : e.stalledSeconds !== undefined ? 'none (stalled)' : 'unknown';
  const parts = [`watching: ${e.committed}/${e.planned} shards`, `${e.images} images`, `ETA ${eta}`, `${e.imagesPerSecond} images/s while tagging`, `${e.errorRows} error rows`, `${e.s3Requests} S3 requests`];
  const max = usableColumns(columns);
  for (let keep = parts.length; keep > 1; keep--) {
    const line = parts.slice(0, keep).join('  ');
    if (line.length <= max) return line;
  }
  return parts[0]!.slice(0, max);
}

/**
 * Progress for people and for machines. `bar`: one line redrawn as images finish, fitted to the
 * terminal. `json` (cron, fleet logs): one JSON object per event, each with its level, the run, host
 * and array index; a heartbeat every 30 s while tagging; the run's summary last. `none`: only
 * notices and the stop acknowledgement. `auto`: a bar on a terminal, JSON lines elsewhere.
 */
export function progressReporter(stream: NodeJS.WriteStream = process.stderr, mode: ProgressMode = 'auto'): (e: AnyEvent) => void {
  const tally = new Tally();
  let run: string | undefined;
  const where = origin();
  const shown = mode === 'auto' ? (stream.isTTY ? 'bar' : 'json') : mode;

  if (shown === 'json') {
    let heartbeat: NodeJS.Timeout | undefined;
    const write = (e: Record<string, unknown>) => stream.write(JSON.stringify({ time: new Date().toISOString(), level: levelOf(e), ...(run ? { run } : {}), ...where, ...e }) + '\n');
    return (event) => {
      const e = event as Record<string, unknown> & { event: string };
      if (e.event === 'start') run = String(e.run);
      tally.count(e);
      if (e.event === 'start' && heartbeatSeconds() > 0) {
        clearInterval(heartbeat);
        heartbeat = setInterval(() => write({ event: 'heartbeat', ...tally.numbers() }), heartbeatSeconds() * 1000);
        heartbeat.unref();
      }
      if (e.event === 'summary') clearInterval(heartbeat);
      if (e.event === 'stopping') e.shardsInHand = tally.inHand;
      if (e.event !== 'progress') write(e);
    };
  }

  const bar = shown === 'bar';
  // On a terminal each message replaces the bar's line and the bar comes back below it.
  const say = (text: string) => stream.write(`${bar ? '\r\x1b[2K' : ''}${text}\n`);
  let drawn = 0;
  const draw = (final: boolean) => {
    stream.write(`\r\x1b[2K${barLine(tally.numbers(), stream.columns ?? 80)}${final ? '\n' : ''}`);
    drawn = performance.now();
  };
  return (event) => {
    const e = event as Record<string, unknown> & { event: string };
    tally.count(e);
    if (e.event === 'notice') return void say(`imgtag: ${e.message}`);
    if (e.event === 'stopping') {
      // Acknowledged at once: the workers may need seconds to finish or give back their shards.
      return void say(
        Number(e.seconds) > 0
          ? `imgtag: stopping (${e.signal}): ${plural(tally.inHand, 'shard')} finishing, up to ${clock(Number(e.seconds))}; Ctrl-C again aborts`
          : `imgtag: aborting (${e.signal}): shards in hand left for the next run`,
      );
    }
    if (!bar) return;
    if (e.event === 'tune-iteration') return void say(`tune: iteration ${e.index} ${e.change}: ${e.imagesPerSecond} images/s (${Number(e.runs) === 1 ? 'one run: no spread' : `spread ${(100 * Number(e.spread ?? 0)).toFixed(1)}%`})`);
    if (e.event === 'summary') return draw(true);
    if (e.event === 'watch') return void stream.write(`\r\x1b[2K${watchLine(e, stream.columns ?? 80)}${e.committed === e.planned ? '\n' : ''}`);
    // A few redraws a second at most: a terminal is slower than the images.
    if (e.event === 'start' || e.event === 'shard' || e.event === 'shard-failed' || (e.event === 'progress' && performance.now() - drawn > 200)) draw(false);
  };
}
