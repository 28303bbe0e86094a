import fs from 'node:fs';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { runLayout } from '../rundir/layout.js';
import { deleteObject, putIfAbsent, readObject, replaceIfUnchanged, writeBytes } from '../storage/storage.js';
import { isS3Uri } from '../storage/uri.js';
import { notice } from '../storage/notices.js';
import { NotFoundError } from '../errors.js';
import type { S3Counter } from '../storage/s3-config.js';
import { settings } from '../settings.js';

/** A lease or lock object: who holds it, since and until when. */
export interface Holder {
  owner: string;
  since: string;
  expiresAt: string;
}

export interface Lease {
  owner: string;
  /** Whether the lock is still ours and unexpired, as the store has it now (a stalled holder may have lost it). */
  stillHeld(): Promise<boolean>;
  release(): Promise<void>;
}

/** How long a shard lease holds without renewal (renewed every third of it): a dead machine's shards free up after this. */
export const leaseTtlMs = () => settings().leaseTtlMs;

/** A lock taken on this host by a process that no longer exists (killed worker, crashed run) is stale at once. */
function ownerIsDeadHere(owner: string): boolean {
  const [host, pid] = owner.split(':');
  if (host !== os.hostname() || !pid) return false;
  try {
    process.kill(Number(pid), 0);
  } catch (e) {
    return (e as { code?: string }).code === 'ESRCH';
  }
  // An unreaped zombie still answers signal 0 (containers without an init): read its state.
  try {
    return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The lock's holder; undefined when there is no lock. A file that is not a holder's JSON (a killed
 * process's half-written one, an empty one a full disk left) is held by nobody known: it counts as
 * live until its age passes the lease time, then it is taken over like an expired lease.
 */
async function readHolder(uri: string, ttlMs: number, counter?: S3Counter): Promise<{ holder: Holder; etag?: string; written?: Date } | undefined> {
  let seen: Awaited<ReturnType<typeof readObject>>;
  try {
    seen = await readObject(uri, { counter });
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
  try {
    const holder = JSON.parse(seen.body.toString('utf8')) as Holder;
    if (typeof holder.owner === 'string' && typeof holder.expiresAt === 'string') return { holder, etag: seen.etag, written: seen.modified };
  } catch {
    // not JSON: below
  }
  const written = seen.modified ?? new Date(0);
  return { holder: { owner: `unreadable lease file ${uri}`, since: written.toISOString(), expiresAt: new Date(written.getTime() + ttlMs).toISOString() }, etag: seen.etag, written };
}

/** Locks this process holds now, so a process told to stop can give them all back at once. */
const held = new Set<Lease>();

/** Give back every lock this process holds (a graceful stop): their work is unfinished, another worker may take it now. */
export async function releaseHeldLocks(): Promise<number> {
  const all = [...held];
  await Promise.all(all.map((l) => l.release().catch(() => undefined)));
  return all.length;
}

/** How far another host's clock may run ahead before its lock's times are not believed. */
const SKEW_SLACK_MS = 60_000;

/**
 * Why a holder's times cannot be true (a clock running ahead: the lock would hold until then), or
 * undefined. A lease never expires more than its TTL after it was renewed, so an expiry beyond
 * now + TTL, or a file written in the future, is another host's wrong clock.
 */
function skewed(h: Holder, ttlMs: number, written?: Date): string | undefined {
  const now = Date.now();
  if (written && written.getTime() > now + SKEW_SLACK_MS) return `written ${written.toISOString()}, in the future`;
  if (Date.parse(h.expiresAt) > now + ttlMs + SKEW_SLACK_MS) return `expires ${h.expiresAt}, more than its ${Math.round(ttlMs / 1000)} s lease time from now`;
  return undefined;
}

function isLive(uri: string, seen: { holder: Holder; written?: Date }, ttlMs: number): boolean {
  const skew = skewed(seen.holder, ttlMs, seen.written);
  if (skew) {
    // Taken over, and said so: the other host's clock needs fixing.
    notice(`${uri} (owner ${seen.holder.owner}) ${skew} (clock skew?): taken over as stale`);
    return false;
  }
  return Date.parse(seen.holder.expiresAt) > Date.now() && !ownerIsDeadHere(seen.holder.owner) && !earlierAttemptOfThisJob(seen.holder.owner);
}

/** An AWS Batch job's id and attempt in its lock owners: `host:pid:random:job=<id>@<attempt>` (an array child's id ends in `:<index>`). */
const JOB_TAG = ':job=';
const ownerTag = () => (process.env.AWS_BATCH_JOB_ID ? `${JOB_TAG}${process.env.AWS_BATCH_JOB_ID}@${Number(process.env.AWS_BATCH_JOB_ATTEMPT) || 1}` : '');

/**
 * Batch runs one attempt of a job at a time: a lock or lease held by an earlier attempt of this job
 * is on a host that is gone (a spot reclaim) or in a container that exited. The retry takes it
 * over at once instead of waiting out its lease, which would spend the job's attempts on exit 3
 * (a child) or skip the night as busy (the nightly). Workers of one attempt share its number and
 * keep each other's leases as usual.
 */
function earlierAttemptOfThisJob(owner: string): boolean {
  const ours = /:job=(.+)@(\d+)$/.exec(ownerTag());
  const theirs = /:job=(.+)@(\d+)$/.exec(owner);
  return ours !== null && theirs !== null && theirs[1] === ours[1] && Number(theirs[2]) < Number(ours[2]);
}

/**
 * Take a lock object, so no two workers (processes or machines) hold it at once, and renew it
 * while held. Conditional writes make it safe: create-if-absent, and take-over of an expired or
 * dead holder's lock only if unchanged. Otherwise answers who holds it.
 */
export async function acquireLock(uri: string, ttlMs: number, counter?: S3Counter): Promise<{ lease: Lease } | { holder: Holder }> {
  const owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}${ownerTag()}`;
  const since = new Date().toISOString();
  const body = () => JSON.stringify({ owner, since, expiresAt: new Date(Date.now() + ttlMs).toISOString() } satisfies Holder);
  // Read first: a store without conditional writes then still refuses any overlap that is not simultaneous.
  // Bounded: a lock that keeps changing under us is reported as held, never spun on.
  for (let attempt = 0; ; attempt++) {
    const seen = await readHolder(uri, ttlMs, counter);
    if (seen && isLive(uri, seen, ttlMs)) return { holder: seen.holder };
    const taken = seen ? await replaceIfUnchanged(uri, body(), seen.etag, counter) : await putIfAbsent(uri, body(), counter);
    if (taken) break;
    const now = await readHolder(uri, ttlMs, counter);
    if (now || attempt >= 2) return { holder: now?.holder ?? { owner: 'unknown (the lock changed while it was taken)', since, expiresAt: since } };
  }
  const renew = setInterval(async () => {
    const current = await readHolder(uri, ttlMs, counter).catch(() => undefined);
    // A failed renewal is retried at the next tick; commit markers still guard exactly-once. An
    // expired lock is not revived: another process may have judged it dead and acted on that.
    if (current?.holder.owner !== owner || Date.parse(current.holder.expiresAt) <= Date.now()) return;
    // Our own lock: on S3 only if unchanged; locally an atomic replace, never a moment without the file.
    await (isS3Uri(uri) ? replaceIfUnchanged(uri, body(), current.etag, counter) : writeBytes(uri, body())).catch(() => undefined);
  }, ttlMs / 3);
  renew.unref();
  const lease: Lease = {
    owner,
    async stillHeld() {
      const current = await readHolder(uri, ttlMs, counter);
      return current?.holder.owner === owner && Date.parse(current.holder.expiresAt) > Date.now();
    },
    async release() {
      // Once only: a second delete could remove the lock another worker has taken since.
      if (!held.delete(lease)) return;
      clearInterval(renew);
      await deleteObject(uri, counter);
    },
  };
  held.add(lease);
  return { lease };
}

/** The lease on one shard of a run; undefined when another live worker holds it. */
export async function acquireLease(run: string, shard: number, counter?: S3Counter): Promise<Lease | undefined> {
  const got = await acquireLock(runLayout.lease(run, shard), leaseTtlMs(), counter);
  return 'lease' in got ? got.lease : undefined;
}
