import { parse } from 'csv-parse/sync';
import { parquetMetadataAsync, parquetReadObjects, cachedAsyncBuffer } from 'hyparquet';
import { rangedBuffer } from '../storage/ranged-buffer.js';
import { compressors } from 'hyparquet-compressors';
import { UserError } from '../errors.js';
import { readText } from '../storage/storage.js';
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
  const spaced = key.includes('+') ? key.replaceAll('+', ' ') : key;
  return spaced.includes('%') ? decodeURIComponent(spaced) : spaced;
}

/** A row is current unless the inventory includes versions and says otherwise. */
function isCurrent(isLatest: unknown, isDeleteMarker: unknown): boolean {
  return String(isLatest ?? 'true').toLowerCase() !== 'false' && String(isDeleteMarker ?? 'false').toLowerCase() !== 'true';
}

/** Stream the rows of an S3 Inventory report: manifest.json, then each CSV.gz or Parquet data file in order. */
export async function* readInventory(manifestUri: string): AsyncGenerator<ManifestRow[]> {
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

/**
 * One Inventory CSV line's fields. S3 writes every field in double quotes and URL-encodes keys, so
 * a field never holds a quote, comma or newline: the fields are what lies between '","'. A line
 * of any other shape goes to csv-parse, so a hand-edited file still reads correctly.
 */
function inventoryFields(line: string): string[] {
  if (line.length >= 2 && line.charCodeAt(0) === 34 && line.charCodeAt(line.length - 1) === 34 && !line.includes('""')) {
    return line.slice(1, -1).split('","');
  }
  return (parse(line, { relax_column_count: true }) as string[][])[0] ?? [];
}

async function* readInventoryCsv(dataUri: string, fileSchema: string): AsyncGenerator<ManifestRow[]> {
  const columns = fileSchema.split(',').map((c) => c.trim().toLowerCase());
  const col = (name: string) => columns.indexOf(name);
  const [iBucket, iKey, iSize, iEtag, iLatest, iDelete] = ['bucket', 'key', 'size', 'etag', 'islatest', 'isdeletemarker'].map(col);
  if (iBucket === undefined || iKey === undefined || iBucket < 0 || iKey < 0) {
    throw new UserError(`inventory fileSchema "${fileSchema}" has no Bucket and Key columns`);
  }
  const at = (rec: string[], i: number | undefined) => (i === undefined || i < 0 ? undefined : rec[i]);
  const toRow = (line: string): ManifestRow | undefined => {
    const rec = inventoryFields(line);
    if (rec[iBucket] === undefined || rec[iKey] === undefined) throw new UserError(`${dataUri}: a line has ${rec.length} fields, too few for fileSchema "${fileSchema}"`);
    if (!isCurrent(at(rec, iLatest), at(rec, iDelete))) return undefined;
    const size = at(rec, iSize);
    return { uri: s3Uri(rec[iBucket]!, decodeInventoryKey(rec[iKey]!)), size: size ? Number(size) : undefined, etag: at(rec, iEtag) || undefined };
  };
  const stream = await openManifestStream(dataUri);
  stream.setEncoding('utf8');
  let rest = '';
  const page = (text: string) => {
    const rows: ManifestRow[] = [];
    for (const l of text.split('\n')) {
      const line = l.endsWith('\r') ? l.slice(0, -1) : l;
      const row = line === '' ? undefined : toRow(line);
      if (row) rows.push(row);
    }
    return rows;
  };
  // One page per decompressed chunk; the last, partial line waits for the next chunk.
  for await (const chunk of stream as AsyncIterable<string>) {
    const text = rest + chunk;
    const end = text.lastIndexOf('\n');
    rest = text.slice(end + 1);
    if (end >= 0) yield page(text.slice(0, end));
  }
  if (rest !== '') yield page(rest);
}

async function* readInventoryParquet(dataUri: string): AsyncGenerator<ManifestRow[]> {
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
