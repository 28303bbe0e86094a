import { decodeInventoryKey } from '../manifest/inventory-csv.js';

/** One object change from an S3 event notification, in the form the stream stages. */
export interface ObjectEvent {
  kind: 'created' | 'removed';
  uri: string;
  etag?: string;
  size?: number;
  /** S3's per-key ordering token: of two events for one key, the greater sequencer is the later. */
  sequencer?: string;
  time: string;
}

/** A message that is not an S3 event notification in any form this reads: it goes to the dead-letter queue with this reason. */
export class BadMessage extends Error {
  override name = 'BadMessage';
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
/** S3 quotes ETags in some places and not in others: the stream compares them bare. */
const bareEtag = (e: unknown) => str(e)?.replace(/^"|"$/g, '');

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new BadMessage(`${what} is not JSON: ${text.slice(0, 80)}`);
  }
}

/**
 * The kind of change an S3 event name is, for the live (current) object; undefined for events that
 * leave it as it was: other types (lifecycle transitions, restores, tagging), and in a versioned
 * bucket the permanent delete of one version (`ObjectRemoved:Delete` with a versionId), which may be
 * a noncurrent one: the Inventory settles those at night.
 */
function s3Kind(name: string, versioned: boolean): ObjectEvent['kind'] | undefined {
  if (name.startsWith('ObjectCreated:')) return 'created';
  if (name === 'ObjectRemoved:DeleteMarkerCreated' || (name.startsWith('ObjectRemoved:') && !versioned)) return 'removed';
  return undefined;
}

/** S3's own notification (eventVersion 2.x): keys URL-encoded as form data ("+" a space). */
function fromS3Records(records: unknown[]): ObjectEvent[] {
  return records.flatMap((r, i) => {
    if (!isObject(r) || !isObject(r.s3) || !isObject(r.s3.bucket) || !isObject(r.s3.object)) throw new BadMessage(`Records[${i}] has no s3.bucket and s3.object`);
    const o = r.s3.object;
    const kind = s3Kind(str(r.eventName) ?? '', str(o.versionId) !== undefined && str(o.versionId) !== 'null');
    const bucket = str(r.s3.bucket.name);
    const key = str(o.key);
    if (!bucket || key === undefined) throw new BadMessage(`Records[${i}]: no bucket name or object key`);
    if (!kind) return [];
    return [{ kind, uri: `s3://${bucket}/${decodeInventoryKey(key)}`, etag: bareEtag(o.eTag), size: num(o.size), sequencer: str(o.sequencer), time: str(r.eventTime) ?? new Date().toISOString() }];
  });
}

/** The EventBridge form (detail-type "Object Created" / "Object Deleted"): keys as they are. */
function fromEventBridge(e: Json): ObjectEvent[] {
  const type = e['detail-type'];
  const d = e.detail;
  if (!isObject(d) || !isObject(d.bucket) || !isObject(d.object)) throw new BadMessage(`EventBridge event "${String(type)}" has no detail.bucket and detail.object`);
  // "Permanently Deleted" with a version id removes one version, maybe a noncurrent one: left to the Inventory.
  const oneVersion = d['deletion-type'] === 'Permanently Deleted' && str(d.object['version-id']) !== undefined;
  const kind = type === 'Object Created' ? 'created' : type === 'Object Deleted' && !oneVersion ? 'removed' : undefined;
  const bucket = str(d.bucket.name);
  const key = str(d.object.key);
  if (!bucket || key === undefined) throw new BadMessage('EventBridge event without detail.bucket.name and detail.object.key');
  if (!kind) return [];
  return [{ kind, uri: `s3://${bucket}/${key}`, etag: bareEtag(d.object.etag), size: num(d.object.size), sequencer: str(d.object.sequencer), time: str(e.time) ?? new Date().toISOString() }];
}

/**
 * The object events in one SQS message body: S3's notification JSON (also inside an SNS envelope)
 * or an EventBridge event. S3's test event on a new configuration holds none.
 */
export function parseNotification(body: string): ObjectEvent[] {
  let doc = parseJson(body, 'the message');
  if (isObject(doc) && doc.Type === 'Notification' && typeof doc.Message === 'string') doc = parseJson(doc.Message, 'the SNS notification\'s Message');
  if (!isObject(doc)) throw new BadMessage('the message is not a JSON object');
  if (doc.Event === 's3:TestEvent') return [];
  if (Array.isArray(doc.Records)) return fromS3Records(doc.Records);
  if (doc.source === 'aws.s3') return fromEventBridge(doc);
  throw new BadMessage(`not an S3 event notification (no Records, no EventBridge source aws.s3): ${body.slice(0, 80)}`);
}

/**
 * The last event of each object in a batch, by sequencer (S3's order for one key), else by
 * arrival: an object created then removed within a batch is removed.
 */
export function latestPerObject(events: ObjectEvent[]): ObjectEvent[] {
  const latest = new Map<string, ObjectEvent>();
  for (const e of events) {
    const seen = latest.get(e.uri);
    if (seen === undefined || seen.sequencer === undefined || e.sequencer === undefined || compareSequencers(e.sequencer, seen.sequencer) >= 0) latest.set(e.uri, e);
  }
  return [...latest.values()];
}

/** Sequencers are hex strings of varying length: compared as numbers, the shorter padded (as AWS documents). */
export function compareSequencers(a: string, b: string): number {
  const n = Math.max(a.length, b.length);
  const pa = a.padEnd(n, '0');
  const pb = b.padEnd(n, '0');
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}
