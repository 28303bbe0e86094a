import type { ManifestRow } from '../manifest/index.js';
import { readText } from '../storage/storage.js';
import { UserError } from '../errors.js';

/** One row per line, fields in a fixed order, so the same rows always give the same bytes. */
export function encodeShardRow(row: ManifestRow): string {
  // Spelled out rather than JSON.stringify({...}): the same bytes, without an object per row.
  const size = row.size === undefined ? '' : `,"size":${JSON.stringify(row.size)}`;
  const etag = row.etag === undefined ? '' : `,"etag":${JSON.stringify(row.etag)}`;
  return `{"uri":${JSON.stringify(row.uri)}${size}${etag}}\n`;
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
