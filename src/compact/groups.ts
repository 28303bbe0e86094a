/** One committed shard's staged Parquet: its shard number, size on storage and rows. */
export interface StagedShard {
  shard: number;
  uri: string;
  bytes: number;
  rows: number;
}

/** The shards one merged file is made of: consecutive in shard order, about `targetBytes` together. */
export interface ShardGroup {
  shards: StagedShard[];
  bytes: number;
  rows: number;
}

/**
 * Cut the run's shards, in shard order, into groups of about `targetBytes` of staged Parquet each.
 * Deterministic: the same shards and target always give the same groups.
 */
export function groupShards(staged: StagedShard[], targetBytes: number): ShardGroup[] {
  const sorted = [...staged].sort((a, b) => a.shard - b.shard);
  const groups: ShardGroup[] = [];
  let current: ShardGroup | undefined;
  for (const s of sorted) {
    if (current === undefined || (current.bytes + s.bytes > targetBytes && current.shards.length > 0)) {
      current = { shards: [], bytes: 0, rows: 0 };
      groups.push(current);
    }
    current.shards.push(s);
    current.bytes += s.bytes;
    current.rows += s.rows;
  }
  return groups;
}
