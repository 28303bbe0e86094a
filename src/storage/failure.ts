import { storeKind, type StoreFailure } from '../errors.js';

/**
 * What a failed read says about retrying it, from the store's typed error alone. permanent: the
 * object itself (missing, too large, a refused key, anything not the store's): an error row.
 * transient: the store or the network (5xx, throttling, resets, time-outs) after retries: the shard
 * is left unfinished, so a later run retries it. fatal: it would fail every image (credentials or
 * access refused, no such bucket, another region): the run stops at once.
 */
export type Failure = 'permanent' | 'transient' | 'fatal';

export function classifyFailure(e: unknown): Failure {
  switch (storeKind(e)) {
    case 'refused':
    case 'fatal':
      return 'fatal';
    case 'transient':
      return 'transient';
    default:
      return 'permanent';
  }
}

/** A 301: the bucket is in another region than the client's, or the endpoint is not the bucket's. */
export function isPermanentRedirect(e: unknown): boolean {
  const f = e as Partial<StoreFailure>;
  return storeKind(e) === 'fatal' && (f.code === 'PermanentRedirect' || f.status === 301);
}
