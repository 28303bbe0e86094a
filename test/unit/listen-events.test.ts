import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadMessage, compareSequencers, latestPerObject, parseNotification } from '../../src/listen/events.js';

const s3 = (eventName: string, key: string, object: Record<string, unknown> = {}) =>
  JSON.stringify({ Records: [{ eventSource: 'aws:s3', eventName, eventTime: '2026-12-05T01:00:00.000Z', s3: { bucket: { name: 'b' }, object: { key, ...object } } }] });
const bridge = (type: string, key: string, extra: Record<string, unknown> = {}, object: Record<string, unknown> = {}) =>
  JSON.stringify({ source: 'aws.s3', 'detail-type': type, time: '2026-12-05T01:00:00Z', detail: { bucket: { name: 'b' }, object: { key, ...object }, ...extra } });

test('S3 notifications: keys form-URL-decoded, ETags bare, removals only where the live object goes', () => {
  assert.deepEqual(parseNotification(s3('ObjectCreated:Put', 'a/%C3%89t%C3%A9+1%2B2.jpg', { eTag: '"abc"', size: 5, sequencer: '0A' })), [
    { kind: 'created', uri: 's3://b/a/Été 1+2.jpg', etag: 'abc', size: 5, sequencer: '0A', time: '2026-12-05T01:00:00.000Z' },
  ]);
  assert.equal(parseNotification(s3('ObjectRemoved:Delete', 'x.jpg'))[0]!.kind, 'removed');
  assert.equal(parseNotification(s3('ObjectRemoved:DeleteMarkerCreated', 'x.jpg', { versionId: 'v2' }))[0]!.kind, 'removed');
  // A versioned bucket's permanent delete of one version (maybe a noncurrent one): left to the Inventory.
  assert.deepEqual(parseNotification(s3('ObjectRemoved:Delete', 'x.jpg', { versionId: 'v1' })), []);
  assert.deepEqual(parseNotification(s3('LifecycleTransition', 'x.jpg')), []);
  assert.deepEqual(parseNotification(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent' })), []);
  // Inside an SNS envelope.
  assert.equal(parseNotification(JSON.stringify({ Type: 'Notification', Message: s3('ObjectCreated:Copy', 'y.png') }))[0]!.uri, 's3://b/y.png');
});

test('EventBridge events: keys as they are, "Permanently Deleted" of one version left to the Inventory', () => {
  assert.deepEqual(parseNotification(bridge('Object Created', 'a b+c.jpg', {}, { etag: 'e1', size: 3 })), [{ kind: 'created', uri: 's3://b/a b+c.jpg', etag: 'e1', size: 3, sequencer: undefined, time: '2026-12-05T01:00:00Z' }]);
  assert.equal(parseNotification(bridge('Object Deleted', 'x.jpg', { 'deletion-type': 'Delete Marker Created' }))[0]!.kind, 'removed');
  assert.deepEqual(parseNotification(bridge('Object Deleted', 'x.jpg', { 'deletion-type': 'Permanently Deleted' }, { 'version-id': 'v1' })), []);
});

test('what is not an S3 event is refused with a reason; the last event of a key in a batch wins by sequencer', () => {
  assert.throws(() => parseNotification('not json'), BadMessage);
  assert.throws(() => parseNotification('{"hello":1}'), /not an S3 event notification/);
  assert.throws(() => parseNotification(JSON.stringify({ Records: [{ eventName: 'ObjectCreated:Put' }] })), /has no s3\.bucket/);
  assert.ok(compareSequencers('0055AED6DCD90281E5', '0055AED6DCD90281E6') < 0);
  assert.ok(compareSequencers('0055AED6DCD9028', '0055AED6DCD90281E5') < 0, 'the shorter padded with zeros on the right');
  const created = { kind: 'created' as const, uri: 's3://b/k', sequencer: '02', time: 't' };
  const removed = { kind: 'removed' as const, uri: 's3://b/k', sequencer: '01', time: 't' };
  assert.deepEqual(latestPerObject([created, removed]), [created], 'an older removal delivered late does not win');
});
