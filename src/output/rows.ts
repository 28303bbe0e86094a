import type { Tag } from '../infer/topk.js';

/** Where an image failed: the stage names match the pipeline's. */
import type { ErrorStage } from '../rundir/stages.js';


/** What one model said about one image; `model` is the id of the exact bytes (name@sha256 prefix). */
export interface ModelResult {
  model: string;
  tags: Tag[] | null;
  embedding: Float32Array | number[] | null;
}

/** One output row per planned image, results or an error. */
export interface ResultRow {
  key: string;
  /** null for local files. */
  bucket: string | null;
  etag: string | null;
  size: number | null;
  width: number | null;
  height: number | null;
  /** One entry per model of the run, in --model order. */
  models: ModelResult[];
  error: { stage: ErrorStage; message: string } | null;
}

/**
 * How one model's results become columns: `model_<name>`, `tags_<name>`, `embedding_<name>`, named
 * after the model and never after its place among the --model flags, so every run has one schema.
 */
export interface ModelColumns {
  /** The model's column name (its spec name, lower case, `_` for other characters). */
  name: string;
  tags: boolean;
  /** Embedding length, when the model gives an embedding. */
  embedding?: number;
}

/** What every row of a run carries beside its results: which run tagged it, and when. */
export interface Provenance {
  runId: string;
  taggedAt: Date;
}
