import { setTimeout as sleep } from 'node:timers/promises';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type GetObjectCommandOutput,
  type HeadObjectCommandOutput,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { AccessRefused, NotFoundError, StoreError, StoreUserError, type StoreErrorKind } from '../errors.js';
import { s3Client } from './s3-client.js';
import { countAttempts, requestTimeoutMs, s3Endpoint, type S3Counter } from './s3-config.js';
import { leanGet } from './lean-get.js';
import { overLimit, type ListOptions, type ObjectInfo, type ReadResult, type Store } from './store.js';
import { parseUri, s3Uri } from './uri.js';

type SdkError = { name?: string; Code?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number; attempts?: number }; $retryable?: unknown };

const REFUSED = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'AccessDenied', 'AllAccessDisabled', 'AccountProblem']);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED']);
const TRANSIENT_NAMES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable', 'TimeoutError', 'RequestTimeoutException', 'TemporaryRedirect', 'AbortError']);

/** What an SDK (or socket) error means, by its code, name and status: never by its words. */
export function s3Kind(e: SdkError): StoreErrorKind {
  const name = e?.Code ?? e?.name ?? '';
  const status = e?.$metadata?.httpStatusCode;
  // A missing bucket is a 404 too, and fails every request: fatal, not one object missing.
  if (name === 'NoSuchBucket' || name === 'PermanentRedirect' || status === 301 || name === 'CredentialsProviderError') return 'fatal';
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return 'missing';
  if (REFUSED.has(name) || status === 401 || status === 403) return 'refused';
  if (name === 'PreconditionFailed' || status === 412) return 'conflict';
  if (TRANSIENT_NAMES.has(name) || TRANSIENT_CODES.has(e?.code ?? '') || status === 307 || (status !== undefined && (status >= 500 || status === 429)) || e?.$retryable !== undefined) return 'transient';
  return 'permanent';
}

/** A server that is not there, said with the endpoint the request went to (the socket's words name only an address). */
function unreachable(uri: string, code: string): string {
  const endpoint = s3Endpoint();
  if (endpoint === undefined) return `S3 could not be reached for ${uri} (${code}): offline, or no route to AWS?`;
  const what = code === 'ECONNREFUSED' ? 'nothing answers at' : 'no host found for';
  return `${what} the S3 endpoint ${endpoint} (${code}) for ${uri}: is the server running, and is that its address? (--endpoint or AWS_ENDPOINT_URL names it; "npm run s3-server" starts a local one)`;
}

/** An SDK error as the store's error: the user's own problems said as what to do about them. */
function failure(uri: string, err: unknown): never {
  const e = err as SdkError;
  const kind = s3Kind(e);
  const name = e?.Code ?? e?.name;
  const status = e?.$metadata?.httpStatusCode;
  if (name === 'NoSuchBucket') {
    const loc = parseUri(uri);
    throw new StoreUserError(`bucket ${loc.kind === 's3' ? loc.bucket : uri} does not exist (${uri}): check the bucket name, or --region if it is in another region`, 'fatal', name, status);
  }
  if (name === 'CredentialsProviderError') {
    throw new StoreUserError(
      `no AWS credentials for ${uri}: set AWS_PROFILE (after "aws sso login" or "aws configure"), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run on a machine with an instance role; for an S3-compatible server give --endpoint`,
      'fatal',
      name,
    );
  }
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOTFOUND') throw new StoreError(unreachable(uri, e.code), kind, e.code, status);
  if (kind === 'missing') throw new NotFoundError(`not found: ${uri}`);
  if (kind === 'refused') {
    const shown = name && name !== 'UnknownError' ? ` ${name}` : '';
    throw new AccessRefused(`S3 refused access to ${uri} (HTTP ${status ?? '?'}${shown}): check the credentials, the region and the bucket policy`, status);
  }
  throw new StoreError(e?.message || name || `HTTP ${status}`, kind, name ?? e?.code, status);
}

type Sendable = CopyObjectCommand | GetObjectCommand | HeadObjectCommand | PutObjectCommand | ListObjectsV2Command | DeleteObjectCommand | DeleteObjectsCommand;
type Output<C> = C extends GetObjectCommand
  ? GetObjectCommandOutput
  : C extends HeadObjectCommand
    ? HeadObjectCommandOutput
    : C extends ListObjectsV2Command
      ? ListObjectsV2CommandOutput
      : { $metadata: { attempts?: number } };

/** Every S3 request goes through here: attempts are counted, and a failure becomes the store's error. */
async function send<C extends Sendable>(uri: string, command: C, abortSignal?: AbortSignal, counter?: S3Counter): Promise<Output<C>> {
  try {
    const out = (await s3Client().send(command as never, { abortSignal })) as Output<C>;
    countAttempts(out.$metadata, true, counter);
    return out;
  } catch (e) {
    // A request abandoned on purpose (the loser of a hedged read) did not fail, nor did a 404: it is an answer.
    countAttempts((e as SdkError).$metadata, abortSignal?.aborted === true || s3Kind(e as SdkError) === 'missing', counter);
    return failure(uri, e);
  }
}

