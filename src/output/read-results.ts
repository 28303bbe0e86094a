import { parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { UserError, errorMessage } from '../errors.js';
import { rangedBuffer } from '../storage/ranged-buffer.js';
import type { ModelResult, ResultRow } from './rows.js';

/** The models whose columns a results file has: `model_<name>` (and, in files from before named columns, `model`, `model_<name>`). */
function modelNames(columns: string[]): string[] {
  return columns.filter((c) => /^model(_|$)/.test(c)).map((c) => c.slice('model'.length));
}

function toRow(r: Record<string, unknown>, suffixes: string[]): ResultRow {
  return {
    key: r.key as string,
    bucket: (r.bucket as string | null) ?? null,
    etag: (r.etag as string | null) ?? null,
    size: r.size == null ? null : Number(r.size),
    width: (r.width as number | null) ?? null,
    height: (r.height as number | null) ?? null,
    models: suffixes.map(
      (s): ModelResult => ({
        model: r[`model${s}`] as string,
        tags: (r[`tags${s}`] as ModelResult['tags']) ?? null,
        embedding: (r[`embedding${s}`] as number[] | undefined) ?? null,
      }),
    ),
    error: (r.error as ResultRow['error']) ?? null,
  };
}

/**
 * A results file's rows one row group at a time, by ranged reads (hyparquet: a reader independent of
 * the writer), so a 256 MB compacted file is never in memory whole. `tags: false` leaves
 * the tags and embedding columns unread (model ids are always read).
 */
export async function* readResultPages(uri: string, opts: { tags?: boolean } = {}): AsyncGenerator<ResultRow[]> {
  let file, metadata;
  try {
    file = await rangedBuffer(uri);
    metadata = await parquetMetadataAsync(file);
  } catch (e) {
    throw new UserError(`${uri} is not a readable Parquet file (${errorMessage(e)})`);
  }
  const all = parquetSchema(metadata).children.map((c) => c.element.name);
  const suffixes = modelNames(all);
  const wanted = opts.tags === false ? all.filter((c) => !/^(tags|embedding)(_|$)/.test(c)) : undefined;
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    const rows = (await parquetReadObjects({ file, metadata, columns: wanted, rowStart, rowEnd, compressors })) as Record<string, unknown>[];
    rowStart = rowEnd;
    yield rows.map((r) => toRow(r, suffixes));
  }
}

/** Every row of one results file (a shard's, or a small run's): for summaries and tests. */
export async function readResults(uri: string): Promise<ResultRow[]> {
  const out: ResultRow[] = [];
  for await (const page of readResultPages(uri)) out.push(...page);
  return out;
}

/** The most frequent best tags of the first model, for a one-screen summary. */
export function topLabels(rows: ResultRow[], n: number): { label: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const r of rows) {
    const best = r.models[0]?.tags?.[0]?.label;
    if (best !== undefined) counts.set(best, (counts.get(best) ?? 0) + 1);
  }
  return [...counts.entries()]
    .map(([label, count]) => ({ label, count }))
    .sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : 1))
    .slice(0, n);
}
