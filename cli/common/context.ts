import type { RunSummary } from '../../src/run/run-plan.js';
import type { S3Options } from '../../src/storage/s3-config.js';
import { errorRateLine, exitCodeFor } from './format.js';
import type { AnyEvent } from './progress.js';

/** What every command gets from the program: the global flags' S3 settings and the event log. */
export interface Cli {
  /** S3 settings from the global flags (--endpoint, --region), set before any command's action. */
  s3(): S3Options;
  /** A progress bar on a terminal; JSON lines on stderr for cron jobs and fleet logs. */
  log(e: AnyEvent): void;
}

/**
 * Makes a handler a command's action: the handler answers its exit code (0 done, 1 could not run,
 * 3 unfinished, 4 over --max-error-rate), which becomes the program's.
 */
export type Act = <A extends unknown[]>(handler: (...args: A) => Promise<number>) => (...args: A) => Promise<void>;

/**
 * The exit code of a run, and its summary event. The notes (unfinished shards, the line that
 * explains a 4) are notices before it: JSON lines in a fleet's log, whose last line stays the
 * summary; on a terminal, lines of their own above the last bar, which the summary event ends before
 * the summary itself (`out`, on stdout) is printed.
 */
export function finishRun(cli: Cli, summary: RunSummary, maxErrorRate: number | undefined, out: string[], notes: string[] = []): number {
  const exitCode = exitCodeFor(summary, maxErrorRate);
  const line = errorRateLine(summary, maxErrorRate);
  for (const note of line ? [...notes, line] : notes) cli.log({ event: 'notice', message: note.replace(/^imgtag: /, '') });
  const { markers: _, compaction, ...counts } = summary;
  cli.log({ event: 'summary', exitCode, ...counts, ...(compaction ? { compaction: compaction.status } : {}) });
  for (const text of out) console.log(text);
  return exitCode;
}
