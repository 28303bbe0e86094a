import { settings } from '../settings.js';

/**
 * How imgtag talks to S3 (endpoint, region, attempts, timeouts) and its request counters, without
 * loading the AWS SDK: a run over local files never loads it (s3-client.ts does, on first use).
 */

export interface S3Options {
  /** An S3-compatible endpoint (MinIO, s3rver, Ceph...); path-style addressing is used with it. */
  endpoint?: string;
  region?: string;
  /** Attempts per request, the first included (the SDK retries throttling, 5xx and resets with backoff). */
  maxAttempts?: number;
  /** A request that sends or receives nothing for this long is abandoned and retried. */
  requestTimeoutMs?: number;
}

/** Requests sent, the retries among them, and those that failed for good. */
export interface S3Counter {
  requests: number;
  retries: number;
  failed: number;
}

export const newCounter = (): S3Counter => ({ requests: 0, retries: 0, failed: 0 });

/**
 * Count one finished request from its `$metadata.attempts` (set on answers and on errors alike) in
 * the counter of whoever sent it: a shard's writes overlap the next shard's reads, so no
 * process-wide counter can say whose a request is; only the caller can.
 */
export function countAttempts(meta: { attempts?: number } | undefined, ok: boolean, counter?: S3Counter): void {
  if (!counter) return;
  counter.requests += 1;
  counter.retries += Math.max(0, (meta?.attempts ?? 1) - 1);
  if (!ok) counter.failed += 1;
}

let options: S3Options = {};
let generation = 0;

/** Set once by the CLI from its flags; everything else comes from the standard AWS chain. */
export function configureS3(next: S3Options): void {
  options = { ...next };
  generation += 1;
}

/** What configureS3 was given, to hand to worker threads (each has its own client). */
export function s3Settings(): S3Options {
  return { ...options };
}

/**
 * The region every other AWS client (Batch, Glue, SQS) uses: --region, else AWS_REGION or
 * AWS_DEFAULT_REGION, else the SDK's own chain (the profile's), as the S3 client does.
 */
export function awsClientConfig(): { region?: string } {
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  return region ? { region } : {};
}

/** Bumped by configureS3: a client made before it is stale. */
export const s3Generation = (): number => generation;

export function s3Endpoint(): string | undefined {
  return options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
}

/** A request that sends or receives nothing for this long is abandoned (and retried). */
export function requestTimeoutMs(): number {
  return options.requestTimeoutMs ?? settings().s3RequestTimeoutMs;
}
