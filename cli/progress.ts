import type { RunEvent } from '../src/pipeline/run-plan.js';

type AnyEvent = RunEvent | { event: string; [k: string]: unknown };

const clock = (s: number) => {
  const t = Math.max(0, Math.round(s));
  return `${Math.floor(t / 3600)}:${String(Math.floor(t / 60) % 60).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
};

/**
 * Progress for people and for machines: on a terminal, one line redrawn with a bar, rate and ETA;
 * otherwise (cron, fleet logs) one JSON object per line.
 */
export function progressReporter(stream: NodeJS.WriteStream = process.stderr): (e: AnyEvent) => void {
  if (!stream.isTTY) return (e) => stream.write(JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n');
  const started = performance.now();
  let todo = 0;
  let done = 0;
  let images = 0;
  return (event) => {
    const e = event as Record<string, unknown> & { event: string };
    if (e.event === 'start') todo = Number(e.todo);
    else if (e.event === 'shard' || e.event === 'shard-failed') {
      done += 1;
      images += Number(e.rows ?? 0);
    } else if (e.event !== 'tune-iteration') return;
    const elapsed = (performance.now() - started) / 1000;
    const rate = images / elapsed;
    const eta = done > 0 && rate > 0 ? ((todo - done) * (images / done)) / rate : NaN;
    const width = 24;
    const filled = todo > 0 ? Math.round((done / todo) * width) : width;
    const line =
      e.event === 'tune-iteration'
        ? `tune: iteration ${e.index} ${e.change}: ${e.imagesPerSecond} images/s`
        : `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${todo} shards  ${images} images  ${rate.toFixed(1)} images/s  ETA ${Number.isNaN(eta) ? '?' : clock(eta)}`;
    stream.write(`\r\x1b[2K${line}${done >= todo || e.event === 'tune-iteration' ? '\n' : ''}`);
  };
}
