import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import type { ManifestRow } from '../manifest/index.js';
import { writeBytes } from '../storage/storage.js';
import { runLayout } from '../run-dir.js';
import { encodeShardRow } from './shard-file.js';
import { PartitionedSpill } from './spill.js';

/** Receives the image rows of a plan in manifest order, a page at a time, and writes the shard files. */
export interface ShardSink {
  add(rows: ManifestRow[]): Promise<void>;
  /** Flush everything; returns the number of shards written. */
  finish(): Promise<number>;
}

/** At most this many shard uploads in flight, so memory stays bounded on a slow store. */
const uploads = () => pLimit(16);

/** --shard-size N: consecutive runs of N rows; only the shard being filled is held in memory. */
export function sequentialSink(run: string, shardSize: number): ShardSink {
  const limit = uploads();
  const pending = new Set<Promise<void>>();
  let lines: string[] = [];
  let index = 0;
  const flush = async () => {
    const body = lines.join('');
    const uri = runLayout.shard(run, index++);
    lines = [];
    const p = limit(() => writeBytes(uri, body, 'application/x-ndjson'));
    pending.add(p);
    void p.finally(() => pending.delete(p)).catch(() => undefined);
    if (pending.size >= 32) await Promise.race(pending);
  };
  return {
    async add(rows) {
      for (const row of rows) {
        lines.push(encodeShardRow(row));
        if (lines.length >= shardSize) await flush();
      }
    },
    async finish() {
      if (lines.length > 0 || index === 0) await flush();
      await Promise.all(pending);
      return index;
    },
  };
}

/** Which of n shards a URI belongs to: a stable hash, so a plan is the same on any machine. */
export function shardOf(uri: string, n: number): number {
  return createHash('sha1').update(uri).digest().readUInt32BE(0) % n;
}

/** --shards N: rows spread by hash of their URI; spilled to local temp files, then uploaded. */
export async function hashedSink(run: string, n: number): Promise<ShardSink> {
  const spill = await PartitionedSpill.create(n);
  return {
    async add(rows) {
      for (const row of rows) await spill.add(shardOf(row.uri, n), encodeShardRow(row));
    },
    async finish() {
      await spill.flush();
      const limit = uploads();
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
