import fs from 'node:fs';
import { UserError } from '../errors.js';
import { inventoryColumns, decodeInventoryKey, parseInventoryLines, type InventoryColumns, type InventoryFields } from '../manifest/inventory-csv.js';
import { readInventoryParquet } from '../manifest/inventory.js';
import { manifestChunks } from '../manifest/lines.js';
import { s3Uri } from '../storage/uri.js';
import { isImageKeyBytes, isImageUri } from './filter.js';
import { LineBytes } from './line-bytes.js';
import { encodeShardLine } from './shard-file.js';

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
}

const DIGITS = /^\d{1,16}$/;
const URI_OPEN = Buffer.from('{"uri":"s3://');
const SLASH = Buffer.from('/');
const QUOTE = Buffer.from('"');
const SIZE = Buffer.from(',"size":');
const ETAG = Buffer.from(',"etag":"');
const CLOSE = Buffer.from('}\n');
const PERCENT = 0x25;
const PLUS = 0x2b;

/** Shard lines of a data file's image rows, in order, assembled in a byte buffer; counts what it saw. */
class PartLines {
  readonly counts: PartCounts = { rows: 0, images: 0, skipped: 0 };
  readonly out: LineBytes;

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
    const [ka, kb] = [f.start(c.key), f.end(c.key)];
    if (!isImageKeyBytes(buf, ka, kb)) {
      this.counts.rows++;
      this.counts.skipped++;
      return;
    }
    const [ba, bb, sa, sb, ea, eb] = [f.start(c.bucket), f.end(c.bucket), f.start(c.size), f.end(c.size), f.start(c.etag), f.end(c.etag)];
    const o = this.out;
    o.reserve(40 + (bb - ba) + (kb - ka) + (sb - sa) + (eb - ea));
    const mark = o.pos;
    o.put(URI_OPEN);
    let ok = o.copyPlain(buf, ba, bb);
    o.put(SLASH);
    ok = ok && o.copyPlain(buf, ka, kb, PERCENT, PLUS);
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
      return;
    }
    o.pos = mark;
    this.add(s3Uri(f.text(c.bucket), decodeInventoryKey(f.text(c.key))), f.text(c.size), f.text(c.etag));
  }

}

async function csvPart(task: PartTask, lines: PartLines): Promise<void> {
  const cols = inventoryColumns(task.schema, task.sourceBucket);
  const row = (f: InventoryFields) => lines.addCsv(f, cols);
  for await (const chunk of manifestChunks(task.uri)) parseInventoryLines(chunk, cols, task.uri, row);
}

async function parquetPart(task: PartTask, lines: PartLines): Promise<void> {
  for await (const page of readInventoryParquet(task.uri)) {
    for (const r of page) lines.add(r.uri, r.size === undefined ? '' : String(r.size), r.etag ?? '');
  }
}

/**
 * Read one data file and write its image rows as shard lines to `task.out`. The writes are
 * synchronous: this runs on a thread of its own, and the thread pool is left to inflating.
 */
export async function writePart(task: PartTask): Promise<PartCounts> {
  const fd = fs.openSync(task.out, 'w');
  const lines = new PartLines(task.uri, (bytes) => {
    for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at);
  });
  try {
    await (task.format === 'csv' ? csvPart(task, lines) : parquetPart(task, lines));
    lines.out.flush();
  } finally {
    fs.closeSync(fd);
  }
  return lines.counts;
}
