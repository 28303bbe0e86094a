import { errorMessage, isRunFatal } from '../errors.js';
import { releaseHeldLocks } from '../lease/lease.js';
import { createTagger, type Tagger } from '../pipeline/tagger.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';
import type { Progress } from '../pipeline/stage-limits.js';
import { DEFAULTS } from '../defaults.js';
import { useSettings } from '../settings.js';
import { sendNoticesTo } from '../storage/notices.js';

/** Entry point of a forked worker process: init, then one shard per request, until told to exit. */
/** Resolves once the message is handed to the parent, so a process about to exit loses none. */
const reply = (msg: WorkerReply) => new Promise<void>((resolve) => process.send!(msg, undefined, {}, () => resolve()));
// Notices go to the parent's log, not to this process's stderr (plain text in a JSON log).
sendNoticesTo((message) => void reply({ type: 'notice', message }));
let tagger: Tagger | undefined;
/** Shards this process is tagging or writing right now. */
const inHand = new Set<number>();
let stopping = false;
let stopSeconds: number = DEFAULTS.stopSeconds;

/** Progress is summed here and sent at most every 250 ms: per image, IPC would cost more than it tells. */
let pending: Progress = { images: 0, errors: 0, bytes: 0 };
let flushTimer: NodeJS.Timeout | undefined;
function flushProgress(): void {
  clearTimeout(flushTimer);
  flushTimer = undefined;
  if (pending.images > 0) void reply({ type: 'progress', progress: pending });
  pending = { images: 0, errors: 0, bytes: 0 };
}
function addProgress(p: Progress): void {
  pending = { images: pending.images + p.images, errors: pending.errors + p.errors, bytes: pending.bytes + p.bytes };
  flushTimer ??= setTimeout(flushProgress, 250);
}

/** Leave now: give back the shard leases first (bounded: a store that does not answer cannot hold us). */
async function leave(code: number): Promise<never> {
  await Promise.race([releaseHeldLocks(), new Promise((r) => setTimeout(r, 3000).unref())]);
  process.exit(code);
}

/**
 * A graceful stop (spot reclaim, docker stop, Ctrl-C): take no new shard; the shards in hand may
 * finish and commit within `seconds`, else they are abandoned: their leases go back at once and,
 * with no commit marker, the next attempt redoes them. Nothing half-written is ever visible: a
 * shard's Parquet counts only once its marker, written last, exists.
 */
function stop(seconds: number): void {
  if (stopping) return;
  stopping = true;
  // The run may not be stopping (a signal to this process alone): it gives our shards to others.
  if (process.connected) void reply({ type: 'stopping' });
  if (inHand.size === 0) void leave(0);
  else setTimeout(() => void leave(0), Math.max(0, seconds) * 1000);
}

// The run that forked this worker is gone (killed, crashed): stop at once. Its uncommitted shard is
// redone by the next run; a worker tagging on for nobody would only hold its lease.
process.on('disconnect', () => void leave(0));
// Ctrl-C reaches every process of the terminal's group; docker stop and Batch reach the run, which
// tells its workers: either way the same graceful stop.
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => stop(stopSeconds));

process.on('message', async (msg: WorkerRequest) => {
  if (msg.type === 'init') {
    stopSeconds = msg.init.stopSeconds;
    useSettings(msg.init.settings);
    try {
      tagger = await createTagger(msg.init);
      await reply({ type: 'ready' });
    } catch (e) {
      await reply({ type: 'failed', message: errorMessage(e) });
    }
  } else if (msg.type === 'shard') {
    const shard = msg.shard;
    if (stopping) return reply({ type: 'failed', shard, message: 'not started: the run is stopping', interrupted: true });
    inHand.add(shard);
    try {
      const outcome = await tagger!.tag(shard, { computed: () => void reply({ type: 'computed', shard }), progress: addProgress });
      flushProgress();
      await reply({ type: 'done', shard, outcome });
    } catch (e) {
      await reply({ type: 'failed', shard, message: errorMessage(e), fatal: isRunFatal(e) });
    } finally {
      inHand.delete(shard);
    }
    // Stopping, and the last shard in hand finished in time: nothing is left to wait for.
    if (stopping && inHand.size === 0) void leave(0);
  } else if (msg.type === 'stop') {
    stop(msg.seconds);
  } else {
    await tagger?.close();
    // Every result is sent: go now (by the disconnect handler above), rather than when the last
    // abandoned request (a hedged read's loser, still stalled at the server) lets go of its socket.
    process.disconnect();
  }
});
