/** Where inference runs: onnxruntime's CPU, CUDA or TensorRT execution provider. */
export const DEVICES = ['cpu', 'cuda', 'tensorrt'] as const;
export type Device = (typeof DEVICES)[number];

/**
 * Every default a user meets, in one place (the CLI's help shows these; the code reads them from
 * here). Nothing heavy is imported: the CLI loads this before it knows which command runs.
 */
export const DEFAULTS = {
  model: 'mobilenetv2-12-int8',
  device: 'cpu' as Device,
  /** Images per model call. */
  batchSize: 16,
  /** S3 GETs in flight per worker. */
  concurrency: 16,
  /** Images larger than this many pixels are refused before they are decoded (a decompression bomb guard). */
  maxPixels: 100_000_000,
  /** Objects larger than this are refused before their bytes are read (from the manifest's size, else the response's length). */
  maxBytes: 256 * 2 ** 20,
  shardSize: 1000,
  /** Seconds a run's shards in hand get to finish after SIGTERM/SIGINT: well inside AWS Batch's 30 s stop timeout. */
  stopSeconds: 20,
  /** Compaction: file size, row group size, merge-sort memory. */
  compact: { targetFileMb: 256, rowGroupMb: 128, memoryMb: 256 },
} as const;

/** The models a run uses: those asked for, else the default one. */
export const modelsOrDefault = (models?: readonly string[]): string[] => (models && models.length > 0 ? [...models] : [DEFAULTS.model]);
