import type { StageSeconds } from '../output/commit.js';

/** Busy seconds per stage, summed over concurrent tasks: where a shard's time went. */
export class StageClock {
  readonly seconds: StageSeconds = { fetch: 0, decode: 0, batch: 0, infer: 0, write: 0 };

  async time<T>(stage: keyof StageSeconds, fn: () => Promise<T> | T): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.seconds[stage] += (performance.now() - start) / 1000;
    }
  }
}
