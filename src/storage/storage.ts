import { setTimeout as sleep } from 'node:timers/promises';
import { isTemporaryRedirect } from './failure.js';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
import { AccessRefused, NotFoundError, UserError } from '../errors.js';
import { countAttempts, requestTimeoutMs, s3Client, type S3Counter } from './s3-client.js';
import { leanGet } from './lean-get.js';
import { parseUri, s3Uri } from './uri.js';

/** One object as a listing or a manifest names it. */
export interface ObjectInfo {
  uri: string;
  size?: number;
  etag?: string;
}

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.code === 'ENOENT' || e?.$metadata?.httpStatusCode === 404;
}

function notFound(uri: string, err: unknown): never {
  const e = err as { name?: string; Code?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  // Every object in a missing bucket is missing: that is the user's bucket name or region, not one object.
  if (e?.name === 'NoSuchBucket' || e?.Code === 'NoSuchBucket') {
    const loc = parseUri(uri);
    throw new UserError(`bucket ${loc.kind === 's3' ? loc.bucket : uri} does not exist (${uri}): check the bucket name, or --region if it is in another region`);
  }
  if (e?.code === 'EISDIR') throw new UserError(`${uri} is a folder, not a file: name a file here (a key list or an Inventory manifest.json)`);
  if (e?.name === 'CredentialsProviderError') {
    throw new UserError(
      `no AWS credentials for ${uri}: set AWS_PROFILE (after "aws sso login" or "aws configure"), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run on a machine with an instance role; for an S3-compatible server give --endpoint`,
    );
  }
  if (isMissing(err)) throw new NotFoundError(`not found: ${uri}`);
  const status = e?.$metadata?.httpStatusCode;
  if (status === 401 || status === 403) {
    const name = e.name && e.name !== 'UnknownError' ? ` ${e.name}` : '';
    throw new AccessRefused(`S3 refused access to ${uri} (HTTP ${status}${name}): check the credentials, the region and the bucket policy`);
  }
  throw err;
}

type Sendable = CopyObjectCommand | GetObjectCommand | HeadObjectCommand | PutObjectCommand | ListObjectsV2Command | DeleteObjectCommand | DeleteObjectsCommand;
type Output<C> = C extends GetObjectCommand
  ? GetObjectCommandOutput
  : C extends HeadObjectCommand
    ? HeadObjectCommandOutput
    : C extends ListObjectsV2Command
      ? ListObjectsV2CommandOutput
      : { $metadata: { attempts?: number } };

/** Every S3 request goes through here: attempts are counted, and a 404 becomes NotFoundError. */
async function send<C extends Sendable>(uri: string, command: C, abortSignal?: AbortSignal, counter?: S3Counter): Promise<Output<C>> {
  try {
    const out = (await s3Client().send(command as never, { abortSignal })) as Output<C>;
    countAttempts(out.$metadata, true, counter);
    return out;
  } catch (e) {
    // A request abandoned on purpose (the loser of a hedged read) did not fail, nor did a 404: it is an answer.
    countAttempts((e as { $metadata?: { attempts?: number } }).$metadata, abortSignal?.aborted === true || isMissing(e), counter);
    return notFound(uri, e);
  }
}

/** Strip the quotes S3 puts around ETags, so the same object always has the same string. */
export function cleanEtag(etag: string | undefined): string | undefined {
  return etag === undefined ? undefined : etag.replace(/^"+|"+$/g, '');
}

async function readLocalRange(file: string, start: number, end: number): Promise<Buffer> {
  const fh = await fsp.open(file).catch((e) => notFound(file, e));
  try {
    const buf = Buffer.alloc(end - start);
    const { bytesRead } = await fh.read(buf, 0, buf.length, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** GET a whole object (or a byte range) with its ETag, for the fetch stage and for metadata files. */
/**
 * A key with a "." or ".." segment is not fetched: HTTP layers (the SDK, proxies, S3-compatible
 * servers) normalise such paths, and the bytes would be another object's.
 */
function refuseDotSegments(uri: string, key: string): void {
  if (key.split('/').some((seg) => seg === '.' || seg === '..')) {
    throw new Error(`the key of ${uri} has a "." or ".." path segment, which HTTP layers rewrite into another object's name: not fetched`);
  }
}

/** range: bytes [start, end); maxBytes: refuse a larger object before reading its body; signal: abandon the request. */
export interface ReadOptions {
  range?: { start: number; end: number };
  maxBytes?: number;
  signal?: AbortSignal;
  /** Counts the requests (see countAttempts). */
  counter?: S3Counter;
}

const statFile = promisify(fs.stat);
const readWholeFile = promisify(fs.readFile);

export async function readObject(uri: string, opts: ReadOptions = {}): Promise<{ body: Buffer; etag?: string; modified?: Date }> {
  const { range, maxBytes = Infinity } = opts;
  const loc = parseUri(uri);
  if (loc.kind === 's3') refuseDotSegments(uri, loc.key);
  if (loc.kind === 'local') {
    // fs's callback API: half the CPU per file of fs/promises' FileHandles, which matters per image.
    const stat = await statFile(loc.path).catch((e) => notFound(uri, e));
    if (!range && stat.size > maxBytes) throw new Error(overLimit(stat.size, maxBytes));
    const body = range ? await readLocalRange(loc.path, range.start, range.end) : await readWholeFile(loc.path).catch((e) => notFound(uri, e));
    return { body, modified: stat.mtime };
  }
  if (!range) {
    const lean = await leanGet(loc.bucket, loc.key, { maxBytes, signal: opts.signal, timeoutMs: requestTimeoutMs() });
    if (lean && lean.status !== 'skipped') {
      countAttempts({ attempts: 1 }, true, opts.counter);
      if (lean.status === 'missing') throw new NotFoundError(`not found: ${uri}`);
      if (lean.status === 'too-big') throw new Error(overLimit(lean.length, maxBytes));
      return { body: lean.body, etag: cleanEtag(lean.etag), modified: lean.modified };
    }
    // A lean attempt that did not answer counts as the first attempt of the SDK's GET below.
    if (!lean && opts.counter) opts.counter.retries += 1;
  }
  const Range = range ? `bytes=${range.start}-${range.end - 1}` : undefined;
  // The SDK retries a request that fails, not a body cut once its headers came: that is retried
  // here, so one cut connection costs a GET, not the whole shard.
  for (let attempt = 1; ; attempt++) {
    const res = await sendFollowingTemporaryRedirects(() => send(uri, new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key, Range }), opts.signal, opts.counter), opts.counter);
    // Refused from the response's headers: the body of an oversized object is never read into memory.
    if ((res.ContentLength ?? 0) > maxBytes) {
      (res.Body as Readable | undefined)?.destroy();
      throw new Error(overLimit(res.ContentLength!, maxBytes));
    }
    try {
      const bytes = await res.Body!.transformToByteArray();
      if (res.ContentLength !== undefined && bytes.byteLength !== res.ContentLength) throw new Error(`body cut at ${bytes.byteLength} of ${res.ContentLength} bytes`);
      // A view, not a copy, of the bytes the SDK collected.
      return { body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), etag: cleanEtag(res.ETag), modified: res.LastModified };
    } catch (e) {
      if (opts.signal?.aborted || attempt >= BODY_ATTEMPTS) throw e;
      if (opts.counter) opts.counter.retries += 1;
    }
  }
}

/** Reads of one object whose body was cut, the first included. */
const BODY_ATTEMPTS = 3;

/** Sends a 307 (TemporaryRedirect) asks to repeat, which the SDK's retries do not: a few times, backing off. */
const REDIRECT_ATTEMPTS = 5;

async function sendFollowingTemporaryRedirects<T>(request: () => Promise<T>, counter?: S3Counter): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (e) {
      if (!isTemporaryRedirect(e) || attempt >= REDIRECT_ATTEMPTS) throw e;
      if (counter) counter.retries += 1;
      await sleep(50 * 2 ** attempt * (0.5 + Math.random()));
    }
  }
}

