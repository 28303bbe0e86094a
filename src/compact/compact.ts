import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { invalid, UserError } from '../errors.js';
import { acquireLock, leaseTtlMs, type Holder } from '../lease/lease.js';
import { committedShards, readMarkers, stagedFile } from '../rundir/commits.js';
import { loadPlan, planIdentity } from '../rundir/plan-file.js';
import { datasetLayout, runLayout } from '../rundir/layout.js';
import { deleteObjects, downloadFile, listObjects, statObject, uploadFile } from '../storage/storage.js';
import { groupShards, type StagedShard } from './groups.js';
import { ParquetMerger } from './merge.js';
import { finishedCompaction, refuseDamagedDataset, sha256 } from './verify.js';
import { dropScratch, scratchDir } from '../temp/scratch.js';
import { updateCurrent, type CurrentUpdate } from '../current/update.js';
import { groupMarker, readState, writeState, type CompactedFile, type CompactionDone, type CompactionPlan } from '../rundir/compaction.js';
import { DEFAULTS } from '../defaults.js';

export interface CompactOptions {
  /** Merged file size to aim for (default 256 MB). */
  targetFileMb?: number;
  /** Row group size to aim for (default 128 MB). */
  rowGroupMb?: number;
  /** DuckDB's memory limit; beyond it the sort spills to local disk (default 256 MB). */
  memoryMb?: number;
  threads?: number;
  /** Files merged at once: this process and workers - 1 `compact --merge-only` processes (default 1). */
  workers?: number;
  /** Merge groups only (a fleet child): done.json and the current table are left to a `compact` without it. */
  mergeOnly?: boolean;
}

export type CompactOutcome =
  | { status: 'compacted' | 'already'; done: CompactionDone; seconds: number; current?: CurrentUpdate }
  /** Not every planned shard is committed: nothing was merged. */
  | { status: 'incomplete'; committed: number; planned: number }
  /** Another process is compacting this run (or one of its groups) right now. */
  | { status: 'leased'; holder: Holder }
  /** mergeOnly: this process merged `groups` groups (or found them merged); the last step is another's. */
  | { status: 'merged'; groups: number; seconds: number };

/**
 * Staged bytes per merged byte: a shard's 1,000 rows compress far worse than millions sorted by key
 * (60 against 17-18 bytes a row, BENCHMARKS.md), so a group holds about 3x its target in staged files.
 */
const STAGED_PER_MERGED = 3;

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw invalid(name, 'a positive number of MB', v);
  return v;
}

/** The staged file of every committed shard, with its size: a missing one is named, never skipped. */
async function stagedShards(run: string): Promise<StagedShard[]> {
  const sizes = new Map<string, number>();
  for await (const o of listObjects(runLayout.staging(run))) sizes.set(o.uri, o.size ?? 0);
  const out: StagedShard[] = [];
  for (const m of await readMarkers(run)) {
    const uri = stagedFile(run, m);
    const bytes = sizes.get(uri) ?? (await statObject(uri).catch(() => undefined))?.size;
    if (bytes === undefined) throw new UserError(`${uri} is missing though shard ${m.shard} is committed: delete ${runLayout.commit(run, m.shard)} and run again to redo the shard`);
    out.push({ shard: m.shard, uri, bytes, rows: m.rows });
  }
  return out;
}

async function makePlan(run: string, o: Required<CompactOptions>): Promise<CompactionPlan> {
  const plan = await loadPlan(run);
  const { id, dataset, runDate } = planIdentity(run, plan);
  const groups = groupShards(await stagedShards(run), o.targetFileMb * 2 ** 20 * STAGED_PER_MERGED).map((g, i) => ({
    uri: datasetLayout.file(dataset, runDate, id, i),
    shards: g.shards.map(({ shard, uri, rows, bytes }) => ({ shard, uri, rows, bytes })),
    rows: g.rows,
    bytes: g.bytes,
  }));
  return { version: 1, createdAt: new Date().toISOString(), targetBytes: o.targetFileMb * 2 ** 20, rowGroupBytes: o.rowGroupMb * 2 ** 20, groups };
}

