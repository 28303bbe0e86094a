import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorDigest, mergeErrorDigests, mergeTopTags, topTags, type DigestRow } from '../../src/rundir/digest.js';

const row = (key: string, error?: string, label?: string): DigestRow => ({
  key,
  bucket: 'b',
  error: error ? { stage: 'fetch', message: error } : null,
  models: [{ tags: label ? [{ label }, { label: 'second' }] : null }],
});

test('errorDigest: one reason per message with its numbers as #, most frequent first, 3 sample keys, long keys cut', () => {
  const long = 'k'.repeat(1000);
  const rows = [row('a', 'the object is 12 MB, over 10 MB'), row('b', 'the object is 14 MB, over 10 MB'), row('c', 'HTTP 404'), row('d'), row('e', 'the object is 9.5 MB, over 8 MB'), row(long, 'the object is 1 MB, over 0.5 MB')];
  const d = errorDigest(rows);
  assert.deepEqual(d.map((e) => [e.reason, e.count]), [['the object is # MB, over # MB', 4], ['HTTP 404', 1]]);
  assert.deepEqual(d[0]!.samples.slice(0, 3), ['s3://b/a', 's3://b/b', 's3://b/e']);
  assert.equal(d[0]!.samples.length, 3);
  assert.equal(errorDigest([row(long, 'x')])[0]!.samples[0]!.length, 300);
});

test('mergeErrorDigests and mergeTopTags: counts add across shards, samples stay at 3, ties by name', () => {
  const a = errorDigest([row('a', 'HTTP 404'), row('b', 'HTTP 500')]);
  const b = errorDigest([row('c', 'HTTP 403'), row('d', 'HTTP 404'), row('e', 'timeout')]);
  const merged = mergeErrorDigests([a, b, undefined]);
  assert.deepEqual(merged.map((e) => [e.reason, e.count, e.samples.length]), [['HTTP 404', 2, 2], ['HTTP 403', 1, 1], ['HTTP 500', 1, 1], ['timeout', 1, 1]]);
  const tags = mergeTopTags([topTags([row('a', undefined, 'cat'), row('b', undefined, 'dog'), row('c', 'HTTP 404')]), topTags([row('d', undefined, 'cat')])]);
  assert.deepEqual(tags, [{ label: 'cat', count: 2 }, { label: 'dog', count: 1 }]);
});

test('errorDigest keeps what names a kind: a zero, an HTTP status, a file\'s first bytes, digits in a word; sizes as #x#', () => {
  const reasons = (...messages: string[]) => errorDigest(messages.map((m, i) => row(String(i), m))).map((e) => e.reason).sort();
  assert.deepEqual(reasons('empty file: 0 bytes'), ['empty file: 0 bytes']);
  assert.deepEqual(reasons('not an image: no known image format starts with bytes 3c 68 74 6d'), ['not an image: no known image format starts with bytes 3c 68 74 6d']);
  assert.deepEqual(reasons('too many pixels: 30000x30000 is over the --max-pixels limit of 100000000', 'too many pixels: 20000x9000 is over the --max-pixels limit of 100000000'), ['too many pixels: #x# is over the --max-pixels limit of #']);
  assert.deepEqual(reasons('truncated JPEG: ends at byte 1234.', 'truncated JPEG: ends at byte 99.'), ['truncated JPEG: ends at byte #.']);
  assert.deepEqual(reasons('decoder vips2 failed'), ['decoder vips2 failed']);
});
