import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { clearAlarm, setAlarm, TICK_MS, type Cancel } from '../src/storage/cancel.js';
import { ReadDeadlineError, withReadDeadline } from '../src/storage/deadline.js';
import { hedged } from '../src/storage/hedged.js';

/** A read that answers `value` after `ms`, or rejects when its signal aborts first; it logs what happened to it. */
function slowRead(log: string[], name: string, ms: number, value = name) {
  return (cancel: Cancel) =>
    new Promise<string>((resolve, reject) => {
      log.push(`${name} sent`);
      const t = setTimeout(() => {
        log.push(`${name} answered`);
        resolve(value);
      }, ms);
      cancel.on(() => {
        clearTimeout(t);
        log.push(`${name} aborted`);
        reject(cancel.reason);
      });
    });
}

test('a read that answers in time is the only one sent, and nothing is aborted', async () => {
  const log: string[] = [];
  const got = await hedged(slowRead(log, 'a', 5), 200, 3);
  assert.equal(got, 'a');
  // Nor later: the hedge's alarm went with the answer.
  await delay(200 + 2 * TICK_MS);
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

test('a read past its deadline: the one timer of the process aborts it and its hedges, a second try too, then a transient ReadDeadlineError', async () => {
  const log: string[] = [];
  let i = 0;
  const started = Date.now();
  // Reads that never answer (a trickle), hedged after 50 ms, three at most, under a 300 ms deadline.
  const failed = await withReadDeadline(300, (deadline) => hedged((cancel) => slowRead(log, `r${i++}`, 60_000)(cancel), 50, 3, deadline)).catch((e: unknown) => e);
  assert.ok(failed instanceof ReadDeadlineError, String(failed));
  assert.equal(failed.kind, 'transient');
  assert.match(failed.message, /not read within its deadline of 0\.3 s .*2 tries/);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 600 && elapsed < 600 + 4 * TICK_MS + 400, `${elapsed} ms`);
  // Each try: three reads sent, all three aborted at its deadline; nothing after.
  const tries = [log.slice(0, 6), log.slice(6)];
  for (const [t, entries] of tries.entries()) {
    const n = (k: number) => `r${t * 3 + k}`;
    assert.deepEqual(entries.slice(0, 3), [`${n(0)} sent`, `${n(1)} sent`, `${n(2)} sent`]);
    assert.deepEqual(entries.slice(3).sort(), [`${n(0)} aborted`, `${n(1)} aborted`, `${n(2)} aborted`]);
  }
});

test('a read that answers within its deadline is not aborted, and its hedges are not sent', async () => {
  const log: string[] = [];
  assert.equal(await withReadDeadline(1000, (deadline) => hedged(slowRead(log, 'a', 20), 500, 3, deadline)), 'a');
  await delay(1000 + 2 * TICK_MS);
  assert.deepEqual(log, ['a sent', 'a answered']);
});

test('alarms on the one timer ring once each, in time, unless cleared; one cleared or set while others ring is honoured', async () => {
  const rung: string[] = [];
  const started = performance.now();
  const at: Record<string, number> = {};
  const alarm = (name: string, ms: number) => setAlarm(ms, () => ((at[name] = performance.now() - started), rung.push(name)));
  const a = alarm('a', 30);
  const b = alarm('b', 60);
  alarm('c', 60);
  const d = alarm('d', 200);
  clearAlarm(b);
  // Ringing clears another and sets a new one.
  setAlarm(100, () => {
    rung.push('e');
    clearAlarm(d);
    alarm('f', 10);
  });
  clearAlarm(a);
  alarm('a2', 30);
  await delay(300 + 2 * TICK_MS);
  assert.deepEqual(rung.sort(), ['a2', 'c', 'e', 'f']);
  for (const [name, ms] of [['a2', 30], ['c', 60], ['f', 110]] as const) assert.ok(at[name]! >= ms && at[name]! < ms + TICK_MS + 100, `${name} at ${at[name]} ms`);
});
