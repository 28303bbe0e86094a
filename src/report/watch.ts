import pLimit from 'p-limit';
import { NotFoundError } from '../errors.js';
import { markerShard, readMarker, type CommitMarker } from '../rundir/commits.js';
import { runLayout } from '../rundir/layout.js';
import { newCounter, type S3Counter } from '../storage/s3-config.js';
import { listObjects, readObject } from '../storage/storage.js';
import { basenameUri, dirnameUri } from '../storage/uri.js';
import { leaseTtlMs, type Holder } from '../lease/lease.js';

/** Commits can be logged out of clock order by this much (hosts' clocks, slow PUTs): each refresh re-lists that margin. */
const SKEW_MS = 60_000;
/** Every this many refreshes, commits/ is listed whole: a commit whose log entry was never written still shows. */
const FULL_EVERY = 30;

/**
 * A run's commit markers, kept up to date for `report --watch`: the first refresh lists commits/ and
 * reads every marker; later ones list only the commit log after the newest commit seen (minus the
 * skew margin) and read only the markers not seen yet. Watching a finished 300 k-shard run costs
 * one LIST a refresh, not 300 k GETs.
 */
export class MarkerWatch {
  private readonly markers = new Map<number, CommitMarker>();
  private newestMs = 0;
  private refreshes = 0;

  constructor(private readonly run: string) {}

  /** Refresh; answers the markers and the S3 requests this refresh made. */
  async refresh(): Promise<{ markers: CommitMarker[]; requests: S3Counter }> {
    const counter = newCounter();
    const fresh = new Set<string>();
    if (this.refreshes++ % FULL_EVERY === 0) {
      for await (const o of listObjects(runLayout.commits(this.run), 1000, { counter })) {
        const shard = markerShard(o.uri);
        if (shard !== undefined && !this.markers.has(shard)) fresh.add(o.uri);
      }
    } else {
      const from = Math.max(0, this.newestMs - SKEW_MS);
      const startAfter = runLayout.commitLog(this.run, from, 0);
      for await (const o of listObjects(runLayout.commitLogs(this.run), 1000, { startAfter, counter })) {
        const shard = /^\d{13}-(\d+)$/.exec(basenameUri(o.uri))?.[1];
        if (shard !== undefined && !this.markers.has(Number(shard))) fresh.add(runLayout.commit(this.run, Number(shard)));
      }
    }
    const limit = pLimit(64);
    await Promise.all(
      [...fresh].map((uri) =>
        limit(async () => {
          let m: CommitMarker;
          try {
            m = await readMarker(uri, counter);
          } catch (e) {
            // Deleted since it was listed (a damaged shard being redone): the next refresh sees its new marker.
            if (e instanceof NotFoundError) return;
            throw e;
          }
          this.markers.set(m.shard, m);
          this.newestMs = Math.max(this.newestMs, Date.parse(m.finishedAt));
        }),
      ),
    );
    return { markers: [...this.markers.values()].sort((a, b) => a.shard - b.shard), requests: counter };
  }
}

/**
 * Whether a run has stopped moving: no shard committed for a whole lease time and no worker holding
 * a live shard lease (a worker renews its lease every third of that, so a live one never looks
 * expired; one killed with -9 leaves its lease to expire). Until then `report --watch` waits; after,
 * it says so and ends instead of printing the same ETA for ever. A run that has shown nothing yet (no
 * commit, no lease: a fleet's jobs still queued) is waited for: it has not stopped, it has not started.
 */
export class StallWatch {
  private committed = -1;
  private movedAt = Date.now();
  private started = false;

  constructor(private readonly run: string, private readonly now = () => Date.now()) {}

  /** After a refresh: undefined while the run may be moving, else how long nothing has moved (ms). */
  async stalled(committed: number): Promise<number | undefined> {
    if (committed > 0) this.started = true;
    if (committed !== this.committed) {
      this.committed = committed;
      this.movedAt = this.now();
      return undefined;
    }
    const still = this.now() - this.movedAt;
    if (still < leaseTtlMs() || (await this.liveLeases()) > 0 || !this.started) return undefined;
    return still;
  }

  /** Shard leases not yet expired (a LIST of leases/ and a GET per lease: at most one per worker); any lease at all means the run started. */
  private async liveLeases(): Promise<number> {
    let live = 0;
    for await (const o of listObjects(`${dirnameUri(runLayout.lease(this.run, 0))}/`)) {
      if (!/^part-\d+\.json$/.test(basenameUri(o.uri))) continue;
      this.started = true;
      let holder: Partial<Holder> = {};
      try {
        holder = JSON.parse((await readObject(o.uri)).body.toString('utf8')) as Holder;
      } catch (e) {
        // Released since it was listed, or half-written by a killed worker: as lease.ts does, it holds until its age passes the lease time.
        if (e instanceof NotFoundError) continue;
        if (e instanceof SyntaxError && o.modified !== undefined) holder = { expiresAt: new Date(o.modified.getTime() + leaseTtlMs()).toISOString() };
        else if (!(e instanceof SyntaxError)) throw e;
      }
      if (holder.expiresAt !== undefined && Date.parse(holder.expiresAt) > this.now()) live++;
    }
    return live;
  }
}
