import { S3Client } from '@aws-sdk/client-s3';

export interface S3Options {
  /** An S3-compatible endpoint (MinIO, s3rver, Ceph...); path-style addressing is used with it. */
  endpoint?: string;
  region?: string;
  /** Attempts per request, the first included (the SDK retries throttling, 5xx and resets with backoff). */
  maxAttempts?: number;
}

let options: S3Options = {};
let client: S3Client | undefined;

/** Set once by the CLI from its flags; everything else comes from the standard AWS chain. */
export function configureS3(next: S3Options): void {
  options = { ...next };
  client = undefined;
}

export function s3Endpoint(): string | undefined {
  return options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
}

/** One client per process: it pools connections, and credentials resolve once from the AWS chain. */
export function s3Client(): S3Client {
  if (client) return client;
  const endpoint = s3Endpoint();
  client = new S3Client({
    endpoint,
    forcePathStyle: endpoint !== undefined,
    region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    maxAttempts: options.maxAttempts ?? 6,
    retryMode: 'adaptive',
    // S3-compatible servers often reject the SDK's default trailing checksums; S3 itself does not need them.
    ...(endpoint !== undefined
      ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const }
      : {}),
  });
  return client;
}
