import { Field, Float32, Int32, Int64, List, Struct, Table, Utf8, tableToIPC, vectorFromArray } from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import type { ResultRow } from './rows.js';

const tagType = new Struct([new Field('label', new Utf8(), false), new Field('score', new Float32(), false)]);
const errorType = new Struct([new Field('stage', new Utf8(), false), new Field('message', new Utf8(), false)]);

/** The result schema: plain types and one list of structs, so DuckDB, Spark, Athena and pyarrow read it as is. */
export const RESULT_COLUMNS = {
  key: new Utf8(),
  bucket: new Utf8(),
  etag: new Utf8(),
  size: new Int64(),
  width: new Int32(),
  height: new Int32(),
  model: new Utf8(),
  tags: new List(new Field('element', tagType, false)),
  error: errorType,
} as const;

export function resultsTable(rows: ResultRow[]): Table {
  const column = <K extends keyof ResultRow>(name: K) =>
    vectorFromArray(
      rows.map((r) => (name === 'size' && r.size !== null ? BigInt(r.size) : r[name])) as never[],
      RESULT_COLUMNS[name],
    );
  return new Table({
    key: column('key'),
    bucket: column('bucket'),
    etag: column('etag'),
    size: column('size'),
    width: column('width'),
    height: column('height'),
    model: column('model'),
    tags: column('tags'),
    error: column('error'),
  });
}

/** Arrow -> Parquet with zstd, in memory: a shard's results are written by one PUT. */
export function resultsParquet(rows: ResultRow[]): Uint8Array {
  const wasmTable = WasmTable.fromIPCStream(tableToIPC(resultsTable(rows), 'stream'));
  const props = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).setCreatedBy('imgtag').build();
  return writeParquet(wasmTable, props);
}
