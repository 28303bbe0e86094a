import os from 'node:os';
import pLimit from 'p-limit';
import { packBatch } from '../batch/pack.js';
import { decodeImage, decodeStats, distinctTargets, type DecodeTarget } from '../decode/decode.js';
import { errorMessage, UserError } from '../errors.js';
import type { Classifier } from '../infer/session.js';
import type { ManifestRow } from '../manifest/index.js';
import { columnName } from '../model/spec.js';
import { readCommit, writeCommit, type CommitMarker } from '../output/commit.js';
import { resultsParquet } from '../output/parquet.js';
import type { ErrorStage, ModelColumns, ResultRow } from '../output/rows.js';
import { readShardFile } from '../plan/shard-file.js';
import { runLayout } from '../run-dir.js';
import { s3Stats } from '../storage/s3-client.js';
import { readObject, writeBytes } from '../storage/storage.js';
import { parseUri } from '../storage/uri.js';
import { acquireLease } from '../lease/lease.js';
import { mapOrdered } from './ordered.js';
import { StageClock } from './stage-clock.js';

export interface ShardOptions {
  /** Images per model call. */
  batchSize: number;
  /** S3 GETs in flight. */
  concurrency: number;
  maxPixels: number;
}

/** tagged: done now; committed: done before, skipped; leased: another worker holds it right now. */
export type ShardOutcome =
  | { status: 'tagged' | 'committed'; marker: CommitMarker }
  | { status: 'leased' };

/** The models of a run, loaded, with what the shard loop needs to know about them. */
export interface ModelSet {
  classifiers: Classifier[];
  /** Distinct decode sizes, and which one each model uses: one decode serves every model. */
  targets: DecodeTarget[];
  targetOf: number[];
  columns: ModelColumns[];
}

export function modelSet(classifiers: Classifier[], maxPixels: number): ModelSet {
  const wanted = classifiers.map(({ model: { spec } }) => ({
    width: spec.input.width,
    height: spec.input.height,
    shortSide: spec.input.resizeShortSide ?? Math.max(spec.input.width, spec.input.height),
    maxPixels,
  }));
  const { targets, index } = distinctTargets(wanted);
  const columns = classifiers.map(({ model, outputSize }, i): ModelColumns => ({
    suffix: i === 0 ? '' : `_${columnName(model.spec)}`,
    tags: model.spec.output.kind !== 'embedding' || model.zeroShot !== undefined,
    embedding: model.spec.output.kind === 'embedding' ? outputSize : undefined,
  }));
  const names = columns.map((c) => c.suffix);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new UserError(`two models would both write the columns *${dup}: give them different names in their specs`);
  const noSize = columns.findIndex((c, i) => classifiers[i]!.model.spec.output.kind === 'embedding' && c.embedding === undefined);
  if (noSize >= 0) throw new UserError(`model ${classifiers[noSize]!.model.spec.name}: its output has no fixed size, which an embedding column needs`);
  return { classifiers, targets, targetOf: index, columns };
}

type Prepared = { row: ResultRow; pixels?: Buffer[] };

function baseRow(entry: ManifestRow, models: ModelSet): ResultRow {
  const loc = parseUri(entry.uri);
  return {
    key: loc.kind === 's3' ? loc.key : loc.path,
    bucket: loc.kind === 's3' ? loc.bucket : null,
    etag: entry.etag ?? null,
    size: entry.size ?? null,
    width: null,
    height: null,
    models: models.classifiers.map((c) => ({ model: c.model.id, tags: null, embedding: null })),
    error: null,
  };
}

function fail(row: ResultRow, stage: ErrorStage, err: unknown): ResultRow {
  return { ...row, error: row.error ?? { stage, message: errorMessage(err) } };
}

/** Tag one shard exactly once: skip it if committed, hold its lease while tagging it. */
export async function runShard(run: string, shard: number, models: ModelSet, opts: ShardOptions): Promise<ShardOutcome> {
  const before = await readCommit(run, shard);
  if (before) return { status: 'committed', marker: before };
  const lease = await acquireLease(run, shard);
  if (!lease) return { status: 'leased' };
  try {
    // Checked again under the lease: another worker may have committed it since.
    const committed = await readCommit(run, shard);
    if (committed) return { status: 'committed', marker: committed };
    return { status: 'tagged', marker: await tagShard(run, shard, models, opts) };
  } finally {
    await lease.release();
  }
}

