import { Readable } from 'node:stream';
import { pMapIterable } from 'p-map';
import { packBatch, type PackedBatch } from '../batch/pack.js';
import { decodeImage } from '../decode/decode.js';
import { describeDecodeError } from '../decode/decode-error.js';
import { errorMessage, UserError } from '../errors.js';
import type { ManifestRow } from '../manifest/index.js';
import type { ModelOutput } from '../infer/postprocess.js';
import type { ErrorStage, ResultRow } from '../output/rows.js';
import { classifyFailure } from '../storage/failure.js';
import { overLimit, readObject } from '../storage/storage.js';
import { isS3Uri, parseUri } from '../storage/uri.js';
import { hedgeAfterMs, hedged } from '../storage/hedged.js';
import type { ModelSet } from './model-set.js';
import type { StageClock } from './stage-clock.js';
import type { S3Counter } from '../storage/s3-client.js';

/** How many items each stage may hold in flight; each stage waits when the next one is full (backpressure). */
export interface StageLimits {
  /** S3 GETs in flight. */
  fetch: number;
  /** Objects over this many bytes are error rows: refused from the manifest's size, or from the response's length before the body is read. */
  maxBytes: number;
  /** Images being decoded at once (sharp runs them on libuv's thread pool). */
  decode: number;
  /** Images per model call. */
  batchSize: number;
  /** Batches in the model at once: 1 on CPU (its threads already use every core), more on a GPU. */
  infer: number;
}

/** Images finished since the last call (tagged or error rows) and their bytes: progress an operator can watch within a shard. */
export interface Progress {
  images: number;
  errors: number;
  bytes: number;
}

/** Enough decodes in flight to keep a process's cores busy while one waits on its input. */
export const decodesInFlight = (threads: number) => Math.max(2, 2 * threads);

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
      const packed = models.classifiers.map((c, m) => packBatch(keys, images.map((i) => i.pixels[models.targetOf[m]!]!), 3 * c.model.spec.input.width * c.model.spec.input.height));
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

/**
 * fetch -> decode -> batch -> infer as a chain of bounded, ordered stream stages, so all four
 * overlap and memory is bounded by the limits, not by the shard. Rows come back in manifest order.
 */
export async function tagRows(
  entries: ManifestRow[],
  models: ModelSet,
  limits: StageLimits,
  clock: StageClock,
  progress: (p: Progress) => void = () => undefined,
  counter?: S3Counter,
): Promise<{ rows: ResultRow[]; bytes: number; decodes: number }> {
  let bytes = 0;
  // Images decoded, once each however many models share the decode: counted here, per shard.
  let decodes = 0;
  const hedgeMs = hedgeAfterMs();
  const fetchOne = async ({ entry, at }: { entry: ManifestRow; at: number }): Promise<Fetched> => {
    const row = baseRow(entry, models);
    try {
      if (entry.size !== undefined && entry.size > limits.maxBytes) throw new Error(overLimit(entry.size, limits.maxBytes));
      const read = (signal?: AbortSignal) => readObject(entry.uri, { maxBytes: limits.maxBytes, signal, counter });
      const got = await clock.time('fetch', () => (hedgeMs > 0 && isS3Uri(entry.uri) ? hedged(read, hedgeMs) : read()));
      bytes += got.body.length;
      return { at, row: { ...row, etag: row.etag ?? got.etag ?? null, size: row.size ?? got.body.length }, body: got.body };
    } catch (e) {
      // Only the object's own failures are rows: a store that is down or refuses us is not the image's fault.
      const kind = classifyFailure(e);
      if (kind === 'fatal') throw new UserError(`${errorMessage(e)} (every image would fail the same way: nothing more is read)`);
      if (kind === 'transient') throw new Error(`${entry.uri}: ${errorMessage(e)} (after retries; the shard is left for the next run)`);
      return { at, row: fail(row, 'fetch', e) };
    }
  };
  const decodeOne = async ({ at, row, body }: Fetched): Promise<Decoded> => {
    if (!body) return { at, row };
    try {
      const image = await clock.time('decode', () => decodeImage(body, models.targets));
      decodes += 1;
      return { at, row: { ...row, width: image.width, height: image.height }, pixels: image.pixels };
    } catch (e) {
      return { at, row: fail(row, 'decode', new Error(await describeDecodeError(body, e, models.targets[0]?.maxPixels ?? Infinity))) };
    }
  };
  const inferOne = async (batch: Batch): Promise<Batch> => {
    const ok = batch.rows.filter((r) => r.error === null);
    for (const [m, classifier] of models.classifiers.entries()) {
      const packed = batch.packed[m]!;
      if (packed.count === 0) continue;
      let outputs: ModelOutput[];
      try {
        outputs = await clock.time('infer', () => classifier.classify(packed.tensor, packed.count));
      } catch (e) {
        if (e instanceof UserError) throw e; // a model set up wrongly fails the run, not every row
        const err = models.classifiers.length > 1 ? new Error(`model ${classifier.model.spec.name}: ${errorMessage(e)}`) : e;
        for (const r of ok) Object.assign(r, fail(r, 'infer', err));
        continue;
      }
      ok.forEach((r, i) => (r.models[m] = { model: classifier.model.id, ...outputs[i]! }));
    }
    return batch;
  };

  // Fetch and decode hand on each image as soon as it is ready, not in manifest order: one slow GET
  // holds up only itself, never the images behind it. Rows go back to their places at the end.
  const fetched = pMapIterable(
    entries.map((entry, at) => ({ entry, at })),
    fetchOne,
    { concurrency: limits.fetch, preserveOrder: false },
  );
  const decoded = pMapIterable(fetched, decodeOne, { concurrency: limits.decode, preserveOrder: false });
  const inferred = Readable.from(batches(decoded, models, limits.batchSize, clock)).map(inferOne, { concurrency: limits.infer });
  const rows: ResultRow[] = new Array<ResultRow>(entries.length);
  for await (const batch of inferred as AsyncIterable<Batch>) {
    batch.rows.forEach((r, i) => (rows[batch.at[i]!] = r));
    progress({ images: batch.rows.length, errors: batch.rows.filter((r) => r.error).length, bytes: batch.rows.reduce((n, r) => n + (r.error?.stage === 'fetch' ? 0 : (r.size ?? 0)), 0) });
  }
  return { rows, bytes, decodes };
}