/** Strip the quotes S3 puts around ETags, so the same object always has the same string. */
export function cleanEtag(etag: string | undefined): string | undefined {
  return etag === undefined ? undefined : etag.replace(/^"+|"+$/g, '');
}

/**
 * A key with a "." or ".." segment is not fetched: HTTP layers (the SDK, proxies, S3-compatible
 * servers) normalise such paths, and the bytes would be another object's.
 */
function refuseDotSegments(uri: string, key: string): void {
  if (key.split('/').some((seg) => seg === '.' || seg === '..')) {
    throw new StoreError(`the key of ${uri} has a "." or ".." path segment, which HTTP layers rewrite into another object's name: not fetched`, 'permanent', 'DotSegment');
  }
}

/** Reads of one object whose body was cut, the first included. */
const BODY_ATTEMPTS = 3;

/** Sends a 307 (TemporaryRedirect) asks to repeat, which the SDK's retries do not: a few times, backing off. */
const REDIRECT_ATTEMPTS = 5;

async function followingTemporaryRedirects<T>(request: () => Promise<T>, counter?: S3Counter): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (e) {
      if (!(e instanceof StoreError && e.status === 307) || attempt >= REDIRECT_ATTEMPTS) throw e;
      if (counter) counter.retries += 1;
      await sleep(50 * 2 ** attempt * (0.5 + Math.random()));
    }
  }
}

/**
 * A PUT's body with its length: the SDK sets Content-Length only for a non-empty body, and warns on
 * stderr ("Stream of unknown length") for every empty one, such as each commit-log object.
 */
const sized = (body: Uint8Array | string) => ({ Body: body, ContentLength: typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength });

const where = (uri: string) => {
  const loc = parseUri(uri);
  if (loc.kind !== 's3') throw new Error(`${uri} is not an s3:// URI`);
  return { Bucket: loc.bucket, Key: loc.key };
};

