import { Readable } from 'node:stream';
import { pMapIterable } from 'p-map';
import { packBatch, type PackedBatch } from '../batch/pack.js';
import { decodeImage } from '../decode/decode.js';
import { describeDecodeError } from '../decode/decode-error.js';
import { errorMessage, RunFatalError, StoreError, UserError } from '../errors.js';
import type { ManifestRow } from '../manifest/index.js';
import type { ModelOutput } from '../infer/postprocess.js';
import type { ResultRow } from '../output/rows.js';
import type { ErrorStage } from '../rundir/stages.js';
import { classifyFailure, isPermanentRedirect } from '../storage/failure.js';
import { readObject } from '../storage/storage.js';
import { overLimit } from '../storage/store.js';
import { isS3Uri, parseUri } from '../storage/uri.js';
import { hedgeAfterMs, hedged } from '../storage/hedged.js';
import { readDeadlines, withReadDeadline } from '../storage/deadline.js';
import type { ModelSet } from './model-set.js';
import type { StageClock } from './stage-clock.js';
import type { Stage } from '../rundir/stages.js';
import type { S3Counter } from '../storage/s3-config.js';
import type { Progress, StageLimits } from './stage-limits.js';

/** `at`: the row's place in the shard, so rows can finish out of order and still be written in order. */
interface Fetched {
  at: number;
  row: ResultRow;
  body?: Buffer;
}

interface Decoded {
  at: number;
  row: ResultRow;
  pixels?: Buffer[];
}

/** A batch of images that decoded, the rows they belong to (and their places), one packed tensor per model. */
interface Batch {
  rows: ResultRow[];
  at: number[];
  packed: PackedBatch[];
}

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

/** Group decoded images into batches as they come; failed rows ride along with the next batch. */
async function* batches(decoded: AsyncIterable<Decoded>, models: ModelSet, size: number, clock: StageClock): AsyncGenerator<Batch> {
  let rows: ResultRow[] = [];
  let at: number[] = [];
  let images: { row: number; pixels: Buffer[] }[] = [];
  const pack = (): Promise<Batch> =>
    clock.time('batch', () => {
      const keys = images.map((i) => rows[i.row]!.key);
      const packed = models.classifiers.map((c, m) =>
        packBatch(keys, images.map((i) => i.pixels[models.targetOf[m]!]!), 3 * c.model.spec.input.width * c.model.spec.input.height, c.batchBuffer(images.length)),
      );
      const batch = { rows, at, packed };
      rows = [];
      at = [];
      images = [];
      return batch;
    });
  for await (const d of decoded) {
    at.push(d.at);
    const row = rows.push(d.row) - 1;
    if (d.pixels) images.push({ row, pixels: d.pixels });
    if (images.length >= size) yield await pack();
  }
  if (rows.length > 0) yield await pack();
}

/** One stage of the graph: its name, how many items it may hold at once, whether it keeps their order, and what it does to one. */
export interface StageStep<I, O> {
  name: Stage;
  concurrency: number;
  ordered: boolean;
  run(item: I): Promise<O>;
}

/**
 * Items through one stage, at most `concurrency` at once; a full next stage makes this one wait
 * (backpressure). An ordered stage reads ahead of itself through a stream's buffer (16 items), so
 * the stage before it keeps working while it does: batches are packed while the model runs.
 */
export function through<I, O>(items: AsyncIterable<I> | Iterable<I>, step: StageStep<I, O>): AsyncIterable<O> {
  if (step.ordered) return Readable.from(items).map((item: I) => step.run(item), { concurrency: step.concurrency }) as AsyncIterable<O>;
  return pMapIterable(items, (item: I) => step.run(item), { concurrency: step.concurrency, preserveOrder: false });
}

/** What a shard's stages count as they go. */
interface Tally {
  bytes: number;
  /** Images decoded, once each however many models share the decode. */
  decodes: number;
}

/**
 * GET (or read) each object; only its own failures (not found, too big) become rows: a store that is
 * down or refuses us is not the image's fault. Unordered: one slow GET holds up only itself.
 */
