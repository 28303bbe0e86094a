/** An error caused by the user's input or environment: printed as one line, no stack trace. */
export class UserError extends Error {
  override name = 'UserError';
}

/** The store refused our credentials or access (HTTP 401/403): every request would meet it, so it stops a run. */
export class AccessRefused extends UserError {
  override name = 'AccessRefused';
}

/**
 * A value the user gave that is not what it must be, said one way everywhere (in the manner of
 * sharp's \`is\` helpers): "--price must be a positive number, not abc".
 */
export function invalid(name: string, expected: string, actual: unknown): UserError {
  return new UserError(`${name} must be ${expected}, not ${typeof actual === 'string' ? actual : JSON.stringify(actual)}`);
}

/** A missing object or file, from either backend, so callers can tell "absent" from "broken". */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
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
