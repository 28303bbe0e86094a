import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { deleteObjects, exists, readText, writeBytes } from '../src/storage/storage.js';
import type { FleetJob } from './helpers/batch-fleet.js';
import { events } from './helpers/cli.js';
import { assertCurrent } from './helpers/current-table.js';
import { IMAGENET_DIR, imagenetFiles, ROOT } from './helpers/env.js';
import { jobLog, startRehearsal, type Rehearsal } from './helpers/rehearsal.js';
import { modelColumn, readRunResults } from './helpers/results.js';
import { newBucket } from './helpers/s3.js';
import { terraformMissing } from './helpers/terraform.js';

/*
 * The fleet's first week, rehearsed: the job definitions and the schedule's input come from a real
 * plan of the module (README variables, pointed at a loopback bucket), and a loopback AWS Batch
 * runs them as Batch would (commands, Ref:: parameters, retry rules, dependencies, array children).
 * A low fleet threshold and small shards send every night's delta to the fleet as an array job.
 */

const photo = (i: number) => fs.readFileSync(path.join(IMAGENET_DIR, imagenetFiles()[i % imagenetFiles().length]!));
const FLEET = { nightly_fleet_threshold: 1, nightly_shard_size: 4, job_workers: 1 };

async function upload(r: Rehearsal, from: number, to: number, offset = 0): Promise<void> {
  for (let i = from; i < to; i++) await writeBytes(`s3://${r.bucket}/img/${i}.jpg`, photo(i + offset));
}

const byName = (jobs: FleetJob[], suffix: string) => jobs.filter((j) => j.jobName.endsWith(suffix));
const nightlyJob = (jobs: FleetJob[]) => jobs.find((j) => j.jobName === 'imgtag-nightly')!;
/** What a person is paged about: the alarm rule's jobs (failed after retries, not array children). */
const paged = (r: Rehearsal) => r.fleet.events.filter((e) => e.detail.status === 'FAILED' && !(e.detail.arrayProperties && 'index' in e.detail.arrayProperties));

/** The nightly root a nightly job was given (its --root). */
const rootOf = (job: FleetJob) => job.command[job.command.indexOf('--root') + 1]!;

/** The column name of a model in the tables: the Athena table's `table_models` entry. */
const modelColumnName = (model: string) => modelColumn('model', model).slice('model_'.length);

/** The current table is exactly the bucket; current.json and the Glue table name the same version. */
async function assertNight(r: Rehearsal, jobs: FleetJob[]): Promise<void> {
  assert.ok(jobs.every((j) => j.status === 'SUCCEEDED'), jobLog(jobs));
  await assertCurrent(r.root, r.bucket, 'mobilenetv2_12_int8');
  const table = JSON.parse(await readText(`${r.root}/current.json`)) as { location: string };
  assert.equal(r.glue.location, table.location, 'the Glue table points at the new version');
  assert.ok(table.location.startsWith(r.tableLocation), `${table.location} is under the module's table location ${r.tableLocation}`);
}

/** A rehearsal over a fresh bucket, closed after `body`; skipped where Terraform or its provider mirror is missing. */
async function rehearse(t: { skip(why: string): void }, name: string, body: (r: Rehearsal) => Promise<void>, vars: Record<string, unknown> = {}, options: Parameters<typeof startRehearsal>[2] = {}): Promise<void> {
  const why = await terraformMissing();
  if (why) return t.skip(why);
  const r = await startRehearsal(await newBucket(name), { ...FLEET, ...vars }, options);
  try {
    await body(r);
  } finally {
    await r.close();
  }
}

