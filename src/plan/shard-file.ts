import type { ManifestRow } from '../manifest/index.js';
import { readText } from '../storage/storage.js';
import { UserError } from '../errors.js';

/** One row per line, fields in a fixed order, so the same rows always give the same bytes. */
export function encodeShardRow(row: ManifestRow): string {
  const out: ManifestRow = { uri: row.uri };
  if (row.size !== undefined) out.size = row.size;
  if (row.etag !== undefined) out.etag = row.etag;
  return JSON.stringify(out) + '\n';
}

export async function readShardFile(uri: string): Promise<ManifestRow[]> {
  const text = await readText(uri);
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as ManifestRow;
      } catch {
        throw new UserError(`${uri} line ${i + 1} is not valid JSON: the shard file is damaged, plan again`);
      }
    });
}
