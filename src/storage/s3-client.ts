import { S3Client } from '@aws-sdk/client-s3';
import { settings } from '../settings.js';

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
let client: S3Client | undefined;

/** Set once by the CLI from its flags; everything else comes from the standard AWS chain. */
export function configureS3(next: S3Options): void {
  options = { ...next };
  client = undefined;
}

/** What configureS3 was given, to hand to worker threads (each has its own client). */
export function s3Settings(): S3Options {
  return { ...options };
}

export function s3Endpoint(): string | undefined {
  return options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
}

/** A request that sends or receives nothing for this long is abandoned (and retried). */
export function requestTimeoutMs(): number {
  return options.requestTimeoutMs ?? settings().s3RequestTimeoutMs;
}

/** One client per process: it pools connections, and credentials resolve once from the AWS chain. */
export function s3Client(): S3Client {
  if (client) return client;
  const endpoint = s3Endpoint();
  client = new S3Client({
    endpoint,
    forcePathStyle: endpoint !== undefined,
    region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    maxAttempts: options.maxAttempts ?? settings().s3MaxAttempts,
    retryMode: 'adaptive',
    // Without timeouts a stalled connection would hang a shard forever; with them it is retried.
    requestHandler: {
      connectionTimeout: 5000,
      throwOnRequestTimeout: true,
      requestTimeout: requestTimeoutMs(),
    },
    // Responses are not checksummed in JavaScript: a CRC over every image costs more CPU than its GET,
    // TLS already guards the bytes, a damaged image fails its decode, and imgtag's own files are
    // checked against the sha256 in their commit markers.
    responseChecksumValidation: 'WHEN_REQUIRED',
    // S3-compatible servers often reject the SDK's default trailing checksums on uploads; S3 checks them.
    ...(endpoint !== undefined ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const } : {}),
  });
  return client;
}
