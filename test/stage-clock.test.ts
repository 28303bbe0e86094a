import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { StageClock } from '../src/pipeline/stage-clock.js';

test('busy time counts overlapping tasks of a stage once; depth is the average number in flight', async () => {
  const clock = new StageClock();
  const start = performance.now();
  await Promise.all([clock.time('decode', () => sleep(100)), clock.time('decode', () => sleep(100)), clock.time('fetch', () => sleep(50))]);
  const wall = (performance.now() - start) / 1000;
  const depth = clock.depth(wall);
  assert.ok(clock.busy.decode <= wall + 0.01, `decode busy ${clock.busy.decode} > wall ${wall}`);
  assert.ok(depth.decode > 1.5 * (clock.busy.decode / wall), 'two decodes were in flight together');
  assert.ok(clock.busy.fetch < clock.busy.decode);
  assert.equal(clock.busy.infer, 0);
});
