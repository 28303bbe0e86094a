import assert from 'node:assert/strict';
import { test } from 'node:test';
import { barLine, type ProgressNumbers } from '../../cli/common/progress.js';
import { RateWindow } from '../../cli/common/rate-window.js';

test('RateWindow: the rate of the last 20 s, not since the start; nothing before the second batch; a stall shows', () => {
  let now = 0;
  const w = new RateWindow(20, () => now);
  // Start-up: the first images took 30 s to come (worker start, model load); they set the zero point.
  now = 30;
  w.add(10, 1e6);
  assert.equal(w.rates(), undefined);
  // Then 10 images/s for 40 s.
  for (let t = 31; t <= 70; t++) {
    now = t;
    w.add(10, 1e6);
  }
  const r = w.rates()!;
  assert.ok(Math.abs(r.imagesPerSecond - 10) < 0.6, `${r.imagesPerSecond} images/s`);
  assert.ok(Math.abs(r.mbPerSecond - 1) < 0.06);
  // Since the start it would say 400 / 70 = 5.7 images/s. A 10 s stall halves the windowed rate.
  now = 80;
  assert.ok(w.rates()!.imagesPerSecond < 8);
});

test('barLine: fits the columns it is given, dropping the least needed parts first, never wrapping, even with ^C echoed after it', () => {
  const n: ProgressNumbers = { images: 4000, todoImages: 123456, errors: 12, shards: 3, todoShards: 1235, unfinishedShards: 1, imagesPerSecond: 64.25, mbPerSecond: 7.5, etaSeconds: 1860 };
  const wide = barLine(n, 200);
  assert.match(wide, /^\[#{1}\.{23}\] 4000\/123456 images {2}64\.3 images\/s {2}ETA 0:31:00 {2}3\/1235 shards \(1 unfinished\) {2}12 error rows {2}7\.5 MB\/s$/);
  for (const columns of [120, 80, 60, 40]) {
    const line = barLine(n, columns);
    // Room is left for the terminal's two-character ^C echo, so a Ctrl-C never wraps the bar.
    assert.ok(line.length + 2 < columns, `${columns} columns: ${line.length} characters`);
    assert.match(line, /4000\/123456 images/);
  }
  assert.match(barLine(n, 80), /images\/s {2}ETA 0:31:00/, 'rate and ETA stay at 80 columns');
  assert.ok(barLine(n, 20).length < 20);
  assert.match(barLine({ ...n, etaSeconds: undefined }, 80), /ETA unknown$/);
});