test('three nights from the schedule\'s input over a changing bucket: each delta tagged on the fleet, the current table and the Glue location exact each night', async (t) => {
  await rehearse(t, 'rehearsal-nights', async (r) => {
    await upload(r, 0, 10);
    await r.inventory('2026-12-01');
    const first = await r.night();
    await assertNight(r, first);
    // The nightly planned, submitted an array of 3 children (10 images, 4 per shard) and a compact job on the planning queue.
    const tag = first.find((j) => j.children);
    assert.equal(tag?.children?.length, 3, jobLog(first));
    assert.equal(byName(first, '-compact')[0]?.jobQueue, 'imgtag-planning');

    await upload(r, 10, 14);
    await upload(r, 2, 3, 200); // a changed object: a new ETag
    await deleteObjects([`s3://${r.bucket}/img/5.jpg`]);
    await r.inventory('2026-12-02');
    const second = await r.night();
    await assertNight(r, second);
    const secondRun = /run\s+(\S+)/.exec(nightlyJob(second).attempts[0]!.output)![1]!;
    assert.deepEqual((await readRunResults(secondRun)).rows.map((row) => String(row.key)).sort(), ['img/10.jpg', 'img/11.jpg', 'img/12.jpg', 'img/13.jpg', 'img/2.jpg']);

    // A night with nothing new: nothing to tag, no array job, the table as it was.
    await r.inventory('2026-12-03');
    const third = await r.night();
    await assertNight(r, third);
    assert.deepEqual(third.map((j) => j.jobName), ['imgtag-nightly'], jobLog(third));
    assert.deepEqual(paged(r), []);
  });
});

test('a child that fails for good: that night ends with a failed job the alarm sees, and the next night finishes the missing shards by itself', async (t) => {
  let reclaim = true;
  await rehearse(t, 'rehearsal-failed', async (r) => {
    await upload(r, 0, 10);
    await r.inventory('2026-12-01');
    const first = await r.night();
    const [tag] = first.filter((j) => j.children);
    const child = tag!.children![1]!;
    assert.equal(child.status, 'FAILED', jobLog(first));
    assert.equal(child.attempts.length, (r.plan.resources.get('aws_batch_job_definition.job["tag"]')!.after.retry_strategy as { attempts: number }[])[0]!.attempts);
    assert.ok(child.attempts.every((a) => a.statusReason.startsWith('Host EC2 (instance i-')), jobLog([tag!]));
    assert.equal(tag!.status, 'FAILED');
    const compact = byName(first, '-compact')[0]!;
    assert.deepEqual([compact.status, compact.statusReason], ['FAILED', 'Dependent Job failed']);
    // A person is paged: the array job and its compact job failed (the alarm rule leaves children out).
    assert.deepEqual(paged(r).map((e) => e.detail.jobId).sort(), [tag!.jobId, compact.jobId].sort());
    assert.equal(nightlyJob(first).status, 'SUCCEEDED');

    // The next night: the nightly asks Batch, finds the job ended, resubmits the one unfinished shard.
    reclaim = false;
    await r.inventory('2026-12-02');
    const second = await r.night();
    const out = nightlyJob(second).attempts.at(-1)!.output;
    assert.match(out, /"event":"nightly-resubmitted"/);
    assert.match(out, /has 2 of 3 shards committed and its job \S+ ended FAILED \(Array Child Job failed \(1 of 3\)\): resubmitted the unfinished shards as job \S+ \(array of 1; resubmission 1 of 3\)/);
    const again = second.filter((j) => j.jobName !== 'imgtag-nightly');
    assert.deepEqual(again.map((j) => [j.children?.length ?? 1, j.status]), [[1, 'SUCCEEDED'], [1, 'SUCCEEDED']], jobLog(second));
    await assertNight(r, second);
    const rows = (await readRunResults(JSON.parse(await readText(`${r.root}/current.json`)).run as string)).rows;
    assert.equal(rows.length, 10, 'one row per image: the shard was tagged once');

    // And the night after plans anew.
    await upload(r, 10, 12);
    await r.inventory('2026-12-03');
    await assertNight(r, await r.night());
    assert.equal(paged(r).length, 2, 'no new page');
  }, {}, {
    // Child 1 of the first array loses its host at every attempt: its retries run out.
    onAttempt: (job, _attempt, fleet) => {
      if (reclaim && job.index === 1) setTimeout(() => fleet.terminateHost(job), 100);
    },
  });
});