export const overLimit = (size: number, max: number) => `the object is ${size} bytes, over the ${max}-byte limit (--max-bytes): not read`;

export async function readBytes(uri: string, range?: { start: number; end: number }): Promise<Buffer> {
  return (await readObject(uri, { range })).body;
}

export async function readText(uri: string, counter?: S3Counter): Promise<string> {
  return (await readObject(uri, { counter })).body.toString('utf8');
}

export async function readStream(uri: string): Promise<Readable> {
  const loc = parseUri(uri);
  if (loc.kind === 's3') refuseDotSegments(uri, loc.key);
  if (loc.kind === 'local') {
    const st = await statFile(loc.path).catch((e) => notFound(uri, e));
    if (st.isDirectory()) notFound(uri, Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
    return fs.createReadStream(loc.path);
  }
  return (await send(uri, new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }))).Body as Readable;
}

/** Write a local file beside its final name, then rename it there: readers see the old file or the whole new one. */
async function replaceLocal(file: string, write: (tmp: string) => Promise<void>): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  await write(tmp);
  await syncFile(tmp);
  await fsp.rename(tmp, file);
  await syncDir(path.dirname(file));
}

/** On disk before it is renamed into place: after a power cut a committed name never holds half a file. */
async function syncFile(file: string): Promise<void> {
  const fh = await fsp.open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The rename itself made durable; some file systems cannot sync a directory, which is no error. */
async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r').catch(() => undefined);
  await fh?.sync().catch(() => undefined);
  await fh?.close();
}

