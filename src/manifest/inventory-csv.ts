import { parse } from 'csv-parse/sync';
import { UserError } from '../errors.js';

/** Where the fields a plan needs sit in an Inventory CSV line (-1: not in this inventory's schema). */
export interface InventoryColumns {
  schema: string;
  bucket: number;
  key: number;
  size: number;
  etag: number;
  latest: number;
  deleteMarker: number;
  /** The highest of those indexes: a line needs at least this many fields plus one. */
  last: number;
  /** How many columns the fileSchema names: every line has exactly this many. */
  count: number;
  /** manifest.json's sourceBucket, when it names one: the Bucket column holds it. */
  sourceBucket?: string;
}

export function inventoryColumns(fileSchema: string, sourceBucket?: string): InventoryColumns {
  const names = fileSchema.split(',').map((c) => c.trim().toLowerCase());
  const at = (name: string) => names.indexOf(name);
  const cols = { schema: fileSchema, bucket: at('bucket'), key: at('key'), size: at('size'), etag: at('etag'), latest: at('islatest'), deleteMarker: at('isdeletemarker') };
  if (cols.bucket < 0 || cols.key < 0) throw new UserError(`inventory fileSchema "${fileSchema}" has no Bucket and Key columns`);
  return { ...cols, last: Math.max(cols.bucket, cols.key, cols.size, cols.etag, cols.latest, cols.deleteMarker), count: names.length, sourceBucket };
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * The first line of each chunk, read whole, against the fileSchema: the same number of fields, a
 * bucket name where Bucket is, a number where Size is. A schema that does not describe the data (a
 * short one, columns in another order) would otherwise misread every line: keys that are bucket
 * names (every object "deleted"), or ETags and sizes silently dropped (everything re-tagged).
 */
function checkSchema(rec: string[], cols: InventoryColumns, where: string): void {
  const wrong = (what: string) => new UserError(`${where}: ${what}: the manifest's fileSchema "${cols.schema}" does not describe this data (check its column order and count)`);
  if (rec.length !== cols.count) throw wrong(`lines have ${rec.length} fields, the fileSchema names ${cols.count}`);
  const bucket = rec[cols.bucket] ?? '';
  if (cols.sourceBucket ? bucket !== cols.sourceBucket : !BUCKET_NAME.test(bucket)) {
    throw wrong(`the Bucket column holds "${bucket.slice(0, 80)}", not ${cols.sourceBucket ? `the inventoried bucket ${cols.sourceBucket}` : 'a bucket name'}`);
  }
  if (cols.size >= 0 && !/^\d*$/.test(rec[cols.size] ?? '')) throw wrong(`the Size column holds "${(rec[cols.size] ?? '').slice(0, 80)}", not a number`);
}

/**
 * The fields of one current object's line, as byte ranges of `buf` (the key still URL-encoded):
 * a reader turns into strings only what it needs. `start(i)`/`end(i)` of a column not in the
 * inventory's schema (index -1) are both 0: an empty field.
 */
export class InventoryFields {
  buf: Buffer = Buffer.alloc(0);
  readonly bounds: Int32Array;

  constructor(last: number) {
    this.bounds = new Int32Array(2 * (last + 1));
  }

  start(i: number): number {
    return i < 0 ? 0 : this.bounds[2 * i]!;
  }

  end(i: number): number {
    return i < 0 ? 0 : this.bounds[2 * i + 1]!;
  }

  text(i: number): string {
    return i < 0 ? '' : this.buf.toString('utf8', this.bounds[2 * i], this.bounds[2 * i + 1]);
  }

  /** The field is `word` (lower case, ASCII) in any case. */
  is(i: number, word: string): boolean {
    const a = this.start(i);
    if (i < 0 || this.end(i) - a !== word.length) return false;
    for (let k = 0; k < word.length; k++) if ((this.buf[a + k]! | 0x20) !== word.charCodeAt(k)) return false;
    return true;
  }

  /** Point at fields csv-parse read from a line of another shape. */
  setParsed(fields: string[], last: number): void {
    const parts = fields.slice(0, last + 1).map((f) => Buffer.from(f, 'utf8'));
    this.buf = Buffer.concat(parts);
    let at = 0;
    parts.forEach((p, i) => {
      this.bounds[2 * i] = at;
      this.bounds[2 * i + 1] = at += p.length;
    });
  }
}

export type InventoryRowSink = (fields: InventoryFields) => void;

const QUOTE = 34;
const COMMA = 44;
const CR = 13;
const LF = 10;

/**
 * Field bounds of one line, up to field `last`, found byte by byte: S3 writes every field in double
 * quotes, empty ones as "", and URL-encodes keys, so no field holds a quote. When the first
 * `last + 1` fields are quoted and hold no quote, that prefix reads the same under any CSV parser,
 * whatever follows it, and only those fields are ever turned into strings. Returns false for a line
 * of any other shape (unquoted, escaped quotes, too few fields): it then goes to csv-parse.
 */
function fieldBounds(buf: Buffer, start: number, end: number, last: number, bounds: Int32Array): boolean {
  if (buf[start] !== QUOTE) return false;
  let field = 0;
  let from = start + 1;
  for (let p = from; p < end; p++) {
    // The next quote, found natively: fields are tens of bytes, and no field holds a quote.
    p = buf.indexOf(QUOTE, p);
    if (p < 0 || p >= end) return false;
    const closesLine = p + 1 === end;
    if (!closesLine && (buf[p + 1] !== COMMA || buf[p + 2] !== QUOTE)) return false;
    bounds[2 * field] = from;
    bounds[2 * field + 1] = p;
    if (++field > last) return true;
    if (closesLine) return false;
    p += 2;
    from = p + 1;
  }
  return false;
}

/**
 * Parse whole lines of an Inventory CSV (a chunk that ends at a line end) and pass on every current
 * object: versions that are not the latest, and delete markers, are left out. Returns the lines read.
 * `where` names the file in errors. `checkFirst`: the first line is checked against the fileSchema
 * (the first chunk of a data file; once a file is enough, and csv-parse's set-up costs a millisecond).
 */
export function parseInventoryLines(buf: Buffer, cols: InventoryColumns, where: string, checkFirst: boolean, sink: InventoryRowSink): number {
  const fields = new InventoryFields(cols.last);
  let lines = 0;
  let pos = 0;
  while (pos < buf.length) {
    let nl = buf.indexOf(LF, pos);
    if (nl < 0) nl = buf.length;
    const end = nl > pos && buf[nl - 1] === CR ? nl - 1 : nl;
    if (end > pos) {
      if (lines === 0 && checkFirst) checkSchema((parse(buf.toString('utf8', pos, end), { relax_column_count: true }) as string[][])[0] ?? [], cols, where);
      lines++;
      fields.buf = buf;
      if (!fieldBounds(buf, pos, end, cols.last, fields.bounds)) {
        const rec = (parse(buf.toString('utf8', pos, end), { relax_column_count: true }) as string[][])[0] ?? [];
        if (rec.length <= Math.max(cols.bucket, cols.key)) throw new UserError(`${where}: a line has ${rec.length} fields, too few for fileSchema "${cols.schema}"`);
        while (rec.length <= cols.last) rec.push('');
        fields.setParsed(rec, cols.last);
      }
      if (!fields.is(cols.latest, 'false') && !fields.is(cols.deleteMarker, 'true')) sink(fields);
    }
    pos = nl + 1;
  }
  return lines;
}

/** Inventory CSV keys are form-URL-encoded: "+" is a space, "%2B" a plus. */
export function decodeInventoryKey(key: string): string {
  const spaced = key.includes('+') ? key.replaceAll('+', ' ') : key;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    throw new UserError(`Inventory key "${key}" is not URL-encoded as S3 writes it`);
  }
}