test('hosts terminated in the middle of an array: the attempts retried, one row per image, every job exit 0', async (t) => {
  const killed = new Set<string>();
  await rehearse(t, 'rehearsal-reclaim', async (r) => {
    await upload(r, 0, 12);
    await r.inventory('2026-12-01');
    const jobs = await r.night();
    await assertNight(r, jobs);
    const tag = jobs.find((j) => j.children)!;
    for (const i of [0, 2]) {
      const attempts = tag.children![i]!.attempts;
      assert.match(attempts[0]!.statusReason, /^Host EC2 \(instance i-[0-9a-f]+\) terminated\.$/);
      assert.equal(attempts.at(-1)!.exitCode, 0, jobLog([tag]));
    }
    const run = JSON.parse(await readText(`${r.root}/current.json`)).run as string;
    const keys = (await readRunResults(run)).rows.map((row) => String(row.key));
    assert.equal(keys.length, 12);
    assert.equal(new Set(keys).size, 12, 'one row per image');
  }, {}, {
    // Children 0 and 2 lose their host once, as soon as their run has started.
    onOutput: (job, text, fleet) => {
      if ((job.index === 0 || job.index === 2) && job.attempts.length === 0 && !killed.has(job.jobId) && text.includes('"event":"start"')) {
        killed.add(job.jobId);
        fleet.terminateHost(job);
      }
    },
  });
});

