import { listObjects, writeBytes } from '../../src/storage/storage.js';
import type { SqsQueue, SqsServer } from './sqs-server.js';

/** S3 writes keys in its notifications form-URL-encoded, as in its Inventory. */
const encodeKey = (k: string) => encodeURIComponent(k).replace(/%20/g, '+').replace(/%2F/g, '/');

let sequence = 0x100;

/** One S3 event notification (eventVersion 2.1) as S3 sends it to SQS. */
export function s3Notification(kind: 'created' | 'removed', bucket: string, key: string, etag?: string, size?: number, eventTime = new Date().toISOString()): string {
  const sequencer = (sequence++).toString(16).toUpperCase().padStart(18, '0');
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'us-east-1',
        eventTime,
        eventName: kind === 'created' ? 'ObjectCreated:Put' : 'ObjectRemoved:Delete',
        s3: { s3SchemaVersion: '1.0', bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` }, object: { key: encodeKey(key), ...(etag ? { eTag: etag, size } : {}), sequencer } },
      },
    ],
  });
}

/** Upload an object and put its ObjectCreated notification on the queue, as the bucket would. */
export async function uploadNotified(sqs: SqsServer, queue: SqsQueue, bucket: string, key: string, body: Buffer): Promise<{ etag: string }> {
  await writeBytes(`s3://${bucket}/${key}`, body);
  let etag = '';
  for await (const o of listObjects(`s3://${bucket}/${key}`)) if (o.uri === `s3://${bucket}/${key}`) etag = o.etag!;
  sqs.send(queue, s3Notification('created', bucket, key, etag, body.length));
  return { etag };
}