/** Whole-object write: one PUT on S3, write-then-rename locally, so readers never see half a file. */
export async function writeBytes(uri: string, body: Uint8Array | string, contentType?: string, counter?: S3Counter): Promise<void> {
  const loc = parseUri(uri);
  if (loc.kind === 'local') return replaceLocal(loc.path, (tmp) => fsp.writeFile(tmp, body));
  await send(uri, new PutObjectCommand({ Bucket: loc.bucket, Key: loc.key, Body: body, ContentType: contentType }), undefined, counter);
}

function isPreconditionFailed(e: unknown): boolean {
  const err = e as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  return err?.code === 'EEXIST' || err?.code === 'ENOENT' || err?.name === 'PreconditionFailed' || err?.$metadata?.httpStatusCode === 412;
}

/**
 * Create an object only if it does not exist (S3 conditional write `If-None-Match: *`; locally
 * O_EXCL). Returns false when it already exists. Needs a store that honours conditional writes.
 */
export async function putIfAbsent(uri: string, body: string, counter?: S3Counter): Promise<boolean> {
  const loc = parseUri(uri);
  try {
    if (loc.kind === 'local') {
      // Written and synced aside, then linked into place: creating the name is atomic and exclusive,
      // and it never names half a file.
      await fsp.mkdir(path.dirname(loc.path), { recursive: true });
      const tmp = `${loc.path}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`;
      try {
        await fsp.writeFile(tmp, body);
        await syncFile(tmp);
        await fsp.link(tmp, loc.path);
      } finally {
        await fsp.rm(tmp, { force: true });
      }
      await syncDir(path.dirname(loc.path));
    } else {
      await send(uri, new PutObjectCommand({ Bucket: loc.bucket, Key: loc.key, Body: body, IfNoneMatch: '*' }), undefined, counter);
    }
    return true;
  } catch (e) {
    if (isPreconditionFailed(e)) return false;
    throw e;
  }
}

/**
 * Replace an object only if it is still the version we read (S3 `If-Match: etag`; locally, the one
 * process whose rename of the old file succeeds wins). Returns false when someone else got there first.
 */
export async function replaceIfUnchanged(uri: string, body: string, seenEtag: string | undefined, counter?: S3Counter): Promise<boolean> {
  const loc = parseUri(uri);
  try {
    if (loc.kind === 'local') {
      const aside = `${loc.path}.old-${process.pid}-${Date.now()}`;
      await fsp.rename(loc.path, aside);
      await fsp.rm(aside, { force: true });
      return putIfAbsent(uri, body, counter);
    }
    await send(uri, new PutObjectCommand({ Bucket: loc.bucket, Key: loc.key, Body: body, IfMatch: seenEtag }), undefined, counter);
    return true;
  } catch (e) {
    if (isPreconditionFailed(e)) return false;
    throw e;
  }
}

/** Copy an object to a local file as a stream: memory does not grow with the object's size. */
/** Copy an object: within S3 by the server (nothing passes through here), else by streaming. */
export async function copyObject(from: string, to: string): Promise<void> {
  const [src, dst] = [parseUri(from), parseUri(to)];
  if (src.kind === 's3' && dst.kind === 's3') {
    // URL-encoded as S3 wants it, but with "=", ":", "@" and "," as they are (legal in a path, and
    // S3-compatible servers that decode with decodeURI would not find a Hive partition's key).
    const encode = (seg: string) => encodeURIComponent(seg).replace(/%(3D|3A|40|2C)/gi, (m) => decodeURIComponent(m));
    const source = `${src.bucket}/${src.key.split('/').map(encode).join('/')}`;
    await send(to, new CopyObjectCommand({ Bucket: dst.bucket, Key: dst.key, CopySource: source }));
  } else if (src.kind === 'local' && dst.kind === 'local') {
    await replaceLocal(dst.path, (tmp) => fsp.copyFile(src.path, tmp));
  } else if (dst.kind === 'local') {
    await replaceLocal(dst.path, (tmp) => downloadFile(from, tmp));
  } else {
    await uploadFile((src as { path: string }).path, to);
  }
}

export async function downloadFile(uri: string, file: string): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await pipeline(await readStream(uri), fs.createWriteStream(file));
}

/** Put a local file at a location as a stream (one PUT on S3, up to 5 GB; write-then-rename locally). */
export async function uploadFile(file: string, uri: string, contentType?: string): Promise<void> {
  const loc = parseUri(uri);
  if (loc.kind === 'local') return replaceLocal(loc.path, (tmp) => fsp.copyFile(file, tmp));
  const { size } = await fsp.stat(file);
  await send(uri, new PutObjectCommand({ Bucket: loc.bucket, Key: loc.key, Body: fs.createReadStream(file), ContentLength: size, ContentType: contentType }));
}

