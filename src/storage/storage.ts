import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFoundError } from '../errors.js';
import { localStore, replaceLocal } from './local-store.js';
import type { S3Counter } from './s3-config.js';
import type { ListOptions, ObjectInfo, ReadOptions, ReadResult, Store } from './store.js';
import { isS3Uri } from './uri.js';

/**
 * Every read and write of imgtag goes through these functions, whatever the location: each picks
 * the store (local files or S3) by the URI and leaves the rest to it. Failures are the stores'
 * typed errors (errors.ts `kind`).
 */
let s3: Promise<Store> | undefined;
// The AWS SDK loads on the first S3 URI: ~0.3 s of CPU that a process over local files never spends.
const s3Store = (): Promise<Store> => (s3 ??= import('./s3-store.js').then((m) => m.s3Store));
const storeOf = async (uri: string): Promise<Store> => (isS3Uri(uri) ? s3Store() : localStore);

/** GET a whole object (or a byte range) with its ETag, for the fetch stage and for metadata files. */
export const readObject = async (uri: string, opts: ReadOptions = {}): Promise<ReadResult> => (await storeOf(uri)).read(uri, opts);

export async function readBytes(uri: string, range?: { start: number; end: number }): Promise<Buffer> {
  return (await readObject(uri, { range })).body;
}

export async function readText(uri: string, counter?: S3Counter): Promise<string> {
  return (await readObject(uri, { counter })).body.toString('utf8');
}

export const readStream = async (uri: string): Promise<Readable> => (await storeOf(uri)).stream(uri);

/** Whole-object write: one PUT on S3, write-then-rename locally, so readers never see half a file. */
export const writeBytes = async (uri: string, body: Uint8Array | string, contentType?: string, counter?: S3Counter): Promise<void> => (await storeOf(uri)).write(uri, body, contentType, counter);

/**
 * Create an object only if it does not exist (S3 conditional write `If-None-Match: *`; locally
 * O_EXCL). Returns false when it already exists. Needs a store that honours conditional writes.
 */
export const putIfAbsent = async (uri: string, body: string, counter?: S3Counter): Promise<boolean> => (await storeOf(uri)).writeExclusive(uri, body, counter);

/**
 * Replace an object only if it is still the version we read (S3 `If-Match: etag`; locally, the one
 * process whose rename of the old file succeeds wins). Returns false when someone else got there first.
 */
export const replaceIfUnchanged = async (uri: string, body: string, seenEtag: string | undefined, counter?: S3Counter): Promise<boolean> => (await storeOf(uri)).replaceIfUnchanged(uri, body, seenEtag, counter);

/** Copy an object: within a store by the store (on S3 by the server), across stores by streaming. */
export async function copyObject(from: string, to: string): Promise<void> {
  const [src, dst] = [await storeOf(from), await storeOf(to)];
  if (src === dst) await src.copy(from, to);
  else if (dst === localStore) await replaceLocal(to, (tmp) => downloadFile(from, tmp));
  else await dst.upload(from, to);
}

/** Copy an object to a local file as a stream: memory does not grow with the object's size. */
export async function downloadFile(uri: string, file: string): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await pipeline(await readStream(uri), fs.createWriteStream(file));
}

/** Put a local file at a location as a stream (one PUT on S3, up to 5 GB; write-then-rename locally). */
export const uploadFile = async (file: string, uri: string, contentType?: string): Promise<void> => (await storeOf(uri)).upload(file, uri, contentType);

/** Delete many objects (on S3 a thousand per request). Missing ones are no error. */
export async function deleteObjects(uris: string[]): Promise<void> {
  const remote = uris.filter(isS3Uri);
  if (remote.length > 0) await (await s3Store()).delete(remote);
  await localStore.delete(uris.filter((u) => !isS3Uri(u)));
}

/** Everything under a folder (a run planned for nothing): on S3 every object under the prefix, locally the folder. */
export async function deleteTree(dirUri: string): Promise<void> {
  if (!isS3Uri(dirUri)) return fsp.rm(dirUri, { recursive: true, force: true });
  const uris: string[] = [];
  for await (const o of listObjects(`${dirUri.replace(/\/+$/, '')}/`)) uris.push(o.uri);
  await deleteObjects(uris);
}

export const deleteObject = async (uri: string, counter?: S3Counter): Promise<void> => (await storeOf(uri)).delete([uri], counter);

export const statObject = async (uri: string, counter?: S3Counter): Promise<ObjectInfo> => (await storeOf(uri)).stat(uri, counter);

/**
 * Why an object is missing, when the answer is "its bucket is": a HEAD says only 404 either way,
 * so the bucket is asked. Throws the bucket's error; returns when the bucket exists (or is local).
 */
export const refuseMissingBucket = async (uri: string): Promise<void> => (await storeOf(uri)).refuseMissingBucket(uri);

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
export async function* listObjects(prefixUri: string, pageSize = 1000, opts?: ListOptions): AsyncGenerator<ObjectInfo> {
  yield* (await storeOf(prefixUri)).list(prefixUri, pageSize, opts);
}

/** The immediate sub-folders of a folder (S3: common prefixes under a delimiter), as URIs ending in "/". */
export const listFolders = async (folderUri: string): Promise<string[]> => (await storeOf(folderUri)).folders(folderUri);
