import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { PRICES } from '../src/report/prices.js';
import { events, imgtag } from './helpers/cli.js';
import { IMAGENET_DIR, imagenetFiles } from './helpers/env.js';

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

/** A planned local run of 40 photos and one broken file, in shards of 10. */
function plannedRun(): { dir: string; run: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-report-'));
  fs.writeFileSync(path.join(dir, 'broken.jpg'), 'not a jpeg');
  const files = imagenetFiles().slice(460, 500).map((f) => path.join(IMAGENET_DIR, f));
  fs.writeFileSync(path.join(dir, 'keys.txt'), [...files, path.join(dir, 'broken.jpg')].join('\n'));
  const run = path.join(dir, 'run');
  return { dir, run };
}

/** Headless Chromium (Debian's), as a person's browser would render the report. */
function chromium(args: string[]): string {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-chromium-'));
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`];
  return execFileSync(process.env.CHROMIUM ?? 'chromium', [...flags, ...args], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] });
}

test('tune: at least 4 iterations, a winner, projections whose arithmetic holds, three reports that render with charts', async () => {
  const { dir, run } = plannedRun();
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', run, '--shard-size', '10'])).code, 0);
  const res = await imgtag(['tune', '--run', run, '--sample', '16', '--price', '2.5', '--instances', '3']);
  assert.equal(res.code, 0, res.stderr);
  const t = JSON.parse(fs.readFileSync(path.join(run, 'reports/tuning.json'), 'utf8'));
  assert.ok(t.iterations.length >= 4);
  assert.equal(t.iterations[0].change, 'baseline');
  assert.ok(t.iterations.slice(1).every((i: { change: string }) => / -> /.test(i.change)), 'one change per iteration');
  const best = Math.max(...t.iterations.filter((i: { kept: boolean }) => i.kept).map((i: { imagesPerSecond: number }) => i.imagesPerSecond));
  assert.equal(t.winner.imagesPerSecond, best);
  assert.equal(t.pricing.usdPerHour, 2.5);
  for (const it of t.iterations) {
    const p = it.projection;
    assert.equal(p.images, 41);
    const hours = 41 / (it.imagesPerSecond * 3) / 3600;
    assert.ok(close(p.hours, hours), `hours ${p.hours} != ${hours}`);
    const requests = ((41 + 5 * 4) / 1000) * PRICES.s3.getPer1000 + ((5 * 3) / 1000) * PRICES.s3.putPer1000;
    assert.ok(close(p.requestUsd, requests));
    assert.ok(close(p.totalUsd, hours * 2.5 * 3 + requests), `dollars ${p.totalUsd}`);
  }
  const md = fs.readFileSync(path.join(run, 'reports/tuning.md'), 'utf8');
  assert.match(md, /## Winner/);
  assert.equal(md.split('\n').filter((l) => /^\| \d+ \|/.test(l)).length, t.iterations.length);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(run, 'reports/tuning-config.json'), 'utf8')), t.winner.config);

  // The HTML in a real browser: two charts, each with drawn bars, and a page that is not blank.
  const html = `file://${path.join(run, 'reports/tuning.html')}`;
  const dom = chromium(['--dump-dom', html]);
  const charts = dom.split('<figure class="chart">').slice(1);
  assert.equal(charts.length, 2);
  for (const chart of charts) assert.ok((chart.match(/<path[^>]* d="M[^"]+"/g) ?? []).length >= t.iterations.length, 'chart without bars');
  const shot = path.join(dir, 'tuning.png');
  chromium(['--window-size=1000,1400', `--screenshot=${shot}`, html]);
  const stats = await sharp(shot).stats();
  assert.ok(stats.channels.some((c) => c.stdev > 20), 'the screenshot is blank');

  // run --config takes the winner's settings; flags still win.
  const again = path.join(dir, 'again');
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', again, '--shard-size', '10'])).code, 0);
  const configured = await imgtag(['run', '--run', again, '--config', path.join(run, 'reports/tuning-config.json'), '--batch-size', '3']);
  const start = events(configured.stderr).find((e) => e.event === 'start')!;
  assert.equal(start.batchSize, 3);
  assert.equal(start.concurrency, t.winner.config.concurrency);
});

test('report: matches the commit markers exactly, finished or in progress (with an ETA)', async () => {
  const { dir, run } = plannedRun();
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', run, '--shard-size', '10'])).code, 0);
  assert.equal((await imgtag(['run', '--run', run, '--shard', '4'])).code, 0, 'error rows are data: exit 0');
  const partial = await imgtag(['report', '--run', run, '--instance', 'g5.xlarge']);
  assert.equal(partial.code, 0, partial.stderr);
  const p = JSON.parse(fs.readFileSync(path.join(run, 'reports/report.json'), 'utf8'));
  assert.equal(p.complete, false);
  assert.deepEqual(p.shards, { planned: 5, committed: 1 });
  assert.ok(p.etaSeconds > 0);
  assert.equal(p.pricing.usdPerHour, PRICES.instances['g5.xlarge']!.usdPerHour);

  assert.equal((await imgtag(['run', '--run', run, '--workers', '2'])).code, 0);
  assert.equal((await imgtag(['report', '--run', run])).code, 0);
  const r = JSON.parse(fs.readFileSync(path.join(run, 'reports/report.json'), 'utf8'));
  const markers = fs.readdirSync(path.join(run, 'commits')).map((f) => JSON.parse(fs.readFileSync(path.join(run, 'commits', f), 'utf8')));
  assert.equal(r.complete, true);
  assert.equal(r.images.done, markers.reduce((n, m) => n + m.rows, 0));
  assert.equal(r.images.done, 41);
  assert.equal(r.images.failed, 1);
  assert.deepEqual(r.images.failuresByStage, { decode: 1 });
  assert.equal(r.images.ok, 40);
  assert.equal(r.workers.reduce((n: number, w: { images: number }) => n + w.images, 0), 41);
  assert.equal(r.etaSeconds, undefined);
  assert.ok(['fetch', 'decode', 'batch', 'infer', 'write'].includes(r.bottleneck));
  const md = fs.readFileSync(path.join(run, 'reports/report.md'), 'utf8');
  assert.match(md, /\| images done \| 41 \|/);
  assert.match(md, /\| error rows \| 1 \|/);
  assert.match(fs.readFileSync(path.join(run, 'reports/report.html'), 'utf8'), /<svg/);
});
