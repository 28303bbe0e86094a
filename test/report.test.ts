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
import { modelColumn, readRunResults } from './helpers/results.js';

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

/** What a report must never print: numbers that are not numbers. */
function assertNoBadNumbers(text: string): void {
  assert.doesNotMatch(text, /NaN|Infinity|\bnull\b|undefined/);
}

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

test('tune: each setting run 3 times (median, spread), a change kept only beyond the spread, projections whose arithmetic holds, reports that render with charts', async () => {
  const { dir, run } = plannedRun();
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', run, '--shard-size', '10'])).code, 0);
  // A GPU type priced from this CPU machine's measurement is refused before anything runs.
  const gpu = await imgtag(['tune', '--run', run, '--sample', '16', '--instance', 'g5.xlarge']);
  assert.equal(gpu.code, 1);
  assert.match(gpu.stderr, /measured on \d+ vCPUs .*device cpu: it says nothing about g5\.xlarge .*give --rate/);
  // Batch size and workers only (--vary): the rules are the same for every knob, with fewer runs.
  const res = await imgtag(['tune', '--run', run, '--sample', '16', '--price', '2.5', '--instances', '3', '--vary', 'batch-size,workers']);
  assert.equal(res.code, 0, res.stderr);
  assertNoBadNumbers(res.stdout);
  const t = JSON.parse(fs.readFileSync(path.join(run, 'reports/tuning.json'), 'utf8'));
  assert.ok(t.iterations.length >= 4);
  assert.equal(t.iterations[0].change, 'run defaults');
  assert.ok(t.iterations.slice(1).every((i: { change: string }) => /^(batchSize|workers) \S+ -> /.test(i.change)), 'one change per iteration, of the knobs asked for');
  type It = { imagesPerSecond: number; repetitions: number[]; spread: number; kept: boolean; config: Record<string, number>; projection: { images: number; instanceHours: number; hours: number; requestUsd: number; totalUsd: number } };
  let best: It | undefined;
  for (const it of t.iterations as It[]) {
    assert.equal(it.repetitions.length, 3);
    const sorted = [...it.repetitions].sort((a, b) => a - b);
    assert.equal(it.imagesPerSecond, sorted[1], 'the median');
    assert.ok(close(it.spread, (sorted[2]! - sorted[0]!) / sorted[1]!));
    // Kept exactly when its median beats the best-so-far's by more than half the wider range of runs.
    const range = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
    if (best) assert.equal(it.kept, it.imagesPerSecond - best.imagesPerSecond > Math.max(range(it.repetitions), range(best.repetitions)) / 2);
    if (it.kept || !best) best = it;
    assert.equal(it.config.concurrency, undefined, 'local files: concurrency is not a setting tune may carry to S3 runs');
  }
  assert.deepEqual(t.winner.config, best!.config);
  assert.equal(t.storage, 'local');
  assert.equal(t.pricing.usdPerHour, 2.5);
  for (const it of t.iterations as It[]) {
    const p = it.projection;
    assert.equal(p.images, 41);
    const instanceHours = 41 / it.imagesPerSecond / 3600;
    assert.ok(close(p.instanceHours, instanceHours), `instance-hours ${p.instanceHours} != ${instanceHours}`);
    assert.ok(close(p.hours, instanceHours / 3));
    const requests = ((41 + 5 * 4) / 1000) * PRICES.s3.getPer1000 + ((5 * 3) / 1000) * PRICES.s3.putPer1000;
    assert.ok(close(p.requestUsd, requests));
    assert.ok(close(p.totalUsd, instanceHours * 2.5 + requests), `dollars ${p.totalUsd}`);
  }
  // Hours fall with the fleet size; dollars stay.
  assert.ok(t.fleet.length >= 5);
  for (const f of t.fleet) assert.ok(close(f.totalUsd, t.fleet[0].totalUsd) && close(f.hours * f.instances, t.fleet[0].hours));
  const md = fs.readFileSync(path.join(run, 'reports/tuning.md'), 'utf8');
  assert.match(md, /## Winner/);
  assertNoBadNumbers(md);
  assert.equal(md.split('\n').filter((l) => /^\| \d+ \| (run defaults|\w+ \S+ -> )/.test(l)).length, t.iterations.length);
  const config = JSON.parse(fs.readFileSync(path.join(run, 'reports/tuning-config.json'), 'utf8'));
  assert.deepEqual(config, { ...t.winner.config, storage: 'local' });

  // The HTML in a real browser: three charts, each drawn, and a page that is not blank.
  const html = `file://${path.join(run, 'reports/tuning.html')}`;
  const dom = chromium(['--dump-dom', html]);
  const charts = dom.split('<figure class="chart">').slice(1);
  assert.equal(charts.length, 3);
  for (const chart of charts) assert.ok((chart.match(/<path[^>]* d="M[^"]+"/g) ?? []).length >= 3, 'an empty chart');
  const shot = path.join(dir, 'tuning.png');
  chromium(['--window-size=1000,1400', `--screenshot=${shot}`, html]);
  const stats = await sharp(shot).stats();
  assert.ok(stats.channels.some((c) => c.stdev > 20), 'the screenshot is blank');

  // run --config takes the winner's settings; flags still win; concurrency stays the run's default.
  const again = path.join(dir, 'again');
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', again, '--shard-size', '10'])).code, 0);
  const configured = await imgtag(['run', '--run', again, '--config', path.join(run, 'reports/tuning-config.json'), '--batch-size', '3']);
  const start = events(configured.stderr).find((e) => e.event === 'start')!;
  assert.equal(start.batchSize, 3);
  assert.equal(start.workers, Math.min(t.winner.config.workers, 5));
  assert.equal(start.concurrency, 16);
});

test('report: matches the commit markers exactly, finished or in progress (with an ETA)', async () => {
  const { dir, run } = plannedRun();
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', run, '--shard-size', '10'])).code, 0);
  // Freshly planned: nothing measured, and said so (not "not recorded").
  assert.equal((await imgtag(['report', '--run', run])).code, 0);
  const fresh = JSON.parse(fs.readFileSync(path.join(run, 'reports/report.json'), 'utf8'));
  assert.equal(fresh.pricing.rateBasis, 'nothing committed yet: no rate measured');
  assert.equal((await imgtag(['run', '--run', run, '--shard', '4'])).code, 0, 'error rows are data: exit 0');
  const partial = await imgtag(['report', '--run', run, '--instance', 'c7i.2xlarge']);
  assert.equal(partial.code, 0, partial.stderr);
  const p = JSON.parse(fs.readFileSync(path.join(run, 'reports/report.json'), 'utf8'));
  assert.equal(p.complete, false);
  assert.deepEqual(p.shards, { planned: 5, committed: 1 });
  assert.ok(p.etaSeconds > 0);
  assert.equal(p.pricing.usdPerHour, PRICES.instances['c7i.2xlarge']!.usdPerHour);
  assert.equal(p.pricing.spotUsdPerHour, PRICES.instances['c7i.2xlarge']!.spotUsdPerHour);

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
  // Local photos and a local run directory: no S3 request made, none priced.
  assert.equal(r.s3.requests, 0);
  assert.equal(r.cost.requestUsd, 0);
  assert.match(r.pricing.s3.source, /local files/);
  assert.ok(['fetch', 'decode', 'batch', 'infer', 'write'].includes(r.bottleneck));
  const md = fs.readFileSync(path.join(run, 'reports/report.md'), 'utf8');
  assert.match(md, /\| images done \| 41 \|/);
  assert.match(md, /\| error rows \| 1 \|/);
  // The failure digest: the broken file's reason and its key, in every format.
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0].stage, 'decode');
  assert.equal(r.errors[0].count, 1);
  assert.deepEqual(r.errors[0].samples, [path.join(dir, 'broken.jpg')]);
  assert.match(md, new RegExp(`\\| decode \\| .+ \\| 1 \\| ${path.join(dir, 'broken.jpg').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\|`));
  // Top tags: the 40 photos' first tags, counted; the throughput series covers the run.
  // Checked against the results themselves, read back by hyparquet.
  const { rows } = await readRunResults(run);
  const firsts = new Map<string, number>();
  for (const row of rows) {
    const label = (row[modelColumn('tags', 'mobilenetv2-12-int8')] as { label: string }[] | null)?.[0]?.label;
    if (label) firsts.set(label, (firsts.get(label) ?? 0) + 1);
  }
  assert.equal(r.topTags.length, Math.min(10, firsts.size));
  for (const t of r.topTags as { label: string; count: number }[]) assert.equal(t.count, firsts.get(t.label), t.label);
  assert.ok(r.topTags[0].count >= r.topTags.at(-1).count, 'most frequent first');
  assert.ok(r.throughput.length >= 1 && r.throughput.some((t: { imagesPerSecond: number }) => t.imagesPerSecond > 0));
  const imagesInSeries = r.throughput.reduce((n: number, t: { imagesPerSecond: number }) => n + t.imagesPerSecond, 0) * (r.throughput[1]?.seconds ?? 1);
  assert.ok(Math.abs(imagesInSeries - 41) < 0.5, `the series adds up to the images: ${imagesInSeries}`);

  // In a real browser: the digest's table names the key; the top-tags and throughput charts are drawn.
  const html = `file://${path.join(run, 'reports/report.html')}`;
  const dom = chromium(['--dump-dom', html]);
  const section = (heading: string) => dom.split('<section>').find((x) => x.includes(`<h2>${heading}`)) ?? '';
  assert.match(section('Failures'), /<td>decode<\/td>.*broken\.jpg/s);
  for (const heading of ['Top tags', 'Throughput over time']) {
    const paths = section(heading).match(/<path[^>]* d="M[^"]+"/g) ?? [];
    assert.ok(paths.length >= 2, `${heading}: no chart drawn`);
  }
  const shot = path.join(dir, 'report.png');
  chromium(['--window-size=1100,2600', `--screenshot=${shot}`, html]);
  const stats = await sharp(shot).stats();
  assert.ok(stats.channels.some((c) => c.stdev > 20), 'the screenshot is blank');
});

test('report cost you can trust: the fleet size changes hours, not the cost per image; no NaN or Infinity; gaps between attempts are not tagging time; another kind of machine is refused', async () => {
  const { dir, run } = plannedRun();
  assert.equal((await imgtag(['plan', '--manifest', path.join(dir, 'keys.txt'), '--run', run, '--shard-size', '10'])).code, 0);
  const report = async (...args: string[]) => {
    const res = await imgtag(['report', '--run', run, ...args]);
    assert.equal(res.code, 0, res.stderr);
    assertNoBadNumbers(res.stdout);
    const json = fs.readFileSync(path.join(run, 'reports/report.json'), 'utf8');
    assertNoBadNumbers(json);
    assertNoBadNumbers(fs.readFileSync(path.join(run, 'reports/report.md'), 'utf8'));
    return JSON.parse(json);
  };
  // A plan that never ran: nothing to project from, said in words.
  const never = await report();
  assert.equal(never.projection, undefined);
  assert.match(fs.readFileSync(path.join(run, 'reports/report.md'), 'utf8'), /no shard committed yet: nothing measured to project from/);
  for (const bad of ['abc', '0', '-1', 'Infinity']) {
    const res = await imgtag(['report', '--run', run, '--price', bad]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /--price <usd>' argument '[^']*' is invalid\. must be a positive number/);
  }

  assert.equal((await imgtag(['run', '--run', run, '--workers', '2'])).code, 0);
  const one = await report('--instances', '1');
  const ten = await report('--instances', '10');
  assert.ok(one.projection.usdPerMillion > 0);
  assert.ok(close(one.projection.usdPerMillion, ten.projection.usdPerMillion), `${one.projection.usdPerMillion} vs ${ten.projection.usdPerMillion} per million`);
  assert.ok(close(one.projection.spot.usdPerMillion, ten.projection.spot.usdPerMillion));
  assert.ok(close(one.projection.hours, 10 * ten.projection.hours));
  assert.ok(one.projection.spot.totalUsd < one.projection.totalUsd, 'spot is cheaper than on demand');
  assert.match(one.machines[0], /^\d+ vCPUs \(.+\), device cpu \(5 shards\)$/);
  assert.match(one.pricing.rateBasis, /measured on \d+ vCPUs .*scaled by vCPUs to c7i\.xlarge's 4/);

  // Resumed 10 hours later: the gap is not tagging time, so neither the rate nor the cost moves.
  const commits = path.join(run, 'commits');
  const first = path.join(commits, fs.readdirSync(commits).sort()[0]!);
  const m = JSON.parse(fs.readFileSync(first, 'utf8'));
  const shift = (t: string) => new Date(Date.parse(t) - 10 * 3600e3).toISOString();
  fs.writeFileSync(first, JSON.stringify({ ...m, startedAt: shift(m.startedAt), finishedAt: shift(m.finishedAt) }));
  const resumed = await report();
  assert.ok(resumed.wallSeconds > 36_000);
  const busy = fs.readdirSync(commits).reduce((n, f) => n + JSON.parse(fs.readFileSync(path.join(commits, f), 'utf8')).seconds, 0);
  assert.ok(resumed.machineSeconds <= busy + 1e-6, `${resumed.machineSeconds} s of tagging, at most the shards' ${busy} s`);
  assert.ok(resumed.projection.usdPerMillion <= one.projection.usdPerMillion * 2, 'the gap did not inflate the cost');

  // A GPU instance from a CPU measurement: refused, unless the rate to assume is given.
  const gpu = await imgtag(['report', '--run', run, '--instance', 'g5.xlarge']);
  assert.equal(gpu.code, 1);
  assert.match(gpu.stderr, /^imgtag: the rate was measured on .*device cpu: it says nothing about g5\.xlarge \(4 vCPUs, 1 x A10G\)\. .*--rate/m);
  const assumed = await report('--instance', 'g5.xlarge', '--rate', '400');
  assert.equal(assumed.pricing.rateBasis, 'assumed: --rate 400 images/s per instance');
  assert.ok(close(assumed.projection.instanceHours, 41 / 400 / 3600));
  // --price without --instance prices the measured machine, never a default type's name.
  const custom = await report('--price', '0.5');
  assert.equal(custom.pricing.instance, undefined);
  assert.match(fs.readFileSync(path.join(run, 'reports/report.md'), 'utf8'), /Prices: the measured machine at \$0\.5\/h/);
});
