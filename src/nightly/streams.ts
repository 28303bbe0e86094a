import { UserError } from '../errors.js';
import { compactRun } from '../compact/compact.js';
import { acquireLock, leaseTtlMs } from '../lease/lease.js';
import { committedShards } from '../rundir/commits.js';
import { runLayout } from '../rundir/layout.js';
import { loadPlan, type Plan } from '../rundir/plan-file.js';
import { deleteObjects, listObjects, writeBytes } from '../storage/storage.js';
import { streamLayout, streamSessions } from '../rundir/stream-sessions.js';

/** A stream session is kept this long after it was opened: long past any Inventory report that lists what it tagged. */
export const STREAM_RETENTION_DAYS = 7;

export interface StreamSettlement {
  compacted: number;
  retired: number;
  open: number;
}

/**
 * What the nightly does with the stream's sessions before it plans: a closed one (no listener
 * holds it) is closed for good (plan.json counts the committed batches; a batch its listener died
 * in is dropped: its messages were tagged again from the queue) and compacted into the dataset,
 * one file where it had a Parquet file per batch; one older than STREAM_RETENTION_DAYS is retired
 * (its control files removed; its rows stay in the dataset and, where still live, in the current
 * table).
 */
export async function settleStreams(root: string, now = Date.now()): Promise<StreamSettlement> {
  const out: StreamSettlement = { compacted: 0, retired: 0, open: 0 };
  for (const session of await streamSessions(root)) {
    // Taken, not just looked at: a listener that stalled past its lease finds it gone and starts a
    // new session rather than adding batches to one being compacted.
    const got = await acquireLock(streamLayout.lease(session), leaseTtlMs());
    if ('holder' in got) {
      out.open += 1;
      continue;
    }
    try {
      out[await settleSession(session, now)] += 1;
    } finally {
      await got.lease.release();
    }
  }
  return out;
}

/** One closed session: retired when old, else closed for good and compacted. */
async function settleSession(session: string, now: number): Promise<'compacted' | 'retired' | 'open'> {
  const plan = await loadPlan(session).catch(() => undefined);
  if (plan?.stream === undefined) return 'open';
  if (now - Date.parse(plan.createdAt) > STREAM_RETENTION_DAYS * 86_400_000) {
    const files: string[] = [];
    // The lease file last: it is released (deleted) by the caller.
    for await (const o of listObjects(`${session}/`)) if (o.uri !== streamLayout.lease(session)) files.push(o.uri);
    await deleteObjects(files);
    return 'retired';
  }
  await closeSession(session, plan);
  const c = await compactRun(session);
  if (c.status !== 'compacted' && c.status !== 'already') throw new UserError(`the stream session ${session} could not be compacted (${c.status}): run the nightly again`);
  return 'compacted';
}

/** A dead listener's session: its committed batches are the session; an uncommitted last one is dropped. */
async function closeSession(session: string, plan: Plan): Promise<void> {
  const done = await committedShards(session);
  let shards = 0;
  while (done.has(shards)) shards++;
  if (shards === plan.shards) return;
  const dropped: string[] = [];
  for (let i = shards; i < plan.shards; i++) dropped.push(runLayout.shard(session, i));
  await writeBytes(runLayout.plan(session), JSON.stringify({ ...plan, shards }, null, 2));
  await deleteObjects(dropped);
}