/** Merge one group: staged files to local disk, one sorted file, up to the dataset, then its marker. */
async function mergeGroup(run: string, plan: CompactionPlan, index: number, merger: ParquetMerger, tmp: string, memoryMb: number): Promise<CompactedFile> {
  const group = plan.groups[index]!;
  const dir = await fsp.mkdtemp(path.join(tmp, 'group-'));
  try {
    const limit = pLimit(8);
    const parts = await Promise.all(
      group.shards.map((s) =>
        limit(async () => {
          const file = path.join(dir, `part-${s.shard}.parquet`);
          await downloadFile(s.uri, file);
          return { file, uri: s.uri, rows: s.rows };
        }),
      ),
    );
    // Row groups are sized as parquet-mr sizes them: by the bytes a writer buffers (uncompressed).
    const uncompressed = await merger.check(parts);
    const out = path.join(dir, 'merged.parquet');
    const bytesPerRow = uncompressed / Math.max(1, group.rows);
    // DuckDB's writer holds a row group in its own (larger) format: about 1 KB of memory per row
    // of tags, so a row group never holds more rows than the memory limit allows.
    const memoryRows = memoryMb * 1024;
    const rows = await merger.merge(parts, out, Math.min(plan.rowGroupBytes / Math.max(1, bytesPerRow), memoryRows));
    if (rows !== group.rows) throw new Error(`merging ${group.shards.length} shards gave ${rows} rows where their markers say ${group.rows}: nothing was published`);
    const { size } = await fsp.stat(out);
    const digest = await sha256(out);
    await uploadFile(out, group.uri, 'application/vnd.apache.parquet');
    const file: CompactedFile = { uri: group.uri, rows, bytes: size, shards: group.shards.map((s) => s.shard), sha256: digest };
    await writeState(run, groupMarker(index), file);
    return file;
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

/** Staged shard files are removed only after done.json: until then they are what readers read. */
async function removeStaged(run: string): Promise<void> {
  const staged = new Set<string>();
  for (const g of (await readState<CompactionPlan>(run, 'plan.json'))?.groups ?? []) for (const s of g.shards) staged.add(s.uri);
  // Left-overs of writers killed mid-write go too.
  for await (const o of listObjects(runLayout.staging(run))) staged.add(o.uri);
  await deleteObjects([...staged]);
}

/**
 * The compaction plan: made once, under the run's compaction lock, by whichever process comes first.
 * The others wait for it (making it takes seconds; 32 merge children start at once on a fleet) or,
 * if its maker died, for its lease to expire and make it themselves: never exit 3 for it.
 */
async function ensurePlan(run: string, o: Required<CompactOptions>): Promise<CompactionPlan> {
  for (;;) {
    const existing = await readState<CompactionPlan>(run, 'plan.json');
    if (existing) return existing;
    const got = await acquireLock(runLayout.compactionLock(run), leaseTtlMs());
    if ('holder' in got) {
      await new Promise((r) => setTimeout(r, Math.min(1000, leaseTtlMs() / 4)));
      continue;
    }
    try {
      const again = await readState<CompactionPlan>(run, 'plan.json');
      if (again) return again;
      const made = await makePlan(run, o);
      await writeState(run, 'plan.json', made);
      return made;
    } finally {
      await got.lease.release();
    }
  }
}

/**
 * Merge every group of the plan that has no marker yet, each under its own lease; groups another
 * process holds are left to it. Answers who holds the groups still unmarked at the end.
 */
async function mergeGroups(run: string, plan: CompactionPlan, o: Required<CompactOptions>): Promise<Holder[]> {
  const tmp = await scratchDir('compact');
  const left: Holder[] = [];
  try {
    for (let i = 0; i < plan.groups.length; i++) {
      if (await readState<CompactedFile>(run, groupMarker(i))) continue;
      const got = await acquireLock(runLayout.compaction(run, groupLease(i)), leaseTtlMs());
      if ('holder' in got) {
        left.push(got.holder);
        continue;
      }
      try {
        // Marked while we took the lease: done once, by the other.
        if (await readState<CompactedFile>(run, groupMarker(i))) continue;
        // A DuckDB per group, closed after it: what one merge's sort and writer kept (caches, arenas)
        // is not carried into the next, so a worker's memory does not grow with the groups it merges.
        const merger = await ParquetMerger.open({ memoryLimitMb: o.memoryMb, threads: o.threads, tempDir: tmp });
        try {
          await mergeGroup(run, plan, i, merger, tmp, o.memoryMb);
        } finally {
          merger.close();
        }
      } finally {
        await got.lease.release();
      }
    }
  } finally {
    await dropScratch(tmp);
  }
  return left;
}

const groupLease = (i: number) => `leases/group-${String(i).padStart(5, '0')}.json`;

/**
 * Merge a finished run's per-shard Parquet into files of about 256 MB in the dataset, sorted by key,
 * exactly once. Every step is redone or skipped by the next attempt after a crash at any moment:
 * plan.json fixes the files before any is written; each merged file is written whole (one PUT, or
 * write-then-rename) under a fixed name, under its group's lease, and then marked; done.json comes
 * after the last file; the staged files go after done.json. Readers see staged files until
 * done.json and merged files after (resultFiles), and the dataset never holds a row twice.
 *
 * The groups are independent: `workers` merge at once here, and with `mergeOnly` as many processes
 * or fleet children as there are merge their share (each group under a lease) and leave the last
 * step (done.json, the current table, removing staged files) to one `compact` without it.
 */
export async function compactRun(run: string, opts: CompactOptions = {}): Promise<CompactOutcome> {
  const started = performance.now();
  const o: Required<CompactOptions> = {
    targetFileMb: positive('--target-file-mb', opts.targetFileMb ?? DEFAULTS.compact.targetFileMb),
    rowGroupMb: positive('--row-group-mb', opts.rowGroupMb ?? DEFAULTS.compact.rowGroupMb),
    memoryMb: positive('--memory-mb', opts.memoryMb ?? DEFAULTS.compact.memoryMb),
    threads: opts.threads ?? os.availableParallelism(),
    workers: opts.workers ?? 1,
    mergeOnly: opts.mergeOnly ?? false,
  };
  const seconds = () => (performance.now() - started) / 1000;
  const plan = await loadPlan(run);
  const finished = await finishedCompaction(run);
  // A nightly's run then becomes the current table (a no-op when it already is).
  const settled = async (status: 'compacted' | 'already', done: CompactionDone): Promise<CompactOutcome> => {
    await removeStaged(run);
    const current = await updateCurrent(run, plan, done);
    return { status, done, seconds: seconds(), current };
  };
  if (finished) {
    // Trusted only as it is: a file of another size than done.json records is named, not counted.
    await refuseDamagedDataset(run, finished);
    return o.mergeOnly ? { status: 'merged', groups: 0, seconds: seconds() } : settled('already', finished);
  }
  const committed = (await committedShards(run)).size;
  if (committed < plan.shards) return { status: 'incomplete', committed, planned: plan.shards };

  const cplan = await ensurePlan(run, o);
  // Other merge workers are processes (`compact --merge-only`), as on the fleet: two DuckDB
  // instances merging at once in one process crashed it (SIGSEGV at 1 M rows).
  const helpers = Array.from({ length: Math.max(0, Math.min(o.workers, cplan.groups.length) - 1) }, () => mergeProcess(run, o));
  let left = await mergeGroups(run, cplan, o);
  if (helpers.length > 0) {
    // Once they are done, what they held is merged, or (one failed) merged here now.
    await Promise.all(helpers);
    left = await mergeGroups(run, cplan, o);
  }
  if (o.mergeOnly) return { status: 'merged', groups: cplan.groups.length - left.length, seconds: seconds() };
  // The last step waits out groups others hold: a live merge renews its lease and finishes, a dead
  // one's (a reclaimed fleet child on another host) expires within the lease time and is merged here.
  for (const until = Date.now() + leaseTtlMs() + 30_000; left.length > 0 && Date.now() < until; ) {
    await sleep(Math.min(10_000, leaseTtlMs() / 4));
    left = await mergeGroups(run, cplan, o);
  }
  if (left.length > 0) return { status: 'leased', holder: left[0]! };
  // The last step, once: under the run's lock, every group marked. A merge child killed while it
  // held that lock (making the plan) is waited out like its groups: its lease expires unrenewed.
  let got = await acquireLock(runLayout.compactionLock(run), leaseTtlMs());
  for (const until = Date.now() + leaseTtlMs() + 30_000; 'holder' in got && Date.now() < until; ) {
    const done = await finishedCompaction(run);
    if (done) return settled('already', done);
    await sleep(Math.min(10_000, leaseTtlMs() / 4));
    got = await acquireLock(runLayout.compactionLock(run), leaseTtlMs());
  }
  if ('holder' in got) return { status: 'leased', holder: got.holder };
  try {
    const again = await finishedCompaction(run);
    if (again) return await settled('already', again);
    const files: CompactedFile[] = [];
    for (let i = 0; i < cplan.groups.length; i++) {
      const marked = await readState<CompactedFile>(run, groupMarker(i));
      if (!marked) throw new UserError(`${runLayout.compaction(run, groupMarker(i))} vanished while compacting: run "imgtag compact --run ${run}" again`);
      files.push(marked);
    }
    const done: CompactionDone = {
      version: 1,
      runId: planIdentity(run, plan).id,
      finishedAt: new Date().toISOString(),
      rows: files.reduce((n, f) => n + f.rows, 0),
      bytes: files.reduce((n, f) => n + f.bytes, 0),
      shards: cplan.groups.reduce((n, g) => n + g.shards.length, 0),
      files,
    };
    await writeState(run, 'done.json', done);
    await deleteObjects([runLayout.compaction(run, 'repair.json')]);
    return await settled('compacted', done);
  } finally {
    await got.lease.release();
  }
}

const CLI = fileURLToPath(new URL('../../cli/imgtag.js', import.meta.url));

/** One more merge worker: `imgtag compact --merge-only` in a process of its own; resolves to its exit code. */
function mergeProcess(run: string, o: Required<CompactOptions>): Promise<number | null> {
  const args = [CLI, 'compact', '--run', run, '--merge-only', '--target-file-mb', String(o.targetFileMb), '--row-group-mb', String(o.rowGroupMb), '--memory-mb', String(o.memoryMb)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((resolve) => {
    child.on('error', () => resolve(null));
    child.on('exit', (code) => resolve(code));
  });
}
