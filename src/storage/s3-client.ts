import { S3Client } from '@aws-sdk/client-s3';
import { settings } from '../settings.js';
import { requestTimeoutMs, s3Endpoint, s3Generation, s3Settings } from './s3-config.js';
import { sdkLogger } from './notices.js';

let client: S3Client | undefined;
let made = -1;

/** One client per process: it pools connections, and credentials resolve once from the AWS chain. */
export function s3Client(): S3Client {
  if (client && made === s3Generation()) return client;
  made = s3Generation();
  const options = s3Settings();
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
    // Without a logger of its own the SDK console.warns (once per request for some warnings).
    logger: sdkLogger,
    // S3-compatible servers often reject the SDK's default trailing checksums on uploads; S3 checks them.
    ...(endpoint !== undefined ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const } : {}),
  });
  return client;
}
