/** The per-image stages' limits and progress: shared by the worker pool, which must not load the stages (sharp, Arrow). */

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
