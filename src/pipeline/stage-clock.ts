import { STAGES, zeroStages, type PerStage, type Stage } from '../rundir/stages.js';

/**
 * Per stage: busy seconds (wall time with at least one task of the stage under way, so
 * overlapping tasks are not counted twice) and the time integral of tasks in flight, which
 * divided by the wall time is the stage's average queue depth.
 */
export class StageClock {
  readonly busy: PerStage = zeroStages();
  /** Most tasks of each stage in flight at once: what the stage's bound let through. */
  readonly peak: PerStage = zeroStages();
  private readonly taskSeconds: PerStage = zeroStages();
  private readonly active: PerStage = zeroStages();
  private readonly since: PerStage = zeroStages();

  /** @param now milliseconds from any origin (a test's own clock). */
  constructor(private readonly now: () => number = () => performance.now()) {}

  async time<T>(stage: Stage, fn: () => Promise<T> | T): Promise<T> {
    const start = this.now();
    if (this.active[stage]++ === 0) this.since[stage] = start;
    this.peak[stage] = Math.max(this.peak[stage], this.active[stage]);
    try {
      return await fn();
    } finally {
      const end = this.now();
      this.taskSeconds[stage] += (end - start) / 1000;
      if (--this.active[stage] === 0) this.busy[stage] += (end - this.since[stage]) / 1000;
    }
  }

  /** Average tasks in flight per stage over `wallSeconds`. */
  depth(wallSeconds: number): PerStage {
    const out = zeroStages();
    for (const k of STAGES) out[k] = wallSeconds > 0 ? this.taskSeconds[k] / wallSeconds : 0;
    return out;
  }
}
