import { parentPort, workerData } from 'node:worker_threads';
import { UserError, errorMessage } from '../errors.js';
import { configureS3, type S3Options } from '../storage/s3-client.js';
import { writePart, type PartCounts, type PartTask } from './part-writer.js';

/** A planning thread: turns the Inventory data files it is handed into shard lines on local disk. */
export type PartReply = { ok: true; counts: PartCounts } | { ok: false; message: string; user: boolean };

configureS3((workerData as { s3: S3Options }).s3);
parentPort!.on('message', (task: PartTask) => {
  writePart(task).then(
    (counts) => parentPort!.postMessage({ ok: true, counts } satisfies PartReply),
    (e: unknown) => parentPort!.postMessage({ ok: false, message: errorMessage(e), user: e instanceof UserError } satisfies PartReply),
  );
});
