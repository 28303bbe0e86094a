import { UserError } from './errors.js';

/**
 * Every IMGTAG_* environment variable, read and checked in one place, once per process: a bad value
 * is refused by name at start-up instead of falling back silently somewhere deep in a run. Worker
 * processes get the parent's parsed settings in their WorkerInit. README's table is this list.
 */
export interface Settings {
  /** Where downloaded models are cached. */
  cacheDir?: string;
  demoPhotos?: string;
  /** A folder searched first for model files (offline machines, tests). */
  modelDir?: string;
  /** How long a lease holds without renewal. */
  leaseTtlMs: number;
  /** DuckDB's memory for the nightly's join against the current table (MB; beyond it, it spills to disk). */
  joinMemoryMb: number;
  /** Worker processes of a run, nightly or tune when --workers is not given (default: one per core on CPU, 1 on a GPU). */
  workers?: number;
  /** Planning threads (default: one per core). */
  planThreads?: number;
  /** Off: Inventory lines are read in JavaScript, not by the native reader. */
  planNative: boolean;
  /** Threads decoding HEIC as WebAssembly (default: up to 2). */
  heicThreads?: number;
  /** HEIC: `thumbnail` (native; the file's thumbnail when large enough for the model), `full` (native, the primary image always), `wasm` (libheif as WebAssembly). */
  heic: 'thumbnail' | 'full' | 'wasm';
  /** The native path's HEVC decoder: `ffmpeg` (libavcodec, when built with it) or `libde265` (libheif's own). */
  hevcDecoder: 'ffmpeg' | 'libde265';
  /** `sharp`: every JPEG through sharp, not the libjpeg-turbo fast path. */
  jpeg: 'fast' | 'sharp';
  /** The native resize's SIMD level, forced (tests, benchmarks); unset: the best this CPU has. */
  simd?: 'scalar' | 'avx2' | 'avx512' | 'neon';
  /** Off: every GET through the SDK, not the lean signed GET. */
  leanGet: boolean;
  /** A read's first byte must come within this. */
  readFirstByteMs: number;
  /** The slowest body a read accepts. */
  readMinBytesPerSecond: number;
  /** A hung S3 request is abandoned after this. */
  s3RequestTimeoutMs: number;
  /** Attempts per S3 request, the first included. */
  s3MaxAttempts: number;
  /** A second GET of a slow image after this (0: no hedging). */
  hedgeMs: number;
  /** Reads of one image in flight at most. */
  hedgeReads: number;
  /** The instance metadata service to ask for the instance type, even off AWS Batch/ECS (tests point it at a stand-in). */
  imds?: string;
  /** A folder: each worker process writes a V8 CPU profile there. */
  profileDir?: string;
  /** The progress heartbeat's interval on a non-terminal stderr, seconds. */
  heartbeatSeconds: number;
  /** Errors print their stack. */
  debug: boolean;
  /** DuckDB statements are printed as they run. */
  debugSql: boolean;
}

type Kind = 'ms' | 'count' | 'positive' | 'text' | 'flag' | 'off-flag';

interface Variable {
  name: string;
  key: keyof Settings;
  kind: Kind;
  default?: number | string | boolean;
  /** README: the default as words, when it is not a fixed value. */
  shown?: string;
}

