import type { Tag } from '../infer/topk.js';

/** Where an image failed: the stage names match the pipeline's. */
export type ErrorStage = 'fetch' | 'decode' | 'infer';

/** One output row per planned image, tags or an error, never both. */
export interface ResultRow {
  key: string;
  /** null for local files. */
  bucket: string | null;
  etag: string | null;
  size: number | null;
  width: number | null;
  height: number | null;
  model: string;
  tags: Tag[] | null;
  error: { stage: ErrorStage; message: string } | null;
}
