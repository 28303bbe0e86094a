import type { StageSeconds } from '../output/commit.js';

type Stage = keyof StageSeconds;

/**
 * Per stage: busy seconds (wall time with at least one task of the stage under way, so
 * overlapping tasks are not counted twice) and the time integral of tasks in flight, which
 * divided by the wall time is the stage's average queue depth.
 */
export class StageClock {
  readonly busy: StageSeconds = { fetch: 0, decode: 0, batch: 0, infer: 0, write: 0 };
  /** Most tasks of each stage in flight at once: what the stage's bound let through. */
  readonly peak: StageSeconds = { fetch: 0, decode: 0, batch: 0, infer: 0, write: 0 };
  private readonly taskSeconds: StageSeconds = { fetch: 0, decode: 0, batch: 0, infer: 0, write: 0 };
  private readonly active: StageSeconds = { fetch: 0, decode: 0, batch: 0, infer: 0, write: 0 };
  private readonly since: StageSeconds = { fetch: 0, decode: 0, batch: 0, infer: 0, write: 0 };

  async time<T>(stage: Stage, fn: () => Promise<T> | T): Promise<T> {
    const start = performance.now();
    if (this.active[stage]++ === 0) this.since[stage] = start;
    this.peak[stage] = Math.max(this.peak[stage], this.active[stage]);
    try {
      return await fn();
    } finally {
      const end = performance.now();
      this.taskSeconds[stage] += (end - start) / 1000;
      if (--this.active[stage] === 0) this.busy[stage] += (end - this.since[stage]) / 1000;
    }
  }

  /** Average tasks in flight per stage over `wallSeconds`. */
  depth(wallSeconds: number): StageSeconds {
    const out = { ...this.taskSeconds };
    for (const k of Object.keys(out) as Stage[]) out[k] = wallSeconds > 0 ? out[k] / wallSeconds : 0;
    return out;
  }
}
