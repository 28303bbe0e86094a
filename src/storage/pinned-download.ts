import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';

/** How long a download may wait for the server's answer (headers); the body may take longer. */
const ANSWER_TIMEOUT_MS = 20_000;

const GITHUB_RAW = 'https://raw.githubusercontent.com';

/** The URL to fetch: the pinned one, or the same /owner/repo/commit/path under a mirror's base. */
export function mirroredUrl(url: string, mirror?: string): string {
  return mirror ? url.replace(GITHUB_RAW, mirror.replace(/\/+$/, '')) : url;
}

/**
 * Download `url` to `dest` (via a .part file, so a cut download never looks complete), refusing
 * bytes whose sha256 is not the pinned one. Whatever stops it, the error names the URL and
 * `around`: what the user can do instead (a folder to point at, a mirror).
 */
export async function downloadPinned(url: string, sha256: string | undefined, dest: string, around: string): Promise<number> {
  let res: Response;
  // A network that drops packets (a firewall, no route) would leave fetch waiting for minutes.
  const answer = new AbortController();
  const timer = setTimeout(() => answer.abort(), ANSWER_TIMEOUT_MS);
  try {
    res = await fetch(url, { signal: answer.signal });
  } catch (e) {
    const cause = answer.signal.aborted ? `no answer within ${ANSWER_TIMEOUT_MS / 1000} s` : ((e as { cause?: { code?: string; message?: string } }).cause?.code ?? (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message);
    throw new UserError(`downloading ${url} failed (${cause}: offline, or no route to that host): ${around}`);
  } finally {
    clearTimeout(timer);
  }
  if (!res.ok) throw new UserError(`downloading ${url} failed: HTTP ${res.status}: ${around}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const got = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== undefined && got !== sha256) throw new UserError(`${url} has sha256 ${got}, expected ${sha256}: not saved`);
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  await fsp.writeFile(`${dest}.part`, bytes);
  await fsp.rename(`${dest}.part`, dest);
  return bytes.length;
}
