import pLimit from 'p-limit';
import { NotFoundError } from '../errors.js';
import { markerShard, readMarker, type CommitMarker } from '../rundir/commits.js';
import { runLayout } from '../rundir/layout.js';
import { newCounter, type S3Counter } from '../storage/s3-config.js';
import { listObjects } from '../storage/storage.js';
import { basenameUri } from '../storage/uri.js';

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
