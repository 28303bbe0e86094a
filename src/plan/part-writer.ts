import fs from 'node:fs';
import { UserError } from '../errors.js';
import { inventoryColumns, decodeInventoryKey, parseInventoryLines, type InventoryColumns, type InventoryFields } from '../manifest/inventory-csv.js';
import { Readable } from 'node:stream';
import { lineChunks } from '../manifest/line-chunks.js';
import { s3Uri } from '../storage/uri.js';
import { isImageKeyBytes, isImageUri } from './filter.js';
import { keyNeedsDecoding, LineBytes, plainByte } from './line-bytes.js';
import { encodeShardLine } from '../rundir/shard-line.js';
import { NativeStop, nativeLines, type NativeLineState } from './native-lines.js';

/** One Inventory data file to turn into shard lines on local disk. */
export interface PartTask {
  uri: string;
  format: 'csv' | 'parquet';
  /** The manifest's fileSchema (CSV only). */
  schema: string;
  sourceBucket?: string;
  /** Local file the image rows go to, as shard lines in the data file's order. */
  out: string;
}

/** rows: current objects read; images: lines written; skipped: not images. */
export interface PartCounts {
  rows: number;
  images: number;
  skipped: number;
  /** The images' sizes, summed (rows without a size add nothing). */
  bytes: number;
  /** Images plan's filters left out (--include, --exclude, --min-bytes, ...). */
  filtered?: number;
}

const DIGITS = /^\d{1,16}$/;
const URI_OPEN = Buffer.from('{"uri":"s3://');
const SLASH = Buffer.from('/');
const QUOTE = Buffer.from('"');
const SIZE = Buffer.from(',"size":');
const ETAG = Buffer.from(',"etag":"');
const CLOSE = Buffer.from('}\n');

/** `{"uri":"s3://<bucket>/` for the bucket of the last line: its bytes, and whether a line's bucket is it. */
class UriPrefix {
  bytes = Buffer.alloc(0);
  private bucket = Buffer.alloc(0);

  matches(buf: Uint8Array, from: number, to: number): boolean {
    const b = this.bucket;
    if (to - from !== b.length) return false;
    for (let i = 0; i < b.length; i++) if (buf[from + i] !== b[i]) return false;
    return true;
  }

  /** Take this line's bucket; false when it needs JSON escaping (the string path then writes the line). */
  set(buf: Uint8Array, from: number, to: number): boolean {
    for (let i = from; i < to; i++) if (!plainByte(buf[i]!)) return false;
    this.bucket = Buffer.from(buf.subarray(from, to));
    this.bytes = Buffer.concat([URI_OPEN, this.bucket, SLASH]);
    return true;
  }
}

/** Shard lines of a data file's image rows, in order, assembled in a byte buffer; counts what it saw. */
class PartLines {
  readonly counts: PartCounts = { rows: 0, images: 0, skipped: 0, bytes: 0 };
  readonly out: LineBytes;
  private readonly prefix = new UriPrefix();

  constructor(
    private readonly where: string,
    write: (bytes: Buffer) => void,
  ) {
    this.out = new LineBytes(write);
  }

  /** A row as strings: the general path (Parquet rows, keys that need decoding or escaping). */
  add(uri: string, size: string, etag: string): void {
    this.counts.rows++;
    if (!isImageUri(uri)) {
      this.counts.skipped++;
      return;
    }
    if (size !== '' && !DIGITS.test(size)) throw new UserError(`${this.where}: size "${size}" of ${uri} is not a byte count`);
    this.counts.images++;
    if (size !== '') this.counts.bytes += Number(size);
    const line = encodeShardLine(uri, size, etag);
    this.out.reserve(Buffer.byteLength(line));
    this.out.pos += this.out.buf.write(line, this.out.pos);
  }

  /**
   * A CSV row straight from its bytes: a key with nothing to decode or escape (most of them) is
   * copied into `{"uri":"s3://bucket/key","size":N,"etag":"E"}` as it is; any other row takes `add`.
   */
  addCsv(f: InventoryFields, c: InventoryColumns): void {
    const buf = f.buf;
    const ka = f.start(c.key);
    const kb = f.end(c.key);
    // An escape that can change the extension ("x%2Ejpeg", "a%2F.jpg") is judged on the decoded key, by the string path.
    if (keyNeedsDecoding(buf, ka, kb)) return this.addDecoded(f, c);
    if (!isImageKeyBytes(buf, ka, kb)) {
      this.counts.rows++;
      this.counts.skipped++;
      return;
    }
    const ba = f.start(c.bucket);
    const bb = f.end(c.bucket);
    const sa = f.start(c.size);
    const sb = f.end(c.size);
    const ea = f.start(c.etag);
    const eb = f.end(c.etag);
    const o = this.out;
    o.reserve(40 + (bb - ba) + (kb - ka) + (sb - sa) + (eb - ea));
    const mark = o.pos;
    // `{"uri":"s3://bucket/`, made once per bucket: a data file names one bucket on every line.
    let ok = this.prefix.matches(buf, ba, bb) || this.prefix.set(buf, ba, bb);
    if (ok) o.put(this.prefix.bytes);
    ok = ok && o.copyKey(buf, ka, kb);
    o.put(QUOTE);
    if (ok && sb > sa) {
      o.put(SIZE);
      ok = o.copyDigits(buf, sa, sb);
    }
    if (ok && eb > ea) {
      o.put(ETAG);
      ok = o.copyPlain(buf, ea, eb);
      o.put(QUOTE);
    }
    if (ok) {
      o.put(CLOSE);
      this.counts.rows++;
      this.counts.images++;
      // The size's digits were checked by copyDigits.
      let size = 0;
      for (let i = sa; i < sb; i++) size = size * 10 + buf[i]! - 48;
      this.counts.bytes += size;
      return;
    }
    o.pos = mark;
    this.addDecoded(f, c);
  }

