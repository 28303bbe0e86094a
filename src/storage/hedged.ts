import { setTimeout as delay } from 'node:timers/promises';

/**
 * A read that has not finished after `afterMs` gets a second, identical one; the first to succeed
 * wins and the other is abandoned. S3 has a tail of slow answers: a hedge turns a 5 s straggler
 * into an extra request, at the cost of one more GET for the few reads that are that slow.
 */
export async function hedged<T>(read: (signal: AbortSignal) => Promise<T>, afterMs: number): Promise<T> {
  const first = new AbortController();
  const second = new AbortController();
  const a = read(first.signal);
  const settled = a.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  const timer = new AbortController();
  const early = await Promise.race([settled, delay(afterMs, undefined, { signal: timer.signal }).catch(() => undefined)]);
  timer.abort();
  if (early !== undefined) {
    if ('error' in early) throw early.error;
    return early.value;
  }
  const b = read(second.signal);
  try {
    return await Promise.any([a, b]);
  } catch (e) {
    // Both failed: the first read's error is the one to report.
    throw (e as AggregateError).errors[0];
  } finally {
    first.abort();
    second.abort();
  }
}

/** When to hedge an image GET (IMGTAG_HEDGE_MS; 0 turns hedging off). */
export function hedgeAfterMs(): number {
  const v = Number(process.env.IMGTAG_HEDGE_MS ?? 500);
  return Number.isFinite(v) && v >= 0 ? v : 500;
}
