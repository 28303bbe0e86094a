import { parse } from 'csv-parse';
import { parquetMetadataAsync, parquetReadObjects, cachedAsyncBuffer, type AsyncBuffer } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { UserError } from '../errors.js';
import { readBytes, readText, statObject } from '../storage/storage.js';
import { s3Uri } from '../storage/uri.js';
import { openManifestStream } from './lines.js';
import type { ManifestRow } from './types.js';

/** The parts of an S3 Inventory `manifest.json` this reader needs. */
interface InventoryManifest {
  destinationBucket: string;
  fileFormat: string;
  fileSchema: string;
  files: { key: string }[];
}

async function loadInventoryManifest(uri: string): Promise<InventoryManifest> {
  let doc: Partial<InventoryManifest>;
  try {
    doc = JSON.parse(await readText(uri)) as Partial<InventoryManifest>;
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserError(`${uri} is not valid JSON`);
    throw e;
  }
  if (typeof doc.fileFormat !== 'string' || typeof doc.fileSchema !== 'string' || !Array.isArray(doc.files)) {
    throw new UserError(`${uri} is not an S3 Inventory manifest (needs fileFormat, fileSchema and files)`);
  }
  if (typeof doc.destinationBucket !== 'string') throw new UserError(`${uri}: destinationBucket is missing`);
  return doc as InventoryManifest;
}

/** "arn:aws:s3:::bucket" or a plain bucket name. */
function bucketOf(destination: string): string {
  return destination.replace(/^arn:aws[a-z-]*:s3:::/, '');
}

/** Inventory CSV keys are form-URL-encoded: "+" is a space, "%2B" a plus. */
export function decodeInventoryKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/** A row is current unless the inventory includes versions and says otherwise. */
function isCurrent(isLatest: unknown, isDeleteMarker: unknown): boolean {
  return String(isLatest ?? 'true').toLowerCase() !== 'false' && String(isDeleteMarker ?? 'false').toLowerCase() !== 'true';
}

/** Stream the rows of an S3 Inventory report: manifest.json, then each CSV.gz or Parquet data file in order. */
export async function* readInventory(manifestUri: string): AsyncGenerator<ManifestRow> {
  const manifest = await loadInventoryManifest(manifestUri);
  const dest = bucketOf(manifest.destinationBucket);
  const format = manifest.fileFormat.toLowerCase();
  for (const file of manifest.files) {
    const dataUri = s3Uri(dest, file.key);
    if (format === 'csv') yield* readInventoryCsv(dataUri, manifest.fileSchema);
    else if (format === 'parquet') yield* readInventoryParquet(dataUri);
    else throw new UserError(`S3 Inventory format ${manifest.fileFormat} is not supported: configure the inventory as CSV or Parquet`);
  }
}

async function* readInventoryCsv(dataUri: string, fileSchema: string): AsyncGenerator<ManifestRow> {
  const columns = fileSchema.split(',').map((c) => c.trim().toLowerCase());
  const col = (name: string) => columns.indexOf(name);
  const [iBucket, iKey, iSize, iEtag, iLatest, iDelete] = ['bucket', 'key', 'size', 'etag', 'islatest', 'isdeletemarker'].map(col);
  if (iBucket === undefined || iKey === undefined || iBucket < 0 || iKey < 0) {
    throw new UserError(`inventory fileSchema "${fileSchema}" has no Bucket and Key columns`);
  }
  const at = (rec: string[], i: number | undefined) => (i === undefined || i < 0 ? undefined : rec[i]);
  const stream = (await openManifestStream(dataUri)).pipe(parse({ relax_column_count: true }));
  for await (const rec of stream as AsyncIterable<string[]>) {
    if (!isCurrent(at(rec, iLatest), at(rec, iDelete))) continue;
    const size = at(rec, iSize);
    yield {
      uri: s3Uri(rec[iBucket]!, decodeInventoryKey(rec[iKey]!)),
      size: size ? Number(size) : undefined,
      etag: at(rec, iEtag) || undefined,
    };
  }
}

/** Read a Parquet object by ranged GETs, so only one row group is in memory at a time. */
async function rangedBuffer(uri: string): Promise<AsyncBuffer> {
  const { size } = await statObject(uri);
  return cachedAsyncBuffer({
    byteLength: size ?? 0,
    async slice(start: number, end?: number) {
      const buf = await readBytes(uri, { start, end: end ?? size ?? 0 });
      return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
    },
  });
}

async function* readInventoryParquet(dataUri: string): AsyncGenerator<ManifestRow> {
  const file = await rangedBuffer(dataUri);
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
    for (const r of rows) {
      if (!isCurrent(latest && r[latest], del && r[del])) continue;
      yield {
        uri: s3Uri(String(r[bucket]), String(r[key])),
        size: size && r[size] != null ? Number(r[size]) : undefined,
        etag: etag && r[etag] != null ? String(r[etag]) : undefined,
      };
    }
  }
}
