import type { Readable } from 'node:stream';
import type { Cancel } from './cancel.js';
import type { S3Counter } from './s3-config.js';

/** One object as a listing or a manifest names it. */
export interface ObjectInfo {
  uri: string;
  size?: number;
  etag?: string;
  /** When it was last written (listings give it; key lists do not). */
  modified?: Date;
}

/** range: bytes [start, end); maxBytes: refuse a larger object before reading its body; cancel: abandon the request. */
export interface ReadOptions {
  range?: { start: number; end: number };
  maxBytes?: number;
  cancel?: Cancel;
  /** Counts the requests (see countAttempts). */
  counter?: S3Counter;
}

export interface ListOptions {
  /** Only objects whose URI sorts after this one (S3: ListObjectsV2 StartAfter). */
  startAfter?: string;
  /** Counts the requests (one per page on S3). */
  counter?: S3Counter;
}

export interface ReadResult {
  body: Buffer;
  etag?: string;
  modified?: Date;
}

/**
 * One backend: local files or S3. Every method takes the object's full URI (a local path or
 * s3://bucket/key) and says what went wrong with a typed error (errors.ts: `kind`), never in words
 * a caller has to match. Writes are whole-object: a reader sees the old object or the new one.
 */
export interface Store {
  read(uri: string, opts: ReadOptions): Promise<ReadResult>;
  stream(uri: string): Promise<Readable>;
  write(uri: string, body: Uint8Array | string, contentType?: string, counter?: S3Counter): Promise<void>;
  /** A local file's bytes, streamed: memory does not grow with the file. */
  upload(file: string, uri: string, contentType?: string): Promise<void>;
  /** Create only if absent: false when it exists already. */
  writeExclusive(uri: string, body: string, counter?: S3Counter): Promise<boolean>;
  /** Replace only if still the version whose ETag was read: false when another got there first. */
  replaceIfUnchanged(uri: string, body: string, seenEtag: string | undefined, counter?: S3Counter): Promise<boolean>;
  /** A copy within this store (a server-side copy on S3). */
  copy(from: string, to: string): Promise<void>;
  stat(uri: string, counter?: S3Counter): Promise<ObjectInfo>;
  /** Missing objects are no error. */
  delete(uris: string[], counter?: S3Counter): Promise<void>;
  /** Every object under a prefix, in key order; from after `startAfter` (a full URI) when given. */
  list(prefixUri: string, pageSize: number, opts?: ListOptions): AsyncGenerator<ObjectInfo>;
  /** The immediate sub-folders of a folder, as URIs ending in "/". */
  folders(folderUri: string): Promise<string[]>;
  /** Throws the bucket's error when the bucket does not exist; nothing for a local path. */
  refuseMissingBucket(uri: string): Promise<void>;
}

export const overLimit = (size: number, max: number) => `the object is ${size} bytes, over the ${max}-byte limit (--max-bytes): not read`;
