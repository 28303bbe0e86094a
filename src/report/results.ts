import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { readBytes } from '../storage/storage.js';
import type { ModelResult, ResultRow } from '../output/rows.js';

/** Read one shard's Parquet back (hyparquet: a reader independent of the writer); every model's columns. */
export async function readResults(uri: string): Promise<ResultRow[]> {
  const buf = await readBytes(uri);
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  const rows = (await parquetReadObjects({ file, compressors })) as Record<string, unknown>[];
  const suffixes = rows.length === 0 ? [] : Object.keys(rows[0]!).filter((c) => /^model(_|$)/.test(c)).map((c) => c.slice('model'.length));
  return rows.map((r) => ({
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
  }));
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