/** fetch -> decode (once per image) -> batch -> infer (each model) -> write Parquet -> commit marker. */
async function tagShard(run: string, shard: number, models: ModelSet, opts: ShardOptions): Promise<CommitMarker> {
  const startedAt = new Date();
  const s3Before = { ...s3Stats };
  const decodesBefore = decodeStats.decodes;
  const entries = await readShardFile(runLayout.shard(run, shard));
  const clock = new StageClock();
  const fetchLimit = pLimit(opts.concurrency);
  let bytes = 0;

  const prepare = async (entry: ManifestRow): Promise<Prepared> => {
    let row = baseRow(entry, models);
    let body: Buffer;
    try {
      const got = await fetchLimit(() => clock.time('fetch', () => readObject(entry.uri)));
      body = got.body;
      bytes += body.length;
      row = { ...row, etag: row.etag ?? got.etag ?? null, size: row.size ?? body.length };
    } catch (e) {
      return { row: fail(row, 'fetch', e) };
    }
    try {
      const image = await clock.time('decode', () => decodeImage(body, models.targets));
      return { row: { ...row, width: image.width, height: image.height }, pixels: image.pixels };
    } catch (e) {
      return { row: fail(row, 'decode', e) };
    }
  };

  const results: ResultRow[] = [];
  let batch: { index: number; pixels: Buffer[] }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const items = batch;
    batch = [];
    const keys = items.map((b) => results[b.index]!.key);
    for (const [m, classifier] of models.classifiers.entries()) {
      const spec = classifier.model.spec;
      try {
        const target = models.targetOf[m]!;
        const packed = await clock.time('batch', () => packBatch(keys, items.map((b) => b.pixels[target]!), spec.input));
        const outputs = await clock.time('infer', () => classifier.classify(packed.tensor, packed.count));
        items.forEach((b, i) => (results[b.index]!.models[m] = { model: classifier.model.id, ...outputs[i]! }));
      } catch (e) {
        if (e instanceof UserError) throw e; // a model set up wrongly fails the run, not every row
        const message = models.classifiers.length > 1 ? new Error(`model ${spec.name}: ${errorMessage(e)}`) : e;
        for (const b of items) results[b.index] = fail(results[b.index]!, 'infer', message);
      }
    }
  };

  const window = Math.max(opts.concurrency, opts.batchSize) * 2;
  for await (const { row, pixels } of mapOrdered(entries, window, prepare)) {
    const index = results.push(row) - 1;
    if (!pixels) continue;
    batch.push({ index, pixels });
    if (batch.length >= opts.batchSize) await flush();
  }
  await flush();

  const result = runLayout.result(run, shard);
  await clock.time('write', async () => writeBytes(result, resultsParquet(results, models.columns), 'application/vnd.apache.parquet'));
  const failuresByStage: CommitMarker['failuresByStage'] = {};
  for (const r of results) if (r.error) failuresByStage[r.error.stage] = (failuresByStage[r.error.stage] ?? 0) + 1;
  const failures = results.filter((r) => r.error).length;
  const finishedAt = new Date();
  const marker: CommitMarker = {
    shard,
    result,
    rows: results.length,
    ok: results.length - failures,
    failures,
    failuresByStage,
    bytes,
    decodes: decodeStats.decodes - decodesBefore,
    seconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    stageSeconds: clock.busy,
    stageDepth: clock.depth((finishedAt.getTime() - startedAt.getTime()) / 1000),
    s3: {
      requests: s3Stats.requests - s3Before.requests,
      retries: s3Stats.retries - s3Before.retries,
      failed: s3Stats.failed - s3Before.failed,
    },
    model: models.classifiers[0]!.model.id,
    models: models.classifiers.map((c) => c.model.id),
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    host: os.hostname(),
    pid: process.pid,
  };
  // The marker goes last: a shard with Parquet but no marker is redone from scratch.
  await writeCommit(run, marker);
  return marker;
}
