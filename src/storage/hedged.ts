import { settings } from '../settings.js';
import { Cancel, clearAlarm, setAlarm, type Alarm } from './cancel.js';

/**
 * A read with no answer after `afterMs` gets another, identical one, and so on up to `maxReads`
 * reads; the first to succeed wins and the others are abandoned. S3 has a tail of slow answers: a
 * hedge turns a 5 s straggler into an extra request. More than one hedge because a hedge is slow as
 * often as any read: with 5% of reads slow and one hedge, a run of 500 images still met a doubly
 * slow read three times in four, and a shard waited the whole 5 s on it.
 *
 * When every read sent has failed, the first read's error is the answer (a read that fails before
 * the hedge is due fails the whole). Aborting `parent` aborts every read. Per read: a Cancel and an
 * alarm on the process's one timer (cancel.ts), not an AbortController, a timer and promise races.
 */
export function hedged<T>(read: (cancel: Cancel) => Promise<T>, afterMs: number, maxReads = hedgeReads(), parent?: Cancel): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // The reads in flight, by their place; the first read's error is kept for when all fail.
    const inFlight: (Cancel | undefined)[] = [];
    let failed = 0;
    let firstError: unknown;
    let done = false;
    let hedge: Alarm | undefined;
    const settle = () => {
      done = true;
      clearAlarm(hedge);
      // Only reads still in flight are aborted (an abort costs a DOMException and its stack).
      for (const c of inFlight) c?.abort();
    };
    const start = () => {
      const i = inFlight.length;
      const c = new Cancel(parent);
      inFlight.push(c);
      if (inFlight.length < maxReads) hedge = setAlarm(afterMs, () => !done && !parent?.aborted && start());
      let p: Promise<T>;
      try {
        p = read(c);
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(
        (value) => {
          inFlight[i] = undefined;
          if (done) return;
          settle();
          resolve(value);
        },
        (e: unknown) => {
          inFlight[i] = undefined;
          if (i === 0) firstError = e;
          if (done || ++failed < inFlight.length) return;
          settle();
          reject(firstError);
        },
      );
    };
    start();
  });
}

/** When to hedge an image GET (IMGTAG_HEDGE_MS; 0 turns hedging off). */
export const hedgeAfterMs = () => settings().hedgeMs;

/** How many reads of one image may be in flight at most, the first included (IMGTAG_HEDGE_READS). */
export const hedgeReads = () => settings().hedgeReads;
