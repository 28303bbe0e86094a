import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import { UserError } from '../errors.js';
import { readManifest, type ManifestRows, type ManifestSource } from '../manifest/index.js';
import { inventoryFiles, type InventoryFiles } from '../manifest/inventory.js';
import { wholeLineBuffers } from '../manifest/line-chunks.js';
import { s3Settings } from '../storage/s3-config.js';
import { isImageUri } from './filter.js';
import type { PartCounts, PartTask } from './part-writer.js';
import { decodeShardLine, encodeShardRow } from '../rundir/shard-line.js';
import { hasFilter, rowFilter, type FilterRow, type RowFilterOptions } from './row-filter.js';
import type { PartMessage, PartReply } from './part-thread.js';
import { sendBytes } from './byte-channel.js';
import { planFastPathProblem } from './native-lines.js';
import { readStream } from '../storage/storage.js';
import { settings } from '../settings.js';

export type { PartCounts } from './part-writer.js';

/** One data file's image rows as shard lines in a local file, in the data file's order. */
export interface ManifestPart {
  index: number;
  file: string;
  counts: PartCounts;
}

const THREAD_SCRIPT = new URL('./part-thread.js', import.meta.url);

/** Planning threads: one per core, none idle (a thread per data file at most). */
export function planThreads(files: number): number {
  return Math.max(1, Math.min(files, settings().planThreads ?? os.availableParallelism()));
}

interface Deferred {
  promise: Promise<PartCounts>;
  resolve: (c: PartCounts) => void;
  reject: (e: Error) => void;
}

function deferred(): Deferred {
  let resolve!: (c: PartCounts) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<PartCounts>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * Read an Inventory's data files in parallel, one per thread (they are independent), each into its
 * own local file of shard lines under `dir`; yield the parts in the manifest's order, each as soon
 * as it and every part before it are done. The order, and so every shard, does not depend on which
 * thread finishes first.
 */
export async function* inventoryParts(inv: InventoryFiles, dir: string): AsyncGenerator<ManifestPart> {
  const tasks: PartTask[] = inv.files.map((uri, i) => ({ uri, format: inv.format, schema: inv.schema, sourceBucket: inv.sourceBucket, out: path.join(dir, `part-${i}.ndjson`) }));
  const results = tasks.map(deferred);
  const slower = inv.format === 'csv' ? planFastPathProblem() : undefined;
  if (slower) process.stderr.write(`imgtag: planning read Inventory lines in JavaScript, about 3x the CPU of the native reader: ${slower}\n`);
  let next = 0;
  const workers: Worker[] = [];
  const feed = (w: Worker) => {
    const i = next++;
    if (i >= tasks.length) return void w.terminate();
    w.once('message', (reply: PartReply) => {
      if (reply.ok) results[i]!.resolve(reply.counts);
      else results[i]!.reject(reply.user ? new UserError(reply.message) : new Error(`${tasks[i]!.uri}: ${reply.message}`));
      feed(w);
    });
    const task = tasks[i]!;
    if (task.format !== 'csv') return void w.postMessage({ task } satisfies PartMessage);
    // This thread GETs the file and streams its bytes over; the planning thread inflates and parses.
    const { port1, port2 } = new MessageChannel();
    w.postMessage({ task, port: port2 } satisfies PartMessage, [port2]);
    void sendBytes(() => readStream(task.uri), port1).finally(() => port1.close());
  };
  for (let t = 0; t < planThreads(tasks.length); t++) {
    const w = new Worker(THREAD_SCRIPT, { workerData: { s3: s3Settings() } });
    w.on('error', (e) => results.forEach((r) => r.reject(e)));
    workers.push(w);
    feed(w);
  }
  try {
    for (let i = 0; i < tasks.length; i++) yield { index: i, file: tasks[i]!.out, counts: await results[i]!.promise };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Key lists and prefix listings: one part, read on this thread (a listing is paced by S3, not by parsing). */
async function singlePart(rows: ManifestRows, file: string, keep?: (row: FilterRow) => boolean): Promise<ManifestPart> {
  const counts: PartCounts = { rows: 0, images: 0, skipped: 0, bytes: 0, filtered: 0 };
  const out = fs.createWriteStream(file);
  const closed = once(out, 'close');
  try {
    for await (const page of rows) {
      let text = '';
      for (const row of page) {
        counts.rows++;
        if (!isImageUri(row.uri)) counts.skipped++;
        else if (keep && !keep(row)) counts.filtered!++;
        else {
          counts.images++;
          counts.bytes += row.size ?? 0;
          text += encodeShardRow(row);
        }
      }
      if (text !== '' && !out.write(text)) await once(out, 'drain');
    }
  } finally {
    out.end();
    await closed;
  }
  return { index: 0, file, counts };
}

/**
 * An Inventory part through plan's filters: its shard lines read back and kept or left out. Only
 * with filters (the threads' byte paths write lines without judging them): a JSON parse per row.
 */
async function filteredPart(part: ManifestPart, keep: (row: FilterRow) => boolean): Promise<ManifestPart> {
  const file = `${part.file}.kept`;
  const counts: PartCounts = { ...part.counts, images: 0, bytes: 0, filtered: 0 };
  const out = fs.createWriteStream(file);
  const closed = once(out, 'close');
  try {
    for await (const chunk of partChunks(part.file)) {
      let text = '';
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        const row = decodeShardLine(line);
        if (!keep(row)) counts.filtered!++;
        else {
          counts.images++;
          counts.bytes += row.size ?? 0;
          text += `${line}\n`;
        }
      }
      if (text !== '' && !out.write(text)) await once(out, 'drain');
    }
  } finally {
    out.end();
    await closed;
  }
  await fs.promises.rm(part.file);
  return { ...part, file, counts };
}

/** Any manifest as parts of shard lines under `dir`, in manifest order, through plan's filters when given. */
export async function* manifestParts(source: ManifestSource, dir: string, pageSize?: number, filter?: RowFilterOptions): AsyncGenerator<ManifestPart> {
  const keep = hasFilter(filter) ? rowFilter(filter, source.kind === 'prefix' ? source.uri : undefined) : undefined;
  if (source.kind !== 'inventory') return yield await singlePart(readManifest(source, pageSize), path.join(dir, 'part-0.ndjson'), keep);
  for await (const part of inventoryParts(await inventoryFiles(source.uri), dir)) yield keep ? await filteredPart(part, keep) : part;
}

/** A part file's bytes, in chunks of whole lines. */
export function partChunks(file: string): AsyncGenerator<Buffer> {
  return wholeLineBuffers(fs.createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>);
}
