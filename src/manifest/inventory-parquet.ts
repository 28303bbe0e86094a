import { parquetMetadataAsync, parquetReadObjects, cachedAsyncBuffer } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { UserError } from '../errors.js';
import { rangedBuffer } from '../storage/ranged-buffer.js';
import { s3Uri } from '../storage/uri.js';
import type { ManifestRow } from './types.js';

/** A row is current unless the inventory includes versions and says otherwise. */
function isCurrent(isLatest: unknown, isDeleteMarker: unknown): boolean {
  return String(isLatest ?? 'true').toLowerCase() !== 'false' && String(isDeleteMarker ?? 'false').toLowerCase() !== 'true';
}

/** The rows of one Parquet Inventory data file, a row group at a time. */
export async function* readInventoryParquet(dataUri: string): AsyncGenerator<ManifestRow[]> {
  const file = cachedAsyncBuffer(await rangedBuffer(dataUri));
  const metadata = await parquetMetadataAsync(file);
  const names = metadata.schema.slice(1).map((s) => s.name);
  const pick = (...candidates: string[]) => names.find((n) => candidates.includes(n.toLowerCase()));
  const [bucket, key, size, etag, latest, del] = [
    pick('bucket'),
    pick('key'),
    pick('size'),
    pick('e_tag', 'etag'),
    pick('is_latest', 'islatest'),
    pick('is_delete_marker', 'isdeletemarker'),
  ];
  if (!bucket || !key) throw new UserError(`${dataUri}: Parquet inventory has no bucket and key columns`);
  const columns = [bucket, key, size, etag, latest, del].filter((c): c is string => c !== undefined);
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    const rows = await parquetReadObjects({ file, metadata, columns, rowStart, rowEnd, compressors });
    rowStart = rowEnd;
    yield rows
      .filter((r) => isCurrent(latest && r[latest], del && r[del]))
      .map((r) => ({
        uri: s3Uri(String(r[bucket]), String(r[key])),
        size: size && r[size] != null ? Number(r[size]) : undefined,
        etag: etag && r[etag] != null ? String(r[etag]) : undefined,
      }));
  }
}