/** Delete many objects: on S3 a thousand per DeleteObjects request. Missing ones are no error. */
export async function deleteObjects(uris: string[]): Promise<void> {
  const byBucket = new Map<string, string[]>();
  for (const uri of uris) {
    const loc = parseUri(uri);
    if (loc.kind === 'local') await fsp.rm(loc.path, { force: true });
    else byBucket.set(loc.bucket, [...(byBucket.get(loc.bucket) ?? []), loc.key]);
  }
  for (const [bucket, keys] of byBucket) {
    for (let i = 0; i < keys.length; i += 1000) {
      const Objects = keys.slice(i, i + 1000).map((Key) => ({ Key }));
      const out = await send(s3Uri(bucket, ''), new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects, Quiet: true } }));
      const failed = (out as { Errors?: { Key?: string; Message?: string }[] }).Errors ?? [];
      if (failed.length > 0) throw new Error(`could not delete ${s3Uri(bucket, failed[0]!.Key ?? '')}: ${failed[0]!.Message ?? 'unknown reason'} (and ${failed.length - 1} more)`);
    }
  }
}

export async function deleteObject(uri: string, counter?: S3Counter): Promise<void> {
  const loc = parseUri(uri);
  if (loc.kind === 'local') await fsp.rm(loc.path, { force: true });
  else await send(uri, new DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key }), undefined, counter);
}

export async function statObject(uri: string, counter?: S3Counter): Promise<ObjectInfo> {
  const loc = parseUri(uri);
  if (loc.kind === 'local') {
    const st = await fsp.stat(loc.path).catch((e) => notFound(uri, e));
    return { uri, size: st.size };
  }
  const res = await send(uri, new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }), undefined, counter);
  return { uri, size: res.ContentLength, etag: cleanEtag(res.ETag) };
}

/**
 * Why an object is missing, when the answer is "its bucket is": a HEAD says only 404 either way,
 * so the bucket is asked. Throws the bucket's UserError; returns when the bucket exists (or is local).
 */
export async function refuseMissingBucket(uri: string): Promise<void> {
  const loc = parseUri(uri);
  if (loc.kind !== 's3') return;
  try {
    await s3Client().send(new HeadBucketCommand({ Bucket: loc.bucket }));
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) notFound(uri, Object.assign(new Error('no such bucket'), { name: 'NoSuchBucket' }));
  }
}

export async function exists(uri: string, counter?: S3Counter): Promise<boolean> {
  try {
    await statObject(uri, counter);
    return true;
  } catch (e) {
    if (e instanceof NotFoundError) return false;
    throw e;
  }
}

/** Every object under a prefix, page by page (ListObjectsV2), in key order; local folders recursively. */
export async function* listObjects(prefixUri: string, pageSize = 1000): AsyncGenerator<ObjectInfo> {
  const loc = parseUri(prefixUri);
  if (loc.kind === 'local') {
    yield* listLocal(loc.path);
    return;
  }
  let token: string | undefined;
  do {
    const page = await send(
      prefixUri,
      new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: loc.key, MaxKeys: pageSize, ContinuationToken: token }),
    );
    for (const obj of page.Contents ?? []) {
      if (obj.Key !== undefined) yield { uri: s3Uri(loc.bucket, obj.Key), size: obj.Size, etag: cleanEtag(obj.ETag) };
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** The immediate sub-folders of a folder (S3: common prefixes under a delimiter), as URIs ending in "/". */
export async function listFolders(folderUri: string): Promise<string[]> {
  const loc = parseUri(folderUri);
  if (loc.kind === 'local') {
    const entries = await fsp.readdir(loc.path, { withFileTypes: true }).catch((e) => notFound(folderUri, e));
    return entries.filter((e) => e.isDirectory()).map((e) => `${path.join(loc.path, e.name)}/`).sort();
  }
  const prefix = loc.key === '' || loc.key.endsWith('/') ? loc.key : `${loc.key}/`;
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await send(folderUri, new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }));
    for (const p of page.CommonPrefixes ?? []) if (p.Prefix) out.push(s3Uri(loc.bucket, p.Prefix));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out.sort();
}

async function* listLocal(dir: string): AsyncGenerator<ObjectInfo> {
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (isMissing(e)) return;
    throw e;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* listLocal(full);
    else if (entry.isFile() && !/\.(tmp|old)-\d+-\d+$/.test(entry.name)) yield { uri: full, size: (await fsp.stat(full)).size };
  }
}
