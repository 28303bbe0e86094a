import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { NotFoundError } from '../errors.js';
import { s3Client } from './s3-client.js';
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
  if (isMissing(err)) throw new NotFoundError(`not found: ${uri}`);
  throw err;
}

/** Strip the quotes S3 puts around ETags, so the same object always has the same string. */
export function cleanEtag(etag: string | undefined): string | undefined {
  return etag === undefined ? undefined : etag.replace(/^"+|"+$/g, '');
}

export async function readBytes(uri: string, range?: { start: number; end: number }): Promise<Buffer> {
  const loc = parseUri(uri);
  if (loc.kind === 'local') {
    if (!range) return fsp.readFile(loc.path).catch((e) => notFound(uri, e));
    const fh = await fsp.open(loc.path).catch((e) => notFound(uri, e));
    try {
      const buf = Buffer.alloc(range.end - range.start);
      const { bytesRead } = await fh.read(buf, 0, buf.length, range.start);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }
  const res = await s3Client()
    .send(
      new GetObjectCommand({
        Bucket: loc.bucket,
        Key: loc.key,
        Range: range ? `bytes=${range.start}-${range.end - 1}` : undefined,
      }),
    )
    .catch((e) => notFound(uri, e));
  return Buffer.from(await res.Body!.transformToByteArray());
}

/** GET with its metadata, for the fetch stage that records size and ETag. */
export async function readObject(uri: string): Promise<{ body: Buffer; etag?: string }> {
  const loc = parseUri(uri);
  if (loc.kind === 'local') return { body: await readBytes(uri) };
  const res = await s3Client()
    .send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }))
    .catch((e) => notFound(uri, e));
  return { body: Buffer.from(await res.Body!.transformToByteArray()), etag: cleanEtag(res.ETag) };
}

export async function readText(uri: string): Promise<string> {
  return (await readBytes(uri)).toString('utf8');
}

export async function readStream(uri: string): Promise<Readable> {
  const loc = parseUri(uri);
  if (loc.kind === 'local') {
    await fsp.access(loc.path).catch((e) => notFound(uri, e));
    return fs.createReadStream(loc.path);
  }
  const res = await s3Client()
    .send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }))
    .catch((e) => notFound(uri, e));
  return res.Body as Readable;
}

/** Whole-object write: one PUT on S3, write-then-rename locally, so readers never see half a file. */
export async function writeBytes(uri: string, body: Uint8Array | string, contentType?: string): Promise<void> {
  const loc = parseUri(uri);
  if (loc.kind === 'local') {
    await fsp.mkdir(path.dirname(loc.path), { recursive: true });
    const tmp = `${loc.path}.tmp-${process.pid}-${Date.now()}`;
    await fsp.writeFile(tmp, body);
    await fsp.rename(tmp, loc.path);
    return;
  }
  await s3Client().send(new PutObjectCommand({ Bucket: loc.bucket, Key: loc.key, Body: body, ContentType: contentType }));
}

export async function statObject(uri: string): Promise<ObjectInfo> {
  const loc = parseUri(uri);
  if (loc.kind === 'local') {
    const st = await fsp.stat(loc.path).catch((e) => notFound(uri, e));
    return { uri, size: st.size };
  }
  const res = await s3Client()
    .send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }))
    .catch((e) => notFound(uri, e));
  return { uri, size: res.ContentLength, etag: cleanEtag(res.ETag) };
}

export async function exists(uri: string): Promise<boolean> {
  try {
    await statObject(uri);
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
  const pages = paginateListObjectsV2({ client: s3Client(), pageSize }, { Bucket: loc.bucket, Prefix: loc.key });
  for await (const page of pages) {
    for (const obj of page.Contents ?? []) {
      if (obj.Key === undefined) continue;
      yield { uri: s3Uri(loc.bucket, obj.Key), size: obj.Size, etag: cleanEtag(obj.ETag) };
    }
  }
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
    else if (entry.isFile()) yield { uri: full, size: (await fsp.stat(full)).size };
  }
}
