import type { CompactOutcome } from '../../src/compact/compact.js';
import { dirnameUri } from '../../src/storage/uri.js';
import type { RunSummary } from '../../src/run/run-plan.js';
import { mergeErrorDigests } from '../../src/rundir/digest.js';
import { hms } from '../../src/report/duration.js';
import { plural, size } from '../../src/report/units.js';

export { hms, plural, size };

/** A plain two-column table for terminals and logs. */
export function table(rows: [string, string | number][]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

export function runSummaryRows(s: RunSummary): [string, string | number][] {
  const rate = s.seconds > 0 ? s.images / s.seconds : 0;
  return [
    ['shards', `${s.tagged} tagged, ${s.skipped} already done, ${s.leased} held by other workers, ${s.failedShards.length - s.leased} unfinished (of ${s.shards})`],
    ['images', s.images],
    ['tagged ok', s.ok],
    ['error rows', s.failures],
    ['read', size(s.bytes)],
    ['wall time', hms(s.seconds)],
    // The same words as the report's: what the rate divides by is in its name.
    ['images/s over wall time', rate.toFixed(1)],
    ...(s.compaction ? [['dataset', compactionLine(s.compaction)] as [string, string]] : []),
    ...(s.compaction ? currentRows(s.compaction) : []),
  ];
}

/** The most frequent reasons for this run's error rows, with a few keys each: the first thing to look at. */
export function failureDigestLines(s: RunSummary, n = 5): string[] {
  const reasons = mergeErrorDigests(s.markers.map((m) => m.errors), n);
  if (reasons.length === 0) return [];
  return ['', 'top error reasons (rows, stage: reason, sample keys)', ...reasons.map((e) => `${String(e.count).padStart(6)}  ${e.stage}: ${e.reason}\n        e.g. ${e.samples.join(', ')}`)];
}

/** What compaction did to a nightly root's current table, when the run was a nightly's. */
export function currentRows(c: CompactOutcome): [string, string][] {
  const u = 'current' in c ? c.current : undefined;
  if (u === undefined) return [];
  if (u.status === 'leased') return [['current table', `being updated by ${u.owner}: it will reflect this run when that is done`]];
  const verb = u.status === 'updated' ? 'now' : 'already';
  return [['current table', `${verb} ${plural(u.table.rows, 'row')} in ${plural(u.table.files.length, 'file')} under ${dirnameUri(u.table.files[0]?.uri ?? `${u.table.root}/current/x`)}/`]];
}

export function compactionLine(c: CompactOutcome): string {
  switch (c.status) {
    case 'compacted':
    case 'already': {
      const dirs = [...new Set(c.done.files.map((f) => dirnameUri(f.uri)))];
      const verb = c.status === 'compacted' ? 'compacted into' : 'already compacted into';
      // "file(s)" stays while test/compact.test.ts (not this change's to edit) matches it.
      return `${verb} ${c.done.files.length} file(s), ${plural(c.done.rows, 'row')}, ${size(c.done.bytes)}: ${dirs.join(', ') || '(no rows)'}`;
    }
    case 'incomplete':
      return `not compacted: ${c.committed} of ${c.planned} shards committed`;
    case 'leased':
      return `being compacted by ${c.holder.owner} since ${c.holder.since}`;
    case 'merged':
      return `${c.groups} of its files merged here; the last step is the compact job's without --merge-only`;
  }
}

/**
 * Exit codes a scheduler can act on. 0: every planned image has a row (error rows are data: at
 * 300 M images some are always bad). 3: shards left unfinished, retry the run. 4: more error rows
 * than --max-error-rate allows (opt-in). 1: could not run.
 */
export function exitCodeFor(s: RunSummary, maxErrorRate?: number): number {
  if (s.failedShards.length > 0) return 3;
  if (maxErrorRate !== undefined && s.images > 0 && s.failures / s.images > maxErrorRate) return 4;
  return 0;
}

/** The line that says why the exit code is 4. */
export function errorRateLine(s: RunSummary, maxErrorRate: number | undefined): string | undefined {
  if (exitCodeFor(s, maxErrorRate) !== 4) return undefined;
  return `imgtag: ${s.failures} of ${s.images} images are error rows (${((100 * s.failures) / s.images).toFixed(2)}%), over --max-error-rate ${maxErrorRate}: exit 4`;
}

/** One line per reason a shard was left unfinished (10,000 shards not started are one line, not 10,000). */
export function unfinishedLines(s: RunSummary): string[] {
  const byMessage = new Map<string, number[]>();
  for (const f of s.failedShards) byMessage.set(f.message, [...(byMessage.get(f.message) ?? []), f.shard]);
  return [...byMessage].map(([message, shards]) => {
    const list = shards.length > 5 ? `${shards.slice(0, 5).join(', ')} and ${shards.length - 5} more` : shards.join(', ');
    return `${shards.length === 1 ? 'shard' : `${plural(shards.length, 'shard')}:`} ${list} not finished: ${message}`;
  });
}
