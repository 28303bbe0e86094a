import type { S3Counter } from '../storage/s3-config.js';
import type { ManifestRow } from '../manifest/index.js';
import { readText } from '../storage/storage.js';
import { UserError } from '../errors.js';

export async function readShardFile(uri: string, counter?: S3Counter): Promise<ManifestRow[]> {
  const text = await readText(uri, counter);
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line, i) => {
      try {
        // Shards planned by a join are written by DuckDB, which spells an absent field as null.
        const row = JSON.parse(line) as { uri: string; size?: number | null; etag?: string | null };
        return { uri: row.uri, size: row.size ?? undefined, etag: row.etag ?? undefined };
      } catch {
        throw new UserError(`${uri} line ${i + 1} is not valid JSON: the shard file is damaged, plan again`);
      }
    });
}
