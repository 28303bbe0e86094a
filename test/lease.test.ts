import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { acquireLease, acquireLock, type Holder } from '../src/lease/lease.js';
import { imgtag } from './helpers/cli.js';
import { photoPaths, plannedLocalRun } from './helpers/planned.js';
import { readRunResults } from './helpers/results.js';

test('a held lease keeps others off the shard; a dead owner on this host or an expired lease frees it', async () => {
  const run = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-lease-'));
  const first = await acquireLease(run, 0);
  assert.ok(first);
  assert.equal(await acquireLease(run, 0), undefined, 'a live lease is exclusive');
  await first.release();
  const again = await acquireLease(run, 0);
  assert.ok(again, 'a released lease can be taken');
  await again.release();

  const file = path.join(run, 'leases', 'part-00001.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Within the lease time (2 min): an expiry further ahead would be another clock's skew (below).
  const future = new Date(Date.now() + 60_000).toISOString();
  fs.writeFileSync(file, JSON.stringify({ owner: `${os.hostname()}:999999999:dead`, expiresAt: future }));
  assert.ok(await acquireLease(run, 1), 'the owner process is gone');
  fs.writeFileSync(path.join(run, 'leases', 'part-00002.json'), JSON.stringify({ owner: 'other-host:1:x', expiresAt: future }));
  assert.equal(await acquireLease(run, 2), undefined, 'a live lease on another host holds');
  fs.writeFileSync(path.join(run, 'leases', 'part-00003.json'), JSON.stringify({ owner: 'other-host:1:x', expiresAt: new Date(Date.now() - 1).toISOString() }));
  assert.ok(await acquireLease(run, 3), 'an expired lease is taken over');
});

test('two runs racing over the same run directory never tag the same shard twice', async () => {
  // Shards of one image: 40 shards outlast the gap between the two runs' start-ups, so both take part.
  const { run } = await plannedLocalRun('race', photoPaths(420, 40), 1);
  const [a, b] = await Promise.all([imgtag(['run', '--run', run, '--workers', '1', '--threads', '1']), imgtag(['run', '--run', run, '--workers', '1', '--threads', '1'])]);
  // A run that met the other's leases did not see those shards done: exit 3, not 0.
  for (const r of [a, b]) assert.ok(r.code === 0 || (r.code === 3 && /held by another worker's lease/.test(r.stderr)), r.stderr);
  const tagged = (out: string) => Number(/(\d+) tagged/.exec(out)![1]);
  assert.equal(tagged(a.stdout) + tagged(b.stdout), 40, `${a.stdout}\n${b.stdout}`);
  // Once both are done, running again finds every shard done: exit 0.
  const again = await imgtag(['run', '--run', run]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /0 tagged, 40 already done/);
  const pids = new Set(fs.readdirSync(path.join(run, 'commits')).map((f) => JSON.parse(fs.readFileSync(path.join(run, 'commits', f), 'utf8')).pid));
  assert.equal(pids.size, 2, 'both runs did part of the work');
  const { rows } = await readRunResults(run);
  assert.equal(rows.length, 40);
});

test('an unreadable lease file (empty, garbled) holds only for the lease time from when it was written, and never wedges a run', async () => {
  const { run } = await plannedLocalRun('wedge', photoPaths(460, 12), 4);
  const leases = path.join(run, 'leases');
  fs.mkdirSync(leases, { recursive: true });
  const old = new Date(Date.now() - 10 * 60_000);
  // What a full disk or a killed process leaves behind, some time ago: empty, and not JSON.
  fs.writeFileSync(path.join(leases, 'part-00000.json'), '');
  fs.writeFileSync(path.join(leases, 'part-00001.json'), 'garbage{{{');
  for (const f of ['part-00000.json', 'part-00001.json']) fs.utimesSync(path.join(leases, f), old, old);
  // Written just now: someone may be writing it, so it holds, and says whose it is not.
  fs.writeFileSync(path.join(leases, 'part-00002.json'), '');
  assert.equal(await acquireLease(run, 2), undefined, 'a fresh unreadable lease holds');

  // The held shard is not done: exit 3 (retry later), the shard named, no compaction.
  const res = await imgtag(['run', '--run', run, '--workers', '2']);
  assert.equal(res.code, 3, res.stderr);
  assert.match(res.stdout, /2 tagged, 0 already done, 1 held by other workers, 0 unfinished/);
  assert.match(res.stderr, /shard 2 not finished: held by another worker's lease/);
  assert.doesNotMatch(res.stdout, /compacted into/);
  // Asked for alone, it says the same, and counts no shard it was not asked for.
  const one = await imgtag(['run', '--run', run, '--shard', '2']);
  assert.equal(one.code, 3, one.stderr);
  assert.match(one.stdout, /0 tagged, 0 already done, 1 held by other workers, 0 unfinished \(of 3\)/);
  fs.utimesSync(path.join(leases, 'part-00002.json'), old, old);
  const again = await imgtag(['run', '--run', run]);
  assert.equal(again.code, 0, again.stderr);
  const { rows } = await readRunResults(run);
  assert.equal(rows.length, 12);
  assert.equal(new Set(rows.map((r) => r.key)).size, 12);
});

test('clock skew: a lease or lock whose times lie in the future beyond its TTL is stale, and a warning names it', async () => {
  const { run } = await plannedLocalRun('skew', photoPaths(470, 4), 2);
  const leases = path.join(run, 'leases');
  fs.mkdirSync(leases, { recursive: true });
  // Another host's lease, written by a clock years ahead: it would hold its shard until 2030.
  const skewed: Holder = { owner: 'other-host:1:abcd', since: '2030-01-01T00:00:00.000Z', expiresAt: '2030-01-01T00:02:00.000Z' };
  fs.writeFileSync(path.join(leases, 'part-00000.json'), JSON.stringify(skewed));
  // An empty lock file whose mtime is in 2027.
  fs.writeFileSync(path.join(leases, 'part-00001.json'), '');
  const future = new Date('2027-06-01T00:00:00Z');
  fs.utimesSync(path.join(leases, 'part-00001.json'), future, future);
  // A live lease of another host, within its TTL: still holds.
  fs.writeFileSync(path.join(run, 'live.lock'), JSON.stringify({ owner: 'other-host:2:efgh', since: new Date().toISOString(), expiresAt: new Date(Date.now() + 60_000).toISOString() } satisfies Holder));
  assert.ok('holder' in (await acquireLock(path.join(run, 'live.lock'), 120_000)), 'a lease within its TTL holds');

  const res = await imgtag(['run', '--run', run]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stderr, /expires 2030-01-01T00:02:00.000Z, more than its 120 s lease time from now \(clock skew\?\): taken over as stale/);
  assert.match(res.stderr, /written 2027-06-01T00:00:00.000Z, in the future \(clock skew\?\): taken over as stale/);
  assert.equal((await readRunResults(run)).rows.length, 4);
});

test('a lock taken over while its holder stalled is not revived by the holder: stillHeld says so', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-stall-'));
  const uri = path.join(dir, 'listener.json');
  const got = await acquireLock(uri, 900);
  assert.ok('lease' in got);
  assert.equal(await got.lease.stillHeld(), true);
  // Another process judged it dead (its expiry passed) and took it.
  fs.writeFileSync(uri, JSON.stringify({ owner: 'nightly-host:1:abcd', since: new Date().toISOString(), expiresAt: new Date(Date.now() + 60_000).toISOString() }));
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(await got.lease.stillHeld(), false);
  assert.match(fs.readFileSync(uri, 'utf8'), /nightly-host/, 'the stalled holder\'s renewal left the new owner\'s lock alone');
});
