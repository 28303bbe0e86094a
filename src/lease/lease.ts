import fs from 'node:fs';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { runLayout } from '../run-dir.js';
import { deleteObject, putIfAbsent, readObject, replaceIfUnchanged } from '../storage/storage.js';
import { NotFoundError } from '../errors.js';

/** leases/part-NNNNN.json: who works on a shard, until when. */
interface LeaseBody {
  owner: string;
  expiresAt: string;
}

export interface Lease {
  owner: string;
  release(): Promise<void>;
}

/** How long a lease holds without renewal (renewed every third of it): a dead machine's shards free up after this. */
export const LEASE_TTL_MS = Number(process.env.IMGTAG_LEASE_TTL_MS ?? 2 * 60_000);

/** A lease taken on this host by a process that no longer exists (killed worker, crashed run) is stale at once. */
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

const body = (owner: string): string => JSON.stringify({ owner, expiresAt: new Date(Date.now() + LEASE_TTL_MS).toISOString() });

/**
 * Take the shard's lease, so no two workers (processes or machines) tag it at once. Conditional
 * writes make it safe: create-if-absent, and take-over of an expired lease only if unchanged.
 * Returns undefined when another live worker holds it. The lease is renewed while held.
 */
export async function acquireLease(run: string, shard: number): Promise<Lease | undefined> {
  const uri = runLayout.lease(run, shard);
  const owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  let taken = await putIfAbsent(uri, body(owner));
  if (!taken) {
    let seen: { body: Buffer; etag?: string };
    try {
      seen = await readObject(uri);
    } catch (e) {
      if (e instanceof NotFoundError) return acquireLease(run, shard); // released meanwhile
      throw e;
    }
    const held = JSON.parse(seen.body.toString('utf8')) as LeaseBody;
    if (Date.parse(held.expiresAt) > Date.now() && !ownerIsDeadHere(held.owner)) return undefined;
    taken = await replaceIfUnchanged(uri, body(owner), seen.etag);
    if (!taken) return undefined;
  }
  const renew = setInterval(() => void putLease(uri, owner), LEASE_TTL_MS / 3);
  renew.unref();
  return {
    owner,
    async release() {
      clearInterval(renew);
      await deleteObject(uri);
    },
  };
}

/** Renewal rewrites our own lease with a later expiry. */
async function putLease(uri: string, owner: string): Promise<void> {
  try {
    const seen = await readObject(uri);
    if ((JSON.parse(seen.body.toString('utf8')) as LeaseBody).owner === owner) await replaceIfUnchanged(uri, body(owner), seen.etag);
  } catch {
    // A failed renewal is retried at the next tick; the commit marker still guards exactly-once.
  }
}