export function fetchStage(models: ModelSet, limits: StageLimits, clock: StageClock, tally: Tally, counter?: S3Counter): StageStep<{ entry: ManifestRow; at: number }, Fetched> {
  const hedgeMs = hedgeAfterMs();
  const deadlineMs = readDeadlines();
  return {
    name: 'fetch',
    concurrency: limits.fetch,
    ordered: false,
    async run({ entry, at }) {
      const row = baseRow(entry, models);
      try {
        if (entry.size !== undefined && entry.size > limits.maxBytes) throw new StoreError(overLimit(entry.size, limits.maxBytes), 'permanent', 'TooLarge');
        const options = { maxBytes: limits.maxBytes, counter };
        // Over S3: hedged against slow answers, and every read of the object under one deadline
        // (its hedges are cancelled with it; one timer of the process watches every deadline).
        const remote = () =>
          withReadDeadline(deadlineMs(entry.size), (deadline) =>
            hedgeMs > 0 ? hedged((cancel) => readObject(entry.uri, { ...options, cancel }), hedgeMs, undefined, deadline) : readObject(entry.uri, { ...options, cancel: deadline }),
          );
        const got = await clock.time('fetch', () => (isS3Uri(entry.uri) ? remote() : readObject(entry.uri, options)));
        tally.bytes += got.body.length;
        // The row describes the bytes it tags: an object replaced since it was planned gets the ETag
        // and size of what was read, so the next nightly sees it as tagged at its new version.
        return { at, row: { ...row, etag: got.etag ?? row.etag ?? null, size: got.body.length }, body: got.body };
      } catch (e) {
        const kind = classifyFailure(e);
        if (kind === 'fatal') {
          const where = isPermanentRedirect(e) ? ': the bucket is in another region, or the endpoint is not its own (set --region or AWS_REGION to the bucket\'s, or fix --endpoint)' : '';
          throw new RunFatalError(`${errorMessage(e) || 'moved permanently (301)'}${where} (every image would fail the same way: nothing more is read)`);
        }
        if (kind === 'transient') throw new Error(`${entry.uri}: ${errorMessage(e)} (after retries; the shard is left for the next run)`);
        return { at, row: fail(row, 'fetch', e) };
      }
    },
  };
}

/** Decode once for every model's size; an undecodable image is an error row that says why in one line. */
export function decodeStage(models: ModelSet, limits: StageLimits, clock: StageClock, tally: Tally): StageStep<Fetched, Decoded> {
  return {
    name: 'decode',
    concurrency: limits.decode,
    ordered: false,
    async run({ at, row, body }) {
      if (!body) return { at, row };
      try {
        const image = await clock.time('decode', () => decodeImage(body, models.targets));
        tally.decodes += 1;
        return { at, row: { ...row, width: image.width, height: image.height }, pixels: image.pixels };
      } catch (e) {
        return { at, row: fail(row, 'decode', new Error(await describeDecodeError(body, e, models.targets[0]?.maxPixels ?? Infinity))) };
      }
    },
  };
}

/** Each model on each batch; a model that fails on a batch fails its rows, one set up wrongly fails the run. */
export function inferStage(models: ModelSet, limits: StageLimits, clock: StageClock): StageStep<Batch, Batch> {
  return {
    name: 'infer',
    concurrency: limits.infer,
    ordered: true,
    async run(batch) {
      const ok = batch.rows.filter((r) => r.error === null);
      for (const [m, classifier] of models.classifiers.entries()) {
        const packed = batch.packed[m]!;
        if (packed.count === 0) continue;
        let outputs: ModelOutput[];
        try {
          outputs = await clock.time('infer', () => classifier.classify(packed.tensor, packed.count));
        } catch (e) {
          // The model or device itself (not this batch): every batch would meet it.
          if (e instanceof UserError) throw new RunFatalError(e.message);
          const err = models.classifiers.length > 1 ? new Error(`model ${classifier.model.spec.name}: ${errorMessage(e)}`) : e;
          for (const r of ok) Object.assign(r, fail(r, 'infer', err));
          continue;
        }
        ok.forEach((r, i) => (r.models[m] = { model: classifier.model.id, ...outputs[i]! }));
      }
      return batch;
    },
  };
}

/**
 * fetch -> decode -> batch -> infer as a chain of bounded stages, so all four overlap and memory is
 * bounded by the limits, not by the shard. Rows go back to their manifest places at the end.
 */
export async function tagRows(
  entries: ManifestRow[],
  models: ModelSet,
  limits: StageLimits,
  clock: StageClock,
  progress: (p: Progress) => void = () => undefined,
  counter?: S3Counter,
): Promise<{ rows: ResultRow[]; bytes: number; decodes: number }> {
  const tally: Tally = { bytes: 0, decodes: 0 };
  const fetched = through(entries.map((entry, at) => ({ entry, at })), fetchStage(models, limits, clock, tally, counter));
  const decoded = through(fetched, decodeStage(models, limits, clock, tally));
  const inferred = through(batches(decoded, models, limits.batchSize, clock), inferStage(models, limits, clock));
  const rows: ResultRow[] = new Array<ResultRow>(entries.length);
  for await (const batch of inferred) {
    batch.rows.forEach((r, i) => (rows[batch.at[i]!] = r));
    progress({ images: batch.rows.length, errors: batch.rows.filter((r) => r.error).length, bytes: batch.rows.reduce((n, r) => n + (r.error?.stage === 'fetch' ? 0 : (r.size ?? 0)), 0) });
  }
  return { rows, bytes: tally.bytes, decodes: tally.decodes };
}
