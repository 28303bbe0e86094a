import path from 'node:path';
import { UserError } from '../errors.js';

/** Every input and output location is a local path or an `s3://bucket/key` URI. */
export type Location =
  | { kind: 's3'; bucket: string; key: string }
  | { kind: 'local'; path: string };

export function isS3Uri(uri: string): boolean {
  return uri.startsWith('s3://');
}

export function parseUri(uri: string): Location {
  if (isS3Uri(uri)) {
    const rest = uri.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const key = slash === -1 ? '' : rest.slice(slash + 1);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new UserError(`not a valid S3 bucket name in "${uri}"`);
    }
    return { kind: 's3', bucket, key };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw new UserError(`unsupported URI scheme in "${uri}": use a local path or s3://bucket/prefix`);
  }
  return { kind: 'local', path: path.resolve(uri) };
}

export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/**
 * Join path segments onto a base location with "/", whichever backend it is. A relative local base
 * is made absolute here: what a run records (done.json's files, current.json's root) then names the
 * same files from any folder, and `--run ./r1` and `--run $PWD/r1` are one run.
 */
export function joinUri(base: string, ...parts: string[]): string {
  if (isS3Uri(base)) {
    const trimmed = base.replace(/\/+$/, '');
    return [trimmed, ...parts].join('/');
  }
  return path.join(path.resolve(base), ...parts);
}

/** The folder that holds a location, used to resolve relative entries of a key list. */
export function dirnameUri(uri: string): string {
  if (isS3Uri(uri)) {
    const loc = parseUri(uri) as { bucket: string; key: string };
    const i = loc.key.lastIndexOf('/');
    return s3Uri(loc.bucket, i === -1 ? '' : loc.key.slice(0, i));
  }
  return path.dirname(path.resolve(uri));
}

/** The last path segment of a location: a run directory's name. */
export function basenameUri(uri: string): string {
  const trimmed = uri.replace(/[/\\]+$/, '');
  return isS3Uri(trimmed) ? trimmed.slice(trimmed.lastIndexOf('/') + 1) : path.basename(trimmed);
}
