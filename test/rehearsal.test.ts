import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { deleteObjects, readText, writeBytes } from '../src/storage/storage.js';
import type { FleetJob } from './helpers/batch-fleet.js';
import { assertCurrent } from './helpers/current-table.js';
import { IMAGENET_DIR, imagenetFiles } from './helpers/env.js';
import { jobLog, startRehearsal, type Rehearsal } from './helpers/rehearsal.js';
import { readRunResults } from './helpers/results.js';
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

/** The current table is exactly the bucket; current.json and the Glue table name the same version. */
async function assertNight(r: Rehearsal, jobs: FleetJob[]): Promise<void> {
  assert.ok(jobs.every((j) => j.status === 'SUCCEEDED'), jobLog(jobs));
  await assertCurrent(r.root, r.bucket, 'mobilenetv2_12_int8');
  const table = JSON.parse(await readText(`${r.root}/current.json`)) as { location: string };
  assert.equal(r.glue.location, table.location, 'the Glue table points at the new version');
  assert.ok(table.location.startsWith(r.tableLocation), `${table.location} is under the module's table location ${r.tableLocation}`);
}

async function rehearse(t: { skip(why: string): void }, name: string, vars: Record<string, unknown> = {}, options: Parameters<typeof startRehearsal>[2] = {}): Promise<Rehearsal | undefined> {
  const why = await terraformMissing();
  if (why) {
    t.skip(why);
    return undefined;
  }
  return startRehearsal(await newBucket(name), { ...FLEET, ...vars }, options);
}

test('three nights from the schedule\'s input over a changing bucket: each delta tagged on the fleet, the current table and the Glue location exact each night', async (t) => {
  const r = await rehearse(t, 'rehearsal-nights');
  if (!r) return;
  try {
    await upload(r, 0, 10);
    await r.inventory('2026-12-01');
    const first = await r.night();
    await assertNight(r, first);
    // The nightly planned, submitted an array of 3 children (10 images, 4 per shard) and a compact job on the planning queue.
    const [tag] = byName(first, '') .filter((j) => j.children);
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
  } finally {
    await r.close();
  }
});
