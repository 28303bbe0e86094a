import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { UserError, errorMessage } from '../errors.js';
import type { S3Options } from '../storage/s3-config.js';
import { receiveBytes } from './byte-channel.js';
import { writePart, type PartCounts, type PartTask } from './part-writer.js';

/**
 * A planning thread: turns the Inventory data files it is handed into shard lines on local disk. A
 * CSV file's bytes come from the main thread over `port`; only a Parquet one (read by ranges) needs
 * an S3 client here, loaded then.
 */
export type PartReply = { ok: true; counts: PartCounts } | { ok: false; message: string; user: boolean };
export interface PartMessage {
  task: PartTask;
  port?: MessagePort;
}

let s3: Promise<void> | undefined;
const configured = () => (s3 ??= import('../storage/s3-config.js').then((m) => m.configureS3((workerData as { s3: S3Options }).s3)));

async function handle({ task, port }: PartMessage): Promise<PartCounts> {
  if (port) return writePart(task, receiveBytes(port));
  await configured();
  return writePart(task);
}

parentPort!.on('message', (msg: PartMessage) => {
  handle(msg).then(
    (counts) => parentPort!.postMessage({ ok: true, counts } satisfies PartReply),
    (e: unknown) => parentPort!.postMessage({ ok: false, message: errorMessage(e), user: e instanceof UserError } satisfies PartReply),
  );
});
