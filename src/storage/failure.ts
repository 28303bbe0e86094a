import { AccessRefused, NotFoundError } from '../errors.js';

/**
 * What a failed read says about retrying it. permanent: the object itself (missing, too large, a
 * refused key): an error row. transient: the store or the network (5xx, throttling, resets,
 * time-outs) after the SDK's own retries: the shard is left unfinished, so a later run retries it.
 * fatal: it would fail every image (credentials refused, no such bucket, access denied): the run
 * stops at once; a 301 (another region, a wrong endpoint) too: every GET would get it.
 */
export type Failure = 'permanent' | 'transient' | 'fatal';

const FATAL = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'NoSuchBucket',
  'AccessDenied',
  'AllAccessDisabled',
  'AccountProblem',
  'CredentialsProviderError',
]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED']);
const TRANSIENT_NAMES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable', 'TimeoutError', 'RequestTimeoutException']);

/** A 301: the bucket is in another region than the client's, or the endpoint is not the bucket's. */
export function isPermanentRedirect(e: unknown): boolean {
  const err = e as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return (err?.Code ?? err?.name) === 'PermanentRedirect' || err?.$metadata?.httpStatusCode === 301;
}

/** A 307: S3 asks for the same request again (a new bucket's DNS not yet everywhere): send it again. */
export function isTemporaryRedirect(e: unknown): boolean {
  const err = e as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return (err?.Code ?? err?.name) === 'TemporaryRedirect' || err?.$metadata?.httpStatusCode === 307;
}

export function classifyFailure(e: unknown): Failure {
  if (e instanceof NotFoundError) return 'permanent';
  if (e instanceof AccessRefused) return 'fatal';
  const err = e as { name?: string; Code?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  const name = err?.Code ?? err?.name ?? '';
  if (FATAL.has(name) || isPermanentRedirect(e)) return 'fatal';
  if (isTemporaryRedirect(e)) return 'transient';
  const status = err?.$metadata?.httpStatusCode;
  if (status === 401 || status === 403) return 'fatal';
  if (TRANSIENT_NAMES.has(name) || TRANSIENT_CODES.has(err?.code ?? '') || (status !== undefined && (status >= 500 || status === 429))) return 'transient';
  if (err?.$retryable !== undefined || /socket hang up|timed? ?out|ECONNRESET|network/i.test(err?.message ?? '')) return 'transient';
  return 'permanent';
}
