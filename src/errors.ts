/** An error caused by the user's input or environment: printed as one line, no stack trace. */
export class UserError extends Error {
  override name = 'UserError';
}

/**
 * What a store's failure means to whoever asked, whichever store it was: missing (that object is
 * not there); refused (credentials or access: every request would meet it); fatal (no such bucket,
 * another region: every request would); transient (the store or the network, after retries: try
 * again later); conflict (a conditional write lost); permanent (anything else about that object).
 */
export type StoreErrorKind = 'missing' | 'refused' | 'fatal' | 'transient' | 'conflict' | 'permanent';

/** The one shape of a store failure: its kind, and the store's own code and HTTP status where it gave them. */
export interface StoreFailure {
  readonly kind: StoreErrorKind;
  readonly code?: string;
  readonly status?: number;
}

export class StoreError extends Error implements StoreFailure {
  override name = 'StoreError';
  constructor(message: string, readonly kind: StoreErrorKind, readonly code?: string, readonly status?: number) {
    super(message);
  }
}

/** A store failure that is the user's to fix (no bucket, no credentials, a folder named as a file): one line, no stack. */
export class StoreUserError extends UserError implements StoreFailure {
  override name = 'StoreUserError';
  constructor(message: string, readonly kind: StoreErrorKind, readonly code?: string, readonly status?: number) {
    super(message);
  }
}

/** The store refused our credentials or access (HTTP 401/403): every request would meet it, so it stops a run. */
export class AccessRefused extends StoreUserError {
  override name = 'AccessRefused';
  constructor(message: string, status?: number) {
    super(message, 'refused', undefined, status);
  }
}

/** The kind of a store failure; undefined for any other error (a decoder's, a model's). */
export function storeKind(e: unknown): StoreErrorKind | undefined {
  return e instanceof StoreError || e instanceof StoreUserError ? e.kind : undefined;
}

/**
 * A value the user gave that is not what it must be, said one way everywhere (in the manner of
 * sharp's \`is\` helpers): "--price must be a positive number, not abc".
 */
export function invalid(name: string, expected: string, actual: unknown): UserError {
  return new UserError(`${name} must be ${expected}, not ${typeof actual === 'string' ? actual : JSON.stringify(actual)}`);
}

/** A missing object or file, from either backend, so callers can tell "absent" from "broken". */
export class NotFoundError extends StoreError {
  override name = 'NotFoundError';
  constructor(message: string) {
    super(message, 'missing', 'NotFound', 404);
  }
}

/** One line, without credentials or request signatures, for logs and error rows. */
export function errorMessage(err: unknown): string {
  const raw = err instanceof Error ? err.message || err.name : String(err);
  return raw
    .replace(/\s+/g, ' ')
    .replace(/(X-Amz-(Credential|Signature|Security-Token)=)[^&\s]+/gi, '$1***')
    .trim()
    .slice(0, 300);
}

/** Stops a whole run, not one shard: every shard would fail the same way (another region, a refused key for the images). */
export class RunFatalError extends UserError {
  override name = 'RunFatalError';
}

/** Whether a shard's failure stops the run: the store refusing us or missing the bucket would meet every shard. */
export function isRunFatal(e: unknown): boolean {
  const kind = storeKind(e);
  return e instanceof RunFatalError || kind === 'refused' || kind === 'fatal';
}
