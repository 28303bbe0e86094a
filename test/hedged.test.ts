import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { hedged } from '../src/storage/hedged.js';

/** A read that answers `value` after `ms`, or rejects when its signal aborts first; it logs what happened to it. */
function slowRead(log: string[], name: string, ms: number, value = name) {
  return (signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      log.push(`${name} sent`);
      const t = setTimeout(() => {
        log.push(`${name} answered`);
        resolve(value);
      }, ms);
      signal.addEventListener('abort', () => {
        clearTimeout(t);
        log.push(`${name} aborted`);
        reject(signal.reason);
      });
    });
}

test('a read that answers in time is the only one sent, and nothing is aborted', async () => {
  const log: string[] = [];
  const got = await hedged(slowRead(log, 'a', 5), 200, 3);
  assert.equal(got, 'a');
  assert.deepEqual(log, ['a sent', 'a answered']);
});

test('a slow read gets hedges until one answers; the winner is kept and the rest aborted', async () => {
  const log: string[] = [];
  const reads = [slowRead(log, 'first', 5000), slowRead(log, 'second', 5000), slowRead(log, 'third', 10)];
  let i = 0;
  const got = await hedged((signal) => reads[i++]!(signal), 50, 3);
  // Two slow reads in a row cost two hedge delays, not the 5 s of either.
  assert.equal(got, 'third');
  assert.deepEqual(log.slice(0, 4), ['first sent', 'second sent', 'third sent', 'third answered']);
  assert.deepEqual(log.slice(4).sort(), ['first aborted', 'second aborted']);
});

test('no more than maxReads are sent: the last ones in flight are waited for', async () => {
  const log: string[] = [];
  let i = 0;
  const got = await hedged((signal) => slowRead(log, `r${i}`, i++ === 0 ? 300 : 1000)(signal), 20, 2);
  assert.equal(got, 'r0');
  assert.deepEqual(log, ['r0 sent', 'r1 sent', 'r0 answered', 'r1 aborted']);
});

test('a read that fails before the hedge is due fails the whole; when every read fails, the first error is reported', async () => {
  await assert.rejects(
    hedged(async () => {
      throw new Error('refused');
    }, 100),
    /refused/,
  );
  let i = 0;
  await assert.rejects(
    hedged(async () => {
      const n = i++;
      await delay(n === 0 ? 80 : 10);
      throw new Error(`failure ${n}`);
    }, 30, 3),
    /failure 0/,
  );
});
