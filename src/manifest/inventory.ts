import { UserError } from '../errors.js';
import { readText } from '../storage/storage.js';
import { s3Uri } from '../storage/uri.js';
import { manifestChunks } from './lines.js';
import { decodeInventoryKey, inventoryColumns, parseInventoryLines } from './inventory-csv.js';

export { decodeInventoryKey } from './inventory-csv.js';
import type { ManifestRow } from './types.js';

/** The parts of an S3 Inventory `manifest.json` this reader needs. */
interface InventoryManifest {
  destinationBucket: string;
  fileFormat: string;
  fileSchema: string;
  sourceBucket?: string;
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

/** An Inventory report's data files, in the manifest's order, and how to read them. */
export interface InventoryFiles {
  format: 'csv' | 'parquet';
  schema: string;
  /** The inventoried bucket (manifest.json's sourceBucket): every line's Bucket field is it. */
  sourceBucket?: string;
  files: string[];
}

/** Read manifest.json; an unsupported format is refused here, before any data file is read. */
export async function inventoryFiles(manifestUri: string): Promise<InventoryFiles> {
  const manifest = await loadInventoryManifest(manifestUri);
  const format = manifest.fileFormat.toLowerCase();
  if (format !== 'csv' && format !== 'parquet') {
    throw new UserError(`S3 Inventory format ${manifest.fileFormat} is not supported: configure the inventory as CSV or Parquet`);
  }
  const dest = bucketOf(manifest.destinationBucket);
  return { format, schema: manifest.fileSchema, sourceBucket: manifest.sourceBucket, files: manifest.files.map((f) => s3Uri(dest, f.key)) };
}

/** Stream the rows of an S3 Inventory report: manifest.json, then each CSV.gz or Parquet data file in order. */
export async function* readInventory(manifestUri: string): AsyncGenerator<ManifestRow[]> {
  const inv = await inventoryFiles(manifestUri);
  for (const dataUri of inv.files) {
    if (inv.format === 'csv') yield* readInventoryCsv(dataUri, inv.schema, inv.sourceBucket);
    // Loaded only for a Parquet report: hyparquet is a third of a planning thread's start-up.
    else yield* (await import('./inventory-parquet.js')).readInventoryParquet(dataUri);
  }
}

async function* readInventoryCsv(dataUri: string, fileSchema: string, sourceBucket?: string): AsyncGenerator<ManifestRow[]> {
  const cols = inventoryColumns(fileSchema, sourceBucket);
  let first = true;
  for await (const chunk of manifestChunks(dataUri)) {
    const rows: ManifestRow[] = [];
    parseInventoryLines(chunk, cols, dataUri, first, (f) => {
      const size = f.text(cols.size);
      rows.push({ uri: s3Uri(f.text(cols.bucket), decodeInventoryKey(f.text(cols.key))), size: size ? Number(size) : undefined, etag: f.text(cols.etag) || undefined });
    });
    first = false;
    yield rows;
  }
}
