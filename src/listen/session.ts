import { randomUUID } from 'node:crypto';
import { acquireLock, leaseTtlMs, type Lease } from '../lease/lease.js';
import type { ManifestRow } from '../manifest/index.js';
import { runLayout, runName } from '../rundir/layout.js';
import type { Plan } from '../rundir/plan-file.js';
import { writeBytes } from '../storage/storage.js';
import type { ObjectEvent } from './events.js';
import { streamLayout, type DeletionsFile } from '../rundir/stream-sessions.js';

export interface StreamSession {
  run: string;
  plan: Plan;
  lease: Lease;
  openedAt: number;
  /** Stage the next micro-batch's objects as a shard file (with each upload's event time, for the now view); returns its number. */
  stage(rows: (ManifestRow & { time?: string })[]): Promise<number>;
  /** Record removals (after their batch's rows are committed: the nightly reads them). */
  recordDeletions(events: ObjectEvent[]): Promise<void>;
  /** plan.json with the shard count and images so far (one PUT per batch). */
  savePlan(): Promise<void>;
  close(): Promise<void>;
}

export async function openSession(root: string, dataset: string, queue: string, now = new Date()): Promise<StreamSession> {
  const name = `${runName(now)}-${randomUUID().slice(0, 6)}`;
  const run = streamLayout.session(root, name);
  const plan: Plan = {
    version: 1,
    createdAt: now.toISOString(),
    source: { kind: 'keylist', uri: queue },
    options: {},
    counts: { rows: 0, images: 0, skipped: 0, unchanged: 0 },
    shards: 0,
    id: `stream-${name}`,
    dataset,
    stream: { queue },
  };
  const got = await acquireLock(streamLayout.lease(run), leaseTtlMs());
  if ('holder' in got) throw new Error(`${streamLayout.lease(run)} is held by ${got.holder.owner}: a session name was reused`);
  let deletions = 0;
  const session: StreamSession = {
    run,
    plan,
    lease: got.lease,
    openedAt: now.getTime(),
    async stage(rows) {
      const shard = plan.shards;
      await writeBytes(runLayout.shard(run, shard), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      plan.shards += 1;
      plan.counts.rows += rows.length;
      plan.counts.images += rows.length;
      return shard;
    },
    async recordDeletions(events) {
      const file: DeletionsFile = { removed: events.map((e) => ({ uri: e.uri, ...(e.sequencer ? { sequencer: e.sequencer } : {}), time: e.time })) };
      await writeBytes(streamLayout.deletions(run, deletions++), JSON.stringify(file));
    },
    savePlan: () => writeBytes(runLayout.plan(run), JSON.stringify(plan, null, 2)),
    close: () => got.lease.release(),
  };
  await session.savePlan();
  return session;
}
