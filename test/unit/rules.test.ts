import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exitCodeFor } from '../../cli/common/format.js';
import { groupShards } from '../../src/compact/groups.js';
import { AccessRefused, NotFoundError, StoreError, UserError } from '../../src/errors.js';
import { StageClock } from '../../src/pipeline/stage-clock.js';
import { isImageKeyBytes, isImageUri } from '../../src/plan/filter.js';
import { shardOf } from '../../src/plan/shard-sink.js';
import type { RunSummary } from '../../src/run/run-plan.js';
import type { CommitMarker } from '../../src/rundir/commits.js';
import { classifyFailure, isPermanentRedirect } from '../../src/storage/failure.js';
import { s3Kind } from '../../src/storage/s3-store.js';
import { beatsSpread, median, steadyCpuPerImage, steadyRate } from '../../src/tune/search.js';

// Pure functions, table by table: no model, no photos, no S3 server.

test('s3Kind: an SDK or socket error by its code, name and status; classifyFailure by kind alone', () => {
  const sdk = (name: string, status?: number, extra: object = {}) => ({ name, $metadata: { httpStatusCode: status }, ...extra });
  const table: [object, string][] = [
    [sdk('NoSuchKey', 404), 'missing'],
    [sdk('NotFound', 404), 'missing'],
    [sdk('NoSuchBucket', 404), 'fatal'],
    [sdk('PermanentRedirect', 301), 'fatal'],
    [sdk('CredentialsProviderError'), 'fatal'],
    [sdk('AccessDenied', 403), 'refused'],
    [sdk('InvalidAccessKeyId', 403), 'refused'],
    [sdk('Whatever', 401), 'refused'],
    [sdk('PreconditionFailed', 412), 'conflict'],
    [sdk('TemporaryRedirect', 307), 'transient'],
    [sdk('SlowDown', 503), 'transient'],
    [sdk('InternalError', 500), 'transient'],
    [sdk('TooManyRequests', 429), 'transient'],
    [sdk('TimeoutError'), 'transient'],
    [{ name: 'Error', code: 'ECONNRESET', message: 'socket hang up' }, 'transient'],
    [sdk('Unknown', undefined, { $retryable: {} }), 'transient'],
    [sdk('InvalidObjectState', 400), 'permanent'],
  ];
  for (const [e, want] of table) assert.equal(s3Kind(e), want, JSON.stringify(e));
  const failures: [unknown, string][] = [
    [new NotFoundError('gone'), 'permanent'],
    [new StoreError('too big', 'permanent'), 'permanent'],
    [new AccessRefused('denied', 403), 'fatal'],
    [new StoreError('moved', 'fatal', 'PermanentRedirect', 301), 'fatal'],
    [new StoreError('slow down', 'transient', 'SlowDown', 503), 'transient'],
    [new StoreError('lost', 'conflict'), 'permanent'],
    // Not the store's: the object's own content (a decoder's error), whatever its words say.
    [new Error('socket hang up'), 'permanent'],
    [new UserError('timed out'), 'permanent'],
  ];
  for (const [e, want] of failures) assert.equal(classifyFailure(e), want, (e as Error).message);
  assert.equal(isPermanentRedirect(new StoreError('moved', 'fatal', 'PermanentRedirect', 301)), true);
  assert.equal(isPermanentRedirect(new AccessRefused('denied', 403)), false);
});

test('exitCodeFor: 3 with an unfinished shard, 4 over --max-error-rate, else 0', () => {
  const summary = (failedShards: number, failures: number, images = 100) => ({ failedShards: Array.from({ length: failedShards }, (_, shard) => ({ shard, message: 'x' })), failures, images }) as unknown as RunSummary;
  assert.equal(exitCodeFor(summary(0, 0)), 0);
  assert.equal(exitCodeFor(summary(0, 50)), 0, 'no --max-error-rate: error rows are results');
  assert.equal(exitCodeFor(summary(0, 6), 0.05), 4);
  assert.equal(exitCodeFor(summary(0, 5), 0.05), 0, 'at the rate exactly: not over it');
  assert.equal(exitCodeFor(summary(1, 90), 0.05), 3, 'unfinished work outranks the error rate');
  assert.equal(exitCodeFor(summary(0, 0, 0), 0), 0, 'no images: no rate');
});

test('isImageUri and isImageKeyBytes agree on every kind of name', () => {
  const table: [string, boolean][] = [
    ['s3://b/a.jpg', true],
    ['s3://b/A.JPEG', true],
    ['s3://b/x/photo.HeIc', true],
    ['s3://b/x.tiff', true],
    ['s3://b/x.webp', true],
    ['s3://b/x.svg', false],
    ['s3://b/x.json', false],
    ['s3://b/dir.jpg/file', false],
    ['s3://b/.jpg', false],
    ['s3://b/x/.png', false],
    ['s3://b/x.', false],
    ['s3://b/noext', false],
    ['s3://b/x.jpegg', false],
    ['s3://b/x.tar.gz', false],
  ];
  for (const [uri, want] of table) {
    assert.equal(isImageUri(uri), want, uri);
    const bytes = Buffer.from(`"${uri}"`);
    assert.equal(isImageKeyBytes(bytes, 1, bytes.length - 1), want, `${uri} as bytes`);
  }
});