  /** The string path for a CSV row. */
  private addDecoded(f: InventoryFields, c: InventoryColumns): void {
    this.add(s3Uri(f.text(c.bucket), decodeInventoryKey(f.text(c.key))), f.text(c.size), f.text(c.etag));
  }

}

/** The end of the line at `pos`, its newline included. */
const lineAfter = (chunk: Buffer, pos: number) => {
  const nl = chunk.indexOf(10, pos);
  return nl < 0 ? chunk.length : nl + 1;
};

/**
 * A chunk's lines through the native path, where it is built: the same bytes as addCsv at a fifth of
 * the CPU. The file's first line (checked against the fileSchema) and any line the native path
 * declines go through JavaScript, one line at a time.
 */
function nativeChunk(chunk: Buffer, first: boolean, native: NativeLineState, lines: PartLines, where: string, row: (f: InventoryFields) => void, cols: InventoryColumns): void {
  native.pos = first ? lineAfter(chunk, 0) : 0;
  if (first) parseInventoryLines(chunk.subarray(0, native.pos), cols, where, true, row);
  const out = lines.out;
  while (native.pos < chunk.length) {
    const { stop, outPos } = native.run(chunk, out.buf, out.pos);
    out.pos = outPos;
    if (stop === NativeStop.OutFull) {
      // Flushed; a line longer than the whole buffer gets a larger one.
      const empty = out.pos === 0;
      out.flush();
      if (empty) out.reserve(lineAfter(chunk, native.pos) - native.pos + 64);
    } else if (stop === NativeStop.Declined) {
      const next = lineAfter(chunk, native.pos);
      parseInventoryLines(chunk.subarray(native.pos, next), cols, where, false, row);
      native.pos = next;
    }
  }
}

async function csvPart(task: PartTask, lines: PartLines, bytes: AsyncIterable<Buffer>): Promise<void> {
  const cols = inventoryColumns(task.schema, task.sourceBucket);
  const row = (f: InventoryFields) => lines.addCsv(f, cols);
  const native = nativeLines(cols);
  let first = true;
  for await (const chunk of lineChunks(Readable.from(bytes), task.uri)) {
    if (native) nativeChunk(chunk, first, native, lines, task.uri, row, cols);
    else parseInventoryLines(chunk, cols, task.uri, first, row);
    first = false;
  }
  if (native) {
    lines.counts.rows += native.rows;
    lines.counts.images += native.images;
    lines.counts.skipped += native.skipped;
    lines.counts.bytes += native.bytes;
  }
}

async function parquetPart(task: PartTask, lines: PartLines): Promise<void> {
  // Loaded only for a Parquet report: hyparquet is a third of a planning thread's start-up.
  const { readInventoryParquet } = await import('../manifest/inventory-parquet.js');
  for await (const page of readInventoryParquet(task.uri)) {
    for (const r of page) lines.add(r.uri, r.size === undefined ? '' : String(r.size), r.etag ?? '');
  }
}

/**
 * Read one data file and write its image rows as shard lines to `task.out`: a CSV file from `csvBytes`
 * (its bytes as stored, gzip or not), a Parquet one by ranged reads of its own. The writes are
 * synchronous: this runs on a thread of its own, and the thread pool is left to inflating.
 */
export async function writePart(task: PartTask, csvBytes?: AsyncIterable<Buffer>): Promise<PartCounts> {
  if (task.format === 'csv' && !csvBytes) throw new Error(`${task.uri}: a CSV part needs its bytes`);
  const fd = fs.openSync(task.out, 'w');
  const lines = new PartLines(task.uri, (bytes) => {
    for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at);
  });
  try {
    await (csvBytes ? csvPart(task, lines, csvBytes) : parquetPart(task, lines));
    lines.out.flush();
  } finally {
    fs.closeSync(fd);
  }
  return lines.counts;
}