/** The variables, in README's order. */
export const VARIABLES: Variable[] = [
  { name: 'IMGTAG_MODEL_DIR', key: 'modelDir', kind: 'text', shown: 'none' },
  { name: 'IMGTAG_CACHE_DIR', key: 'cacheDir', kind: 'text', shown: '$XDG_CACHE_HOME/imgtag or ~/.cache/imgtag' },
  { name: 'IMGTAG_DEMO_PHOTOS', key: 'demoPhotos', kind: 'text', shown: 'data/demo-photos.json in the package' },
  { name: 'IMGTAG_S3_MAX_ATTEMPTS', key: 's3MaxAttempts', kind: 'count', default: 6 },
  { name: 'IMGTAG_S3_REQUEST_TIMEOUT_MS', key: 's3RequestTimeoutMs', kind: 'ms', default: 60_000 },
  { name: 'IMGTAG_READ_FIRST_BYTE_MS', key: 'readFirstByteMs', kind: 'ms', default: 10_000 },
  { name: 'IMGTAG_READ_MIN_BYTES_PER_S', key: 'readMinBytesPerSecond', kind: 'positive', default: 262_144 },
  { name: 'IMGTAG_HEDGE_MS', key: 'hedgeMs', kind: 'ms', default: 500 },
  { name: 'IMGTAG_HEDGE_READS', key: 'hedgeReads', kind: 'count', default: 3 },
  { name: 'IMGTAG_LEAN_GET', key: 'leanGet', kind: 'off-flag', default: true },
  { name: 'IMGTAG_LEASE_TTL_MS', key: 'leaseTtlMs', kind: 'ms', default: 120_000 },
  { name: 'IMGTAG_JPEG', key: 'jpeg', kind: 'text', default: 'fast' },
  { name: 'IMGTAG_HEIC', key: 'heic', kind: 'text', default: 'thumbnail' },
  { name: 'IMGTAG_HEVC_DECODER', key: 'hevcDecoder', kind: 'text', default: 'ffmpeg' },
  // Read by the native resize itself (native/resize_simd.c); checked here so a typo is refused, not ignored.
  { name: 'IMGTAG_SIMD', key: 'simd', kind: 'text', shown: 'the best this CPU has' },
  { name: 'IMGTAG_WORKERS', key: 'workers', kind: 'count', shown: 'one per core on CPU, 1 on a GPU' },
  { name: 'IMGTAG_HEIC_THREADS', key: 'heicThreads', kind: 'count', shown: 'min(2, cores)' },
  { name: 'IMGTAG_PLAN_THREADS', key: 'planThreads', kind: 'count', shown: 'one per core' },
  { name: 'IMGTAG_PLAN_NATIVE', key: 'planNative', kind: 'off-flag', default: true },
  { name: 'IMGTAG_JOIN_MEMORY_MB', key: 'joinMemoryMb', kind: 'positive', default: 256 },
  { name: 'IMGTAG_IMDS', key: 'imds', kind: 'text', shown: 'http://169.254.169.254 on AWS Batch/ECS only' },
  { name: 'IMGTAG_HEARTBEAT_S', key: 'heartbeatSeconds', kind: 'positive', default: 30 },
  { name: 'IMGTAG_PROFILE', key: 'profileDir', kind: 'text', shown: 'none' },
  { name: 'IMGTAG_DEBUG', key: 'debug', kind: 'flag', default: false },
  { name: 'IMGTAG_DEBUG_SQL', key: 'debugSql', kind: 'flag', default: false },
];

const CHECKS: Record<Kind, { ok: (raw: string) => boolean; what: string; parse: (raw: string) => number | string | boolean }> = {
  ms: { ok: (r) => Number.isFinite(Number(r)) && Number(r) >= 0, what: 'milliseconds (a number >= 0)', parse: Number },
  count: { ok: (r) => Number.isInteger(Number(r)) && Number(r) >= 1, what: 'a whole number >= 1', parse: Number },
  positive: { ok: (r) => Number.isFinite(Number(r)) && Number(r) > 0, what: 'a number > 0', parse: Number },
  text: { ok: (r) => r.length > 0, what: 'text', parse: (r) => r },
  flag: { ok: (r) => ['0', '1', 'true', 'false'].includes(r), what: '1 or 0', parse: (r) => r === '1' || r === 'true' },
  'off-flag': { ok: (r) => ['0', '1', 'true', 'false'].includes(r), what: '1 or 0', parse: (r) => r === '1' || r === 'true' },
};

/** The settings from an environment; a value of the wrong kind is refused, naming the variable. */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const out: Record<string, unknown> = {};
  for (const v of VARIABLES) {
    const raw = env[v.name];
    if (raw === undefined || raw === '') {
      if (v.default !== undefined) out[v.key] = v.default;
      continue;
    }
    const check = CHECKS[v.kind];
    if (!check.ok(raw)) throw new UserError(`${v.name}=${JSON.stringify(raw)} is not ${check.what}: unset it or give ${v.default !== undefined ? `e.g. ${v.default}` : check.what}`);
    out[v.key] = check.parse(raw);
  }
  if (out.jpeg !== 'fast' && out.jpeg !== 'sharp') throw new UserError(`IMGTAG_JPEG=${JSON.stringify(out.jpeg)} is not "sharp" (or unset)`);
  if (!['thumbnail', 'full', 'wasm'].includes(out.heic as string)) throw new UserError(`IMGTAG_HEIC=${JSON.stringify(out.heic)} is not "thumbnail", "full" or "wasm"`);
  if (!['ffmpeg', 'libde265'].includes(out.hevcDecoder as string)) throw new UserError(`IMGTAG_HEVC_DECODER=${JSON.stringify(out.hevcDecoder)} is not "ffmpeg" or "libde265"`);
  if (out.simd !== undefined && !['scalar', 'avx2', 'avx512', 'neon'].includes(out.simd as string)) throw new UserError(`IMGTAG_SIMD=${JSON.stringify(out.simd)} is not "scalar", "avx2", "avx512" or "neon" (or unset)`);
  return out as unknown as Settings;
}

let current: Settings | undefined;

/** This process's settings: read once, on first use (the CLI asks first, so a bad value stops it at once). */
export function settings(): Settings {
  return (current ??= readSettings());
}

/** A worker process takes its parent's settings as they were parsed. */
export function useSettings(s: Settings): void {
  current = s;
}
