import { Field, FixedSizeList, Float32, Int32, Int64, List, Struct, Table, TimeUnit, Timestamp, Utf8, tableToIPC, vectorFromArray, type DataType, type Vector } from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import type { ModelColumns, Provenance, ResultRow } from './rows.js';

const tagType = new Struct([new Field('label', new Utf8(), false), new Field('score', new Float32(), false)]);
const errorType = new Struct([new Field('stage', new Utf8(), false), new Field('message', new Utf8(), false)]);

/**
 * The result schema: plain types, lists of structs and fixed-size float vectors, so DuckDB, Spark,
 * Athena and pyarrow read it as is. Per model, in order of name: model id, tags and/or embedding
 * columns. Then the error, and the provenance every row carries.
 */
export function resultsTable(rows: ResultRow[], layout: ModelColumns[], prov: Provenance): Table {
  const col = (values: unknown[], type: DataType): Vector => vectorFromArray(values as never[], type);
  const columns: Record<string, Vector> = {
    key: col(rows.map((r) => r.key), new Utf8()),
    bucket: col(rows.map((r) => r.bucket), new Utf8()),
    etag: col(rows.map((r) => r.etag), new Utf8()),
    size: col(rows.map((r) => (r.size === null ? null : BigInt(r.size))), new Int64()),
    width: col(rows.map((r) => r.width), new Int32()),
    height: col(rows.map((r) => r.height), new Int32()),
  };
  const byName = layout.map((m, i) => ({ m, i })).sort((a, b) => (a.m.name < b.m.name ? -1 : a.m.name > b.m.name ? 1 : 0));
  for (const { m, i } of byName) {
    columns[`model_${m.name}`] = col(rows.map((r) => r.models[i]!.model), new Utf8());
    if (m.tags) columns[`tags_${m.name}`] = col(rows.map((r) => r.models[i]!.tags), new List(new Field('element', tagType, false)));
    if (m.embedding !== undefined) {
      const type = new FixedSizeList(m.embedding, new Field('element', new Float32(), false));
      columns[`embedding_${m.name}`] = col(rows.map((r) => (r.models[i]!.embedding ? Array.from(r.models[i]!.embedding!) : null)), type);
    }
  }
  columns.error = col(rows.map((r) => r.error), errorType);
  columns.run_id = col(rows.map(() => prov.runId), new Utf8());
  columns.tagged_at = col(rows.map(() => prov.taggedAt.getTime()), new Timestamp(TimeUnit.MILLISECOND, 'UTC'));
  return new Table(columns);
}

/** Arrow -> Parquet with zstd, in memory: a shard's results are written by one PUT. */
export function resultsParquet(rows: ResultRow[], layout: ModelColumns[], prov: Provenance): Uint8Array {
  const wasmTable = WasmTable.fromIPCStream(tableToIPC(resultsTable(rows, layout, prov), 'stream'));
  const props = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).setCreatedBy('imgtag').build();
  return writeParquet(wasmTable, props);
}
