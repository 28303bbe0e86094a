import { UserError } from '../errors.js';
import type { CompactTarget, SubmitOptions, Submitted } from '../fleet/submit.js';
import { NightlyRetryLater, PreviousRunBusy, PreviousRunResubmitted } from './busy.js';
import { writeLatestRun, type LatestRun } from '../rundir/current.js';

/** Tag on AWS Batch instead of here when the delta is this large. */
export interface NightlyFleet {
  /** Images at or above which the run goes to the fleet (0: always). */
  threshold: number;
  jobQueue: string;
  jobDefinition: string;
  /** Shards per array child (default: the fewest that fit the delta in AWS Batch's 10,000 children). */
  shardsPerTask?: number;
  /** Where the compact job (which then updates the current table) runs: a CPU queue. */
  compact?: CompactTarget;
}

/** What a nightly's submission returns: the jobs, and with a dry run the requests. */
export type FleetSubmitted = Omit<Submitted, 'requests'> & { requests?: Submitted['requests'] };

/** What nightly.json says while a submission is not yet confirmed. */
export const SUBMITTING = 'submitting to ';

/** A run whose fleet job keeps failing is resubmitted this often by the nightlies after it, then pages. */
export const MAX_RESUBMITS = 3;

/** A nightly's fleet job still unfinished after this long pages instead of keeping every night busy. */
export const MAX_FLEET_HOURS = 36;

/** Batch's states of a job that has not ended. */
const LIVE = new Set(['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING']);

const fleetSubmission = (run: string, fleet: NightlyFleet) => ({ run, jobQueue: fleet.jobQueue, jobDefinition: fleet.jobDefinition, shardsPerTask: fleet.shardsPerTask, compact: fleet.compact });

/** Submit a nightly's run; nightly.json says so first, so a run whose submission fails is not lost. */
export async function submitNightly(root: string, latest: LatestRun, fleet: NightlyFleet): Promise<FleetSubmitted> {
  await writeLatestRun(root, { ...latest, fleet: `${SUBMITTING}${fleet.jobQueue}` });
  // The Batch client loads only for nights that go to the fleet.
  const submitted = await (await import('../fleet/submit.js')).submitRun(fleetSubmission(latest.run, fleet));
  await writeLatestRun(root, { ...latest, fleet: submitted.tagJob });
  const { requests: _, ...rest } = submitted;
  return rest;
}

/** A dry run's SubmitJob requests for a planned delta. */
export async function dryRunSubmission(run: string, fleet: NightlyFleet, plan: NonNullable<SubmitOptions['plan']>) {
  return (await import('../fleet/submit.js')).submitRun({ ...fleetSubmission(run, fleet), plan, dryRun: true });
}

/** Where the run's array job stands, from Batch: a refusal is the operator's to fix, anything else is retried later. */
async function fleetJobState(jobId: string) {
  const { jobState } = await import('../fleet/submit.js');
  try {
    return await jobState(jobId);
  } catch (e) {
    const name = (e as { name?: string }).name ?? '';
    const why = `could not ask AWS Batch about job ${jobId}: ${(e as Error).message}`;
    if (/AccessDenied|UnrecognizedClient|InvalidSignature|ExpiredToken/.test(name)) throw new UserError(`${why} (the nightly's role needs batch:DescribeJobs)`);
    throw new NightlyRetryLater(why);
  }
}

/**
 * The previous nightly's fleet run has shards not committed. While its job is alive, that is an
 * overlap (exit 0, busy). Once the job has ended (a child failed for good: that paged when it
 * happened) its unfinished shards are resubmitted, an array over them alone with its compact job,
 * so no night is silently busy for ever; after MAX_RESUBMITS the nightly fails and pages itself.
 */
export async function resumeFleetRun(root: string, latest: LatestRun, shards: number, committed: number, fleet: NightlyFleet | undefined): Promise<never> {
  const progress = `${committed} of ${shards} shards committed`;
  if (latest.fleet!.startsWith(SUBMITTING)) {
    if (fleet === undefined) throw new PreviousRunBusy(`the previous nightly run ${latest.run} was planned but its submission never confirmed: run the nightly with its fleet options`);
    // The submission was never confirmed (the planning job was stopped): submit it again. Should
    // both jobs run, each shard is still done once (leases, commit markers).
    const again = await submitNightly(root, latest, fleet);
    throw new PreviousRunResubmitted(`the previous nightly run ${latest.run} was planned but its submission not confirmed: submitted it again as job ${again.tagJob}`);
  }
  const job = await fleetJobState(latest.fleet!);
  if (job && LIVE.has(job.status)) {
    const hours = job.createdAt ? (Date.now() - job.createdAt) / 3600_000 : 0;
    // A queue with no capacity it may ever launch (a spot quota of 0, an invalid compute environment) keeps jobs RUNNABLE for ever.
    if (hours > MAX_FLEET_HOURS) {
      throw new UserError(`the previous nightly run ${latest.run} has ${progress} and its job ${latest.fleet} is still ${job.status} after ${Math.floor(hours)} hours: is the queue able to launch instances (quotas, compute environment VALID)? Stop it with "aws batch terminate-job", then the next nightly resubmits what is unfinished`);
    }
    throw new PreviousRunBusy(`the previous nightly run ${latest.run} (job ${latest.fleet}, ${job.status}) has ${progress}: nothing new is planned until it is done`);
  }
  const ended = job ? `ended ${job.status}${job.statusReason ? ` (${job.statusReason})` : ''}` : 'is no longer known to AWS Batch';
  const resubmits = latest.resubmits ?? 0;
  if (resubmits >= MAX_RESUBMITS || fleet === undefined) {
    throw new UserError(
      `the previous nightly run ${latest.run} has ${progress} and its job ${latest.fleet} ${ended}` +
        (fleet === undefined ? '' : `, after ${resubmits} resubmissions`) +
        `: read its children's logs (event "shard-failed"), fix the cause, then "imgtag submit --run ${latest.run}" with the fleet's queues`,
    );
  }
  const again = await submitNightly(root, { ...latest, resubmits: resubmits + 1 }, fleet);
  throw new PreviousRunResubmitted(
    `the previous nightly run ${latest.run} has ${progress} and its job ${latest.fleet} ${ended}: ` +
      `resubmitted the unfinished shards as job ${again.tagJob} (array of ${again.arraySize}; resubmission ${resubmits + 1} of ${MAX_RESUBMITS})`,
  );
}
