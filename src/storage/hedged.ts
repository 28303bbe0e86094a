import { settings } from '../settings.js';

type Outcome<T> = { value: T } | { error: unknown };

const outcome = <T>(p: Promise<T>): Promise<Outcome<T>> =>
  p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

/**
 * The outcome if it comes within ms, else undefined. A plain timer, not an aborted timers/promises
 * delay: most reads answer in time, and each abort builds an AbortError with its stack.
 */
function within<T>(p: Promise<Outcome<T>>, ms: number): Promise<Outcome<T> | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms, undefined);
    void p.then((o) => {
      clearTimeout(timer);
      resolve(o);
    });
  });
}

/**
 * A read with no answer after `afterMs` gets another, identical one, and so on up to `maxReads`
 * reads; the first to succeed wins and the others are abandoned. S3 has a tail of slow answers: a
 * hedge turns a 5 s straggler into an extra request. More than one hedge because a hedge is slow as
 * often as any read: with 5% of reads slow and one hedge, a run of 500 images still met a doubly
 * slow read three times in four, and a shard waited the whole 5 s on it.
 */
export async function hedged<T>(read: (signal: AbortSignal) => Promise<T>, afterMs: number, maxReads = hedgeReads()): Promise<T> {
  // Only reads still in flight at the end are aborted (an abort costs a DOMException and its stack).
  const pending = new Set<AbortController>();
  const reads: Promise<T>[] = [];
  const start = () => {
    const c = new AbortController();
    pending.add(c);
    const r = read(c.signal);
    const done = () => pending.delete(c);
    r.then(done, done);
    reads.push(r);
  };
  // Every read's rejection is handled here; the first read's error is the one to report.
  const anyOf = () => outcome(Promise.any(reads)).then((o) => ('error' in o ? { error: (o.error as AggregateError).errors[0] } : o));
  try {
    start();
    for (;;) {
      const settled = reads.length < maxReads ? await within(anyOf(), afterMs) : await anyOf();
      if (settled) {
        if ('error' in settled) throw settled.error;
        return settled.value;
      }
      start();
    }
  } finally {
    for (const c of pending) c.abort();
  }
}

/** When to hedge an image GET (IMGTAG_HEDGE_MS; 0 turns hedging off). */
export const hedgeAfterMs = () => settings().hedgeMs;

/** How many reads of one image may be in flight at most, the first included (IMGTAG_HEDGE_READS). */
export const hedgeReads = () => settings().hedgeReads;
