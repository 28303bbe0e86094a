import { DEFAULTS } from '../defaults.js';


/**
 * A request to stop a run, from a signal: the first asks for a graceful stop (finish or abandon the
 * shards in hand within the grace time), a second for an immediate one (grace 0).
 */
export class RunStop {
  /** The signal that asked first; undefined while nobody has. */
  reason?: string;
  private readonly listeners = new Set<(seconds: number) => void>();

  constructor(readonly graceSeconds: number = DEFAULTS.stopSeconds) {}

  request(reason: string): void {
    const seconds = this.reason === undefined ? this.graceSeconds : 0;
    this.reason ??= reason;
    for (const l of this.listeners) l(seconds);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Called with the grace seconds at each request; returns the unsubscribe. */
  onRequest(listener: (seconds: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** A RunStop that SIGTERM (docker stop, AWS Batch, a spot reclaim) and SIGINT (Ctrl-C) trigger. */
export function stopOnSignals(graceSeconds: number = DEFAULTS.stopSeconds): RunStop {
  const stop = new RunStop(graceSeconds);
  for (const sig of ['SIGTERM', 'SIGINT'] as const)
    process.on(sig, () => {
      // A second signal with no workers left to tell (compaction, the summary): leave now; what is unfinished is redone.
      if (stop.reason !== undefined && stop.listenerCount === 0) process.exit(3);
      stop.request(sig);
    });
  return stop;
}

/**
 * For a phase with no graceful stop (planning, the nightly's join, compaction): a signal ends the
 * process within a moment rather than after minutes of work nobody will use. `cleanup` (give back
 * a lock) gets two seconds; scratch folders go with the process (scratch.ts). Exit 3: nothing was
 * published, run the same command again. Returns the unsubscribe, for when the phase is over.
 */
export function exitOnSignal(what: string, stop?: RunStop, cleanup?: () => Promise<unknown>): () => void {
  const leave = (reason: string) => {
    console.error(`imgtag: ${reason} while ${what}: stopped, nothing of it was published; exit 3, run the same command again`);
    const done = () => process.exit(3);
    void Promise.race([cleanup?.().catch(() => undefined), new Promise((r) => setTimeout(r, 2000).unref())]).then(done, done);
  };
  if (stop) return stop.onRequest(() => leave(stop.reason ?? 'a signal'));
  const handlers = (['SIGTERM', 'SIGINT'] as const).map((sig) => [sig, () => leave(sig)] as const);
  for (const [sig, h] of handlers) process.once(sig, h);
  return () => handlers.forEach(([sig, h]) => process.removeListener(sig, h));
}