test('shardOf is stable (the same shard on any machine) and spreads URIs evenly', () => {
  assert.equal(shardOf('s3://b/a.jpg', 1000), shardOf('s3://b/a.jpg', 1000));
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 10_000; i++) counts[shardOf(`s3://b/photos/${i}.jpg`, 10)]++;
  for (const c of counts) assert.ok(c > 850 && c < 1150, `a shard got ${c} of 10,000`);
  // Pinned: a plan made by this version must hash the same in the next one.
  assert.deepEqual(['s3://b/a.jpg', 's3://b/b.jpg', 's3://other/é.png'].map((u) => shardOf(u, 97)), [72, 89, 66]);
});

test('groupShards cuts shards, in shard order, into consecutive groups of about the target bytes', () => {
  const shard = (n: number, bytes: number) => ({ shard: n, uri: `s${n}`, bytes, rows: bytes / 10 });
  const groups = groupShards([shard(3, 40), shard(0, 50), shard(1, 60), shard(2, 30), shard(4, 200)], 100);
  assert.deepEqual(groups.map((g) => g.shards.map((s) => s.shard)), [[0], [1, 2], [3], [4]]);
  assert.deepEqual(groups.map((g) => [g.bytes, g.rows]), [[50, 5], [90, 9], [40, 4], [200, 20]]);
  assert.deepEqual(groupShards([], 100), []);
});

test('StageClock with its own clock: busy time counts overlapping tasks once; depth is the average in flight; peak the most at once', async () => {
  let now = 0;
  const clock = new StageClock(() => now);
  const gate = () => {
    let open!: () => void;
    return { promise: new Promise<void>((r) => (open = r)), open: () => open() };
  };
  const [a, b, c] = [gate(), gate(), gate()];
  const ta = clock.time('decode', () => a.promise); // decode 0 -> 300
  now = 100;
  const tb = clock.time('decode', () => b.promise); // decode 100 -> 200
  const tc = clock.time('fetch', () => c.promise); // fetch 100 -> 150
  now = 150;
  c.open();
  await tc;
  now = 200;
  b.open();
  await tb;
  now = 300;
  a.open();
  await ta;
  assert.equal(clock.busy.decode, 0.3, 'one span, 0 -> 300 ms, counted once');
  assert.equal(clock.busy.fetch, 0.05);
  assert.equal(clock.busy.infer, 0);
  assert.deepEqual([clock.peak.decode, clock.peak.fetch], [2, 1]);
  const depth = clock.depth(0.4);
  assert.ok(Math.abs(depth.decode - (0.3 + 0.1) / 0.4) < 1e-9, `decode depth ${depth.decode}`);
  assert.equal(clock.depth(0).decode, 0);
});

test("tune's keep rule on fixed numbers: a change is kept only when its median beats the best's by more than half the wider range", () => {
  const it = (imagesPerSecond: number, repetitions: number[]) => ({ imagesPerSecond, repetitions });
  assert.equal(beatsSpread(it(110, [108, 110, 112]), it(100, [99, 100, 101])), true, '10 over, ranges 4 and 2: half of 4 is 2');
  assert.equal(beatsSpread(it(110, [90, 110, 130]), it(100, [99, 100, 101])), false, '10 over, but the range is 40: noise');
  assert.equal(beatsSpread(it(102, [101, 102, 103]), it(100, [98, 100, 104])), false, '2 over, half the wider range is 3');
  assert.equal(beatsSpread(it(100, [100, 100, 100]), it(100, [100, 100, 100])), false, 'equal is not better');
  assert.equal(beatsSpread(it(90, [90, 90, 90]), it(100, [100, 100, 100])), false);
  assert.equal(beatsSpread(it(150, [150]), it(100, [100])), false, 'one run each (--repeats 1): no noise measured, no gain shown');
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
});

test("steadyRate leaves out each worker's first shard and counts overlapping shards' time once", () => {
  const m = (pid: number, rows: number, start: number, end: number) => ({ pid, rows, startedAt: new Date(start * 1000).toISOString(), finishedAt: new Date(end * 1000).toISOString() }) as CommitMarker;
  // Two workers; their first shards (0-10 s) are warm-up. Then 100 rows each over 10-20 s, overlapping.
  const markers = [m(1, 50, 0, 10), m(2, 50, 0, 10), m(1, 100, 10, 20), m(2, 100, 12, 20)];
  assert.equal(steadyRate(markers), 200 / 10);
  // One shard per worker: nothing but warm-up, so it is all counted.
  assert.equal(steadyRate([m(1, 30, 0, 3)]), 10);
  assert.equal(steadyRate([]), 0);
});

test("steadyCpuPerImage: per worker, the CPU between its first and last commit over the images after the first", () => {
  const m = (pid: number, rows: number, cpuSeconds?: number) => ({ pid, rows, cpuSeconds }) as CommitMarker;
  // Worker 1: 2 s of start-up and first shard, then 200 images in 1 s; worker 2: 100 images in 0.8 s.
  const markers = [m(1, 100, 2), m(1, 100, 2.5), m(1, 100, 3), m(2, 50, 1.5), m(2, 100, 2.3)];
  const near = (got: number | undefined, want: number) => assert.ok(got !== undefined && Math.abs(got - want) < 1e-12, `${got} != ${want}`);
  near(steadyCpuPerImage(markers), (1 + 0.8) / 300);
  // Markers arrive in any order: each worker's are put in CPU order.
  near(steadyCpuPerImage([...markers].reverse()), (1 + 0.8) / 300);
  // A worker with one marker, or markers without stamps (older runs), says nothing.
  assert.equal(steadyCpuPerImage([m(1, 100, 2), m(2, 100)]), undefined);
  assert.equal(steadyCpuPerImage([m(1, 100), m(1, 100)]), undefined);
});