test('a model change to every built-in model on the fleet: the children tag with it', async (t) => {
  await rehearse(t, 'rehearsal-model', async (r) => {
    await upload(r, 0, 6);
    await r.inventory('2026-12-01');
    await assertNight(r, await r.night());
    const builtins = fs.readdirSync(path.join(ROOT, 'models')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
    assert.ok(builtins.length >= 2, builtins.join());
    let date = 2;
    for (const model of builtins.filter((m) => m !== 'mobilenetv2-12-int8')) {
      await r.apply({ model, table_models: [modelColumnName(model)] });
      await r.inventory(`2026-12-0${date++}`);
      const jobs = await r.night();
      assert.ok(jobs.every((j) => j.status === 'SUCCEEDED'), jobLog(jobs));
      const tag = jobs.find((j) => j.jobName !== 'imgtag-nightly' && !j.jobName.endsWith('-compact'))!;
      assert.ok(tag.command.includes(model), `the children run --model ${model}: ${tag.command.join(' ')}`);
      await assertCurrent(r.root, r.bucket, modelColumnName(model));
    }
  });
});

test('the first full tag is a nightly submitted by hand (the README\'s step): the scheduled night after it tags nothing twice', async (t) => {
  await rehearse(t, 'rehearsal-first', async (r) => {
    await upload(r, 0, 10);
    await r.inventory('2026-12-01');
    const input = JSON.parse(String(r.plan.outputs.nightly_submit_job)) as Parameters<Rehearsal['submit']>[0];
    const first = await r.submit(input);
    await assertNight(r, first);
    await r.inventory('2026-12-02');
    const second = await r.night();
    await assertNight(r, second);
    assert.deepEqual(second.map((j) => j.jobName), ['imgtag-nightly'], 'nothing submitted: nothing to tag');
    assert.match(nightlyJob(second).attempts.at(-1)!.output, /^images\s+0$/m);
  });
});

test('the nightly\'s host lost while it tags: the retry takes over its lock, exits 3 ("retry later") on a shard still leased, and the next retry finishes the night', async (t) => {
  let night = 1;
  let leased: string | undefined;
  await rehearse(t, 'rehearsal-exit3', async (r) => {
    await upload(r, 0, 6);
    await r.inventory('2026-12-01');
    await assertNight(r, await r.night());
    // Tonight's nightly job tags its small delta on its own CPU job and loses its host as it starts;
    // one shard is left leased by a worker of another host, for a few seconds more.
    night = 2;
    await upload(r, 6, 10);
    await r.inventory('2026-12-02');
    const jobs = await r.night();
    const attempts = nightlyJob(jobs).attempts;
    assert.deepEqual(attempts.map((a) => a.exitCode ?? a.statusReason.slice(0, 8)), ['Host EC2', 3, 0], jobLog(jobs));
    assert.doesNotMatch(attempts[1]!.output, /nightly-busy/, 'the retry took the lost attempt\'s lock over: not busy');
    assert.match(attempts[1]!.output, /has 1 shard\(s\) held by another worker's lease: run the nightly again later: exit 3/);
    await assertNight(r, jobs);
    const crashed = String(events(attempts[0]!.output).find((e) => e.event === 'start')!.run);
    assert.deepEqual((await readRunResults(crashed)).rows.map((row) => String(row.key)).sort(), ['img/6.jpg', 'img/7.jpg', 'img/8.jpg', 'img/9.jpg'], 'the lost attempt\'s run was finished by the retry, once');
  }, { nightly_fleet_threshold: 1000 }, {
    retryDelayMs: 3000,
    onOutput: (job, text, fleet) => {
      if (night !== 2 || job.jobName !== 'imgtag-nightly') return;
      if (job.attempts.length === 0 && text.includes('"event":"start"')) {
        fleet.terminateHost(job);
        // A worker of another host holds shard 0 (for up to a minute)...
        void (async () => {
          leased = `${(JSON.parse(await readText(`${rootOf(job)}/nightly.json`)) as { run: string }).run}/leases/part-00000.json`;
          const lease = { owner: 'other-host:1:abcd', since: new Date().toISOString(), expiresAt: new Date(Date.now() + 60_000).toISOString() };
          await writeBytes(leased, JSON.stringify(lease));
        })();
      }
      // ...and finishes it (its lease ends) once the retry has said it will try again later.
      if (job.attempts.length === 1 && text.includes("held by another worker's lease") && leased) void deleteObjects([leased]);
    },
  });
});

test('the schedule starts before the first Inventory report: the nights wait quietly, page after 3 days, and tag once it comes', async (t) => {
  await rehearse(t, 'rehearsal-wait', async (r) => {
    await upload(r, 0, 4);
    const quiet = await r.night();
    assert.equal(nightlyJob(quiet).status, 'SUCCEEDED', jobLog(quiet));
    assert.match(nightlyJob(quiet).attempts[0]!.output, /"event":"nightly-waiting"/);
    assert.match(nightlyJob(quiet).attempts[0]!.output, /nothing to tag yet, waiting for the first Inventory report: no report yet in s3:\/\/\S+\/all\/ \(waiting since /);
    assert.deepEqual(paged(r), []);

    // Three days on, still nothing: the nightly fails (exit 1 is not retried) and a person is paged.
    await writeBytes(`${r.root}/waiting.json`, JSON.stringify({ since: new Date(Date.now() - 73 * 3600_000).toISOString() }));
    const late = await r.night();
    assert.deepEqual([nightlyJob(late).status, nightlyJob(late).attempts.map((a) => a.exitCode)], ['FAILED', [1]], jobLog(late));
    assert.match(nightlyJob(late).attempts[0]!.output, /the nightly has waited 73:00:\d\d since \S+ for the first report, which S3 delivers within 48 hours: is the Inventory configuration on the source bucket/);
    assert.deepEqual(paged(r).map((e) => e.detail.jobId), [nightlyJob(late).jobId]);

    await r.inventory('2026-12-01');
    await assertNight(r, await r.night());
    assert.equal(await exists(`${r.root}/waiting.json`), false);
  });
});
