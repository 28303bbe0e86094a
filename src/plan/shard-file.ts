import type { S3Counter } from '../storage/s3-client.js';
import type { ManifestRow } from '../manifest/index.js';
import { readText } from '../storage/storage.js';
import { UserError } from '../errors.js';

/** Characters JSON.stringify would escape: most URIs and ETags have none and are quoted as they are. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u2028\u2029\ud800-\udfff]/;
const jsonString = (s: string) => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

/**
 * One row per line, fields in a fixed order, so the same rows always give the same bytes. `size` is
 * a decimal byte count as text; an empty size or ETag is left out.
 */
export function encodeShardLine(uri: string, size: string, etag: string): string {
  return `{"uri":${jsonString(uri)}${size === '' ? '' : `,"size":${size}`}${etag === '' ? '' : `,"etag":${jsonString(etag)}`}}\n`;
}

export function encodeShardRow(row: ManifestRow): string {
  return encodeShardLine(row.uri, row.size === undefined ? '' : JSON.stringify(row.size), row.etag ?? '');
}

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