async function* listPages(prefixUri: string, pageSize: number, opts: ListOptions = {}): AsyncGenerator<ObjectInfo> {
  const { Bucket, Key } = where(prefixUri);
  const StartAfter = opts.startAfter === undefined ? undefined : where(opts.startAfter).Key;
  let token: string | undefined;
  do {
    const page = await send(prefixUri, new ListObjectsV2Command({ Bucket, Prefix: Key, MaxKeys: pageSize, ContinuationToken: token, StartAfter }), undefined, opts.counter);
    for (const obj of page.Contents ?? []) if (obj.Key !== undefined) yield { uri: s3Uri(Bucket, obj.Key), size: obj.Size, etag: cleanEtag(obj.ETag), modified: obj.LastModified };
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

async function conditionalPut(uri: string, body: string, condition: { IfNoneMatch?: string; IfMatch?: string }, counter?: S3Counter): Promise<boolean> {
  try {
    await send(uri, new PutObjectCommand({ ...where(uri), ...sized(body), ...condition }), undefined, counter);
    return true;
  } catch (e) {
    if (e instanceof StoreError && e.kind === 'conflict') return false;
    throw e;
  }
}

/** S3 (or an S3-compatible server): a URI is s3://bucket/key. */
export const s3Store: Store = {
  async read(uri, opts): Promise<ReadResult> {
    const { range, maxBytes = Infinity } = opts;
    const { Bucket, Key } = where(uri);
    refuseDotSegments(uri, Key);
    if (!range) {
      const lean = await leanGet(Bucket, Key, { maxBytes, cancel: opts.cancel, timeoutMs: requestTimeoutMs() });
      if (lean && lean.status !== 'skipped') {
        countAttempts({ attempts: 1 }, true, opts.counter);
        if (lean.status === 'missing') throw new NotFoundError(`not found: ${uri}`);
        if (lean.status === 'too-big') throw new StoreError(overLimit(lean.length, maxBytes), 'permanent', 'TooLarge');
        return { body: lean.body, etag: cleanEtag(lean.etag), modified: lean.modified };
      }
      // A lean attempt that did not answer counts as the first attempt of the SDK's GET below.
      if (!lean && opts.counter) opts.counter.retries += 1;
    }
    const Range = range ? `bytes=${range.start}-${range.end - 1}` : undefined;
    // The SDK retries a request that fails, not a body cut once its headers came: that is retried
    // here, so one cut connection costs a GET, not the whole shard.
    for (let attempt = 1; ; attempt++) {
      const res = await followingTemporaryRedirects(() => send(uri, new GetObjectCommand({ Bucket, Key, Range }), opts.cancel?.signal, opts.counter), opts.counter);
      // Refused from the response's headers: the body of an oversized object is never read into memory.
      if ((res.ContentLength ?? 0) > maxBytes) {
        (res.Body as Readable | undefined)?.destroy();
        throw new StoreError(overLimit(res.ContentLength!, maxBytes), 'permanent', 'TooLarge');
      }
      try {
        const bytes = await res.Body!.transformToByteArray();
        if (res.ContentLength !== undefined && bytes.byteLength !== res.ContentLength) throw new StoreError(`body cut at ${bytes.byteLength} of ${res.ContentLength} bytes`, 'transient', 'BodyCut');
        // A view, not a copy, of the bytes the SDK collected.
        return { body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), etag: cleanEtag(res.ETag), modified: res.LastModified };
      } catch (e) {
        if (opts.cancel?.aborted || attempt >= BODY_ATTEMPTS) throw e instanceof StoreError ? e : new StoreError((e as Error).message, s3Kind(e as SdkError), (e as SdkError).code);
        if (opts.counter) opts.counter.retries += 1;
      }
    }
  },

  async stream(uri) {
    const { Bucket, Key } = where(uri);
    refuseDotSegments(uri, Key);
    return (await send(uri, new GetObjectCommand({ Bucket, Key }))).Body as Readable;
  },

  async write(uri, body, contentType, counter) {
    await send(uri, new PutObjectCommand({ ...where(uri), ...sized(body), ContentType: contentType }), undefined, counter);
  },

  async upload(file, uri, contentType) {
    const { size } = await fsp.stat(file);
    await send(uri, new PutObjectCommand({ ...where(uri), Body: fs.createReadStream(file), ContentLength: size, ContentType: contentType }));
  },

  writeExclusive: (uri, body, counter) => conditionalPut(uri, body, { IfNoneMatch: '*' }, counter),

  replaceIfUnchanged: (uri, body, seenEtag, counter) => conditionalPut(uri, body, { IfMatch: seenEtag }, counter),

  async copy(from, to) {
    const src = where(from);
    // URL-encoded as S3 wants it, but with "=", ":", "@" and "," as they are (legal in a path, and
    // S3-compatible servers that decode with decodeURI would not find a Hive partition's key).
    const encode = (seg: string) => encodeURIComponent(seg).replace(/%(3D|3A|40|2C)/gi, (m) => decodeURIComponent(m));
    await send(to, new CopyObjectCommand({ ...where(to), CopySource: `${src.Bucket}/${src.Key.split('/').map(encode).join('/')}` }));
  },

  async stat(uri, counter) {
    const res = await send(uri, new HeadObjectCommand(where(uri)), undefined, counter);
    return { uri, size: res.ContentLength, etag: cleanEtag(res.ETag) };
  },

  async delete(uris, counter) {
    if (uris.length === 1) {
      await send(uris[0]!, new DeleteObjectCommand(where(uris[0]!)), undefined, counter);
      return;
    }
    const byBucket = new Map<string, string[]>();
    for (const uri of uris) {
      const { Bucket, Key } = where(uri);
      byBucket.set(Bucket, [...(byBucket.get(Bucket) ?? []), Key]);
    }
    // A thousand keys per DeleteObjects request.
    for (const [bucket, keys] of byBucket) {
      for (let i = 0; i < keys.length; i += 1000) {
        const Objects = keys.slice(i, i + 1000).map((Key) => ({ Key }));
        const out = await send(s3Uri(bucket, ''), new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects, Quiet: true } }), undefined, counter);
        const failed = (out as { Errors?: { Key?: string; Message?: string }[] }).Errors ?? [];
        if (failed.length > 0) throw new StoreError(`could not delete ${s3Uri(bucket, failed[0]!.Key ?? '')}: ${failed[0]!.Message ?? 'unknown reason'} (and ${failed.length - 1} more)`, 'permanent');
      }
    }
  },

  list: (prefixUri, pageSize, opts) => listPages(prefixUri, pageSize, opts),

  async folders(folderUri) {
    const { Bucket, Key } = where(folderUri);
    const prefix = Key === '' || Key.endsWith('/') ? Key : `${Key}/`;
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await send(folderUri, new ListObjectsV2Command({ Bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }));
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix) out.push(s3Uri(Bucket, p.Prefix));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  },

  async refuseMissingBucket(uri) {
    // A HEAD says only 404 whether the object or its bucket is missing: the bucket is asked.
    const { Bucket } = where(uri);
    try {
      await s3Client().send(new HeadBucketCommand({ Bucket }));
    } catch (e) {
      if ((e as SdkError).$metadata?.httpStatusCode === 404) failure(uri, Object.assign(new Error('no such bucket'), { name: 'NoSuchBucket' }));
    }
  },
};
