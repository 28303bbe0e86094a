import { DEFAULTS } from '../defaults.js';

export const DEFAULT_STOP_SECONDS = DEFAULTS.stopSeconds;

/**
 * A request to stop a run, from a signal: the first asks for a graceful stop (finish or abandon the
 * shards in hand within the grace time), a second for an immediate one (grace 0).
 */
export class RunStop {
  /** The signal that asked first; undefined while nobody has. */
  reason?: string;
  private readonly listeners = new Set<(seconds: number) => void>();

  constructor(readonly graceSeconds: number = DEFAULT_STOP_SECONDS) {}

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
export function stopOnSignals(graceSeconds: number = DEFAULT_STOP_SECONDS): RunStop {
  const stop = new RunStop(graceSeconds);
  for (const sig of ['SIGTERM', 'SIGINT'] as const)
    process.on(sig, () => {
      // A second signal with no workers left to tell (compaction, the summary): leave now; what is unfinished is redone.
      if (stop.reason !== undefined && stop.listenerCount === 0) process.exit(3);
      stop.request(sig);
    });
  return stop;
}
