import { UserError } from '../errors.js';
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import { writeBytes } from '../storage/storage.js';
import { runLayout } from '../rundir/layout.js';
import { PartitionedSpill } from './spill.js';

/** Receives a plan's shard lines in order, as bytes of whole lines, and writes the shard files. */
export interface ShardSink {
  add(lines: Buffer): Promise<void>;
  /** Flush everything; returns the number of shards written. */
  finish(): Promise<number>;
}

/** Shard uploads in flight: enough to keep S3 busy (each is one small PUT)... */
const UPLOADS = 64;
/** ...and bytes of shards waiting for theirs, so memory stays bounded on a slow store. */
const PENDING_BYTES = 32 << 20;

/** --shard-size N: consecutive runs of N lines; only the shard being filled is held in memory. */
export function sequentialSink(run: string, shardSize: number): ShardSink {
  const limit = pLimit(UPLOADS);
  const pending = new Set<Promise<void>>();
  let pendingBytes = 0;
  let parts: Buffer[] = [];
  let count = 0;
  let index = 0;
  const flush = async () => {
    const body = Buffer.concat(parts);
    const uri = runLayout.shard(run, index++);
    parts = [];
    count = 0;
    const p = limit(() => writeBytes(uri, body, 'application/x-ndjson'));
    pending.add(p);
    pendingBytes += body.length;
    void p
      .finally(() => {
        pending.delete(p);
        pendingBytes -= body.length;
      })
      .catch(() => undefined);
    while (pending.size >= 2 * UPLOADS || pendingBytes > PENDING_BYTES) await Promise.race(pending);
  };
  return {
    async add(bytes) {
      let pos = 0;
      while (pos < bytes.length) {
        // Skip ahead to the line that fills this shard, or to the end of the bytes.
        let nl = pos - 1;
        while (count < shardSize) {
          const next = bytes.indexOf(10, nl + 1);
          if (next < 0) break;
          nl = next;
          count++;
        }
        if (nl >= pos) parts.push(bytes.subarray(pos, nl + 1));
        pos = nl + 1;
        if (count >= shardSize) await flush();
        else break;
      }
    },
    async finish() {
      if (count > 0 || index === 0) await flush();
      await Promise.all(pending);
      return index;
    },
  };
}

/** Which of n shards a URI belongs to: a stable hash, so a plan is the same on any machine. */
export function shardOf(uri: string, n: number): number {
  return createHash('sha1').update(uri).digest().readUInt32BE(0) % n;
}

/** --shards N: lines spread by hash of their URI; spilled to local temp files, then uploaded. */
export async function hashedSink(run: string, n: number): Promise<ShardSink> {
  const spill = await PartitionedSpill.create(n);
  let images = 0;
  return {
    async add(bytes) {
      let pos = 0;
      while (pos < bytes.length) {
        images += 1;
        const nl = bytes.indexOf(10, pos);
        const line = bytes.toString('utf8', pos, nl + 1);
        await spill.add(shardOf((JSON.parse(line) as { uri: string }).uri, n), line);
        pos = nl + 1;
      }
    },
    async finish() {
      await spill.flush();
      // Empty shards are files, commits and array children for nothing.
      if (images < n) {
        await spill.remove();
        throw new UserError(`--shards ${n} is more than the ${images} images the manifest lists: give --shards ${Math.max(1, images)} or fewer (or --shard-size)`);
      }
      const limit = pLimit(UPLOADS);
      try {
        await Promise.all(
          Array.from({ length: n }, (_, i) =>
            limit(async () => writeBytes(runLayout.shard(run, i), await spill.read(i), 'application/x-ndjson')),
          ),
        );
      } finally {
        await spill.remove();
      }
      return n;
    },
  };
}
