import type { ManifestRow } from '../manifest/index.js';
import { resultFiles } from '../compact/result-files.js';
import { readResultPages } from '../report/results.js';
import { s3Uri } from '../storage/uri.js';
import { loadPlan } from './plan-file.js';
import { encodeShardRow } from './shard-file.js';
import { shardOf } from './shard-sink.js';
import { PartitionedSpill } from './spill.js';

/** Rows per partition of the join, so memory stays bounded however many images earlier runs tagged. */
const PARTITION_ROWS = 1_000_000;

/** The run and its ancestors, newest first (plan.json `parent` links). */
async function lineage(run: string): Promise<{ run: string; images: number }[]> {
  const out: { run: string; images: number }[] = [];
  for (let r: string | undefined = run; r !== undefined && !out.some((x) => x.run === r); ) {
    const plan = await loadPlan(r);
    out.push({ run: r, images: plan.counts.images });
    r = plan.parent;
  }
  return out;
}

/** Objects match on URI and ETag, and on the models that tagged them when `models` is given. */
const seenKey = (uri: string, etag: string, models: string[] | undefined) => JSON.stringify(models ? [uri, etag, [...models].sort()] : [uri, etag]);

/**
 * Leave out rows whose URI and ETag were tagged without error by `since` or its ancestors: an
 * external hash join, earlier rows and new rows spilled into the same partitions on local disk.
 * Rows without an ETag cannot be matched and are kept. With `models` (ids, in column order), rows
 * tagged by other model bytes count as not tagged: a new model version re-tags everything.
 * `onUnchanged` counts what was left out.
 */
export async function* excludeTagged(
  pages: AsyncIterable<ManifestRow[]>,
  since: string,
  onUnchanged: () => void,
  models?: string[],
): AsyncGenerator<ManifestRow[]> {
  const runs = await lineage(since);
  const partitions = Math.max(1, Math.ceil(runs.reduce((n, r) => n + r.images, 0) / PARTITION_ROWS));
  const seen = await PartitionedSpill.create(partitions);
  const fresh = await PartitionedSpill.create(partitions);
  try {
    for (const { run } of runs) {
      for (const file of await resultFiles(run)) {
        for await (const page of readResultPages(file, { tags: false })) {
          for (const r of page) {
            if (r.error || r.etag === null) continue;
            const uri = r.bucket === null ? r.key : s3Uri(r.bucket, r.key);
            const ids = models && r.models.map((m) => m.model);
            await seen.add(shardOf(uri, partitions), seenKey(uri, r.etag, ids) + '\n');
          }
        }
      }
    }
    await seen.flush();
    for await (const page of pages) for (const row of page) await fresh.add(shardOf(row.uri, partitions), encodeShardRow(row));
    await fresh.flush();
    for (let p = 0; p < partitions; p++) {
      const tagged = new Set(await seen.lines(p));
      const kept: ManifestRow[] = [];
      for (const line of await fresh.lines(p)) {
        const row = JSON.parse(line) as ManifestRow;
        if (row.etag !== undefined && tagged.has(seenKey(row.uri, row.etag, models))) onUnchanged();
        else kept.push(row);
      }
      yield kept;
    }
  } finally {
    await seen.remove();
    await fresh.remove();
  }
}
