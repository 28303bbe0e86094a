import { BatchClient, DescribeJobsCommand, SubmitJobCommand, type SubmitJobCommandInput } from '@aws-sdk/client-batch';
import { UserError } from '../errors.js';
import { committedShards } from '../rundir/commits.js';
import { loadPlan, type Plan } from '../rundir/plan-file.js';
import { awsClientConfig } from '../storage/s3-config.js';
import { isS3Uri } from '../storage/uri.js';

/** AWS Batch array jobs have 2 to 10,000 children. */
export const MAX_ARRAY_SIZE = 10_000;

export interface SubmitOptions {
  run: string;
  jobQueue: string;
  jobDefinition: string;
  /** Shards per array child; by default the fewest that fit the run in MAX_ARRAY_SIZE children. */
  shardsPerTask?: number;
  jobName?: string;
  /** The run's plan when it is not (yet) in the run directory: a dry run's, planned elsewhere. */
  plan?: Pick<Plan, 'shards'> & Partial<Pick<Plan, 'counts'>>;
  /** Shards the array takes when some are committed already (default: all the plan's). */
  pendingShards?: number;
}

/**
 * The fewest shards per child that fit `shards` in AWS Batch's 10,000 children: a nightly's delta
 * varies from a few shards to a whole bucket (a model change), and one fixed value fails the
 * large nights (over 10,000 children) or wastes the small ones (one child doing everything).
 */
export function fittingShardsPerTask(shards: number): number {
  return Math.max(1, Math.ceil(shards / MAX_ARRAY_SIZE));
}

/** The SubmitJob call for a planned run: one array child per `shardsPerTask` shards. */
export async function submitJobInput(opts: SubmitOptions): Promise<SubmitJobCommandInput> {
  assertFleetRun(opts.run);
  const shards = opts.pendingShards ?? (opts.plan ?? (await loadPlan(opts.run))).shards;
  const shardsPerTask = opts.shardsPerTask ?? fittingShardsPerTask(shards);
  const tasks = Math.ceil(shards / shardsPerTask);
  if (tasks > MAX_ARRAY_SIZE) {
    throw new UserError(
      `${shards} shards at ${shardsPerTask} per task need ${tasks} array children, over AWS Batch's ${MAX_ARRAY_SIZE}: use --shards-per-task ${fittingShardsPerTask(shards)} or more, or leave it out`,
    );
  }
  const name = opts.jobName ?? `imgtag-${opts.run.replace(/^s3:\/\//, '').replace(/[^A-Za-z0-9_-]+/g, '-')}`.slice(0, 128);
  return {
    jobName: name,
    jobQueue: opts.jobQueue,
    jobDefinition: opts.jobDefinition,
    // A one-task "array" is not allowed: a single job then runs as index 0 (see taskIndexFromEnv).
    ...(tasks >= 2 ? { arrayProperties: { size: tasks } } : {}),
    parameters: { run: opts.run, shards_per_task: String(shardsPerTask) },
  };
}

/** Where the compact jobs run: a CPU queue and job definition (default: the array's own). */
export interface CompactTarget {
  jobQueue?: string;
  jobDefinition?: string;
  /** Array children that merge the run's files in parallel before the last step (default: by the run's size). */
  children?: number;
}

/** Images one compaction child merges, about (85 k rows/s: ~2 minutes). */
const IMAGES_PER_COMPACT_CHILD = 10_000_000;
/** At most this many compaction children: past it, S3 request rates and the last step dominate. */
export const MAX_COMPACT_CHILDREN = 32;

/** Children for the merge: one per ~10 M images, at most 32; 1 means no separate merge array. */
export function compactChildren(images: number): number {
  return Math.min(MAX_COMPACT_CHILDREN, Math.max(1, Math.ceil(images / IMAGES_PER_COMPACT_CHILD)));
}

/**
 * The jobs that merge the run into its dataset once every array child has finished (AWS Batch starts
 * a job that depends on an array job after all its children), and for a nightly's run, update the
 * current table. A large run is merged by an array of `compact --merge-only` children, each file
 * under its own lease, then one short `compact` writes done.json, updates the current table and
 * removes the staged files. The commands are overridden, so any job definition with the image will
 * do: a CPU one keeps this off the GPU queue.
 */
export function compactJobInputs(tag: SubmitJobCommandInput, run: string, tagJobId: string, target: CompactTarget = {}, children = 1): { merge?: SubmitJobCommandInput; finish: (dependsOn: string) => SubmitJobCommandInput } {
  const base = (suffix: string, command: string[], dependsOn: string): SubmitJobCommandInput => ({
    jobName: `${tag.jobName!.slice(0, 120)}-${suffix}`,
    jobQueue: target.jobQueue ?? tag.jobQueue,
    jobDefinition: target.jobDefinition ?? tag.jobDefinition,
    dependsOn: [{ jobId: dependsOn }],
    containerOverrides: { command },
  });
  const merge = children >= 2 ? { ...base('merge', ['compact', '--run', run, '--merge-only'], tagJobId), arrayProperties: { size: children } } : undefined;
  return { merge, finish: (dependsOn) => base('compact', ['compact', '--run', run], dependsOn) };
}

export interface Submitted {
  tagJob: string;
  /** The array of merge-only compaction children, when the run is large enough for one. */
  mergeJob?: string;
  compactJob: string;
  arraySize: number;
  requests: { tag: SubmitJobCommandInput; merge?: SubmitJobCommandInput; compact: SubmitJobCommandInput };
}

/** Array children on other machines must all reach the run directory. */
function assertFleetRun(run: string): void {
  if (!isS3Uri(run)) throw new UserError(`--run ${run} is not on S3: the fleet's jobs can only reach a run directory at s3://bucket/prefix`);
}

/** The shards of a run not committed yet, in order (one LIST per 1,000 commit markers). */
async function pendingShards(run: string, total: number): Promise<number[]> {
  const done = await committedShards(run);
  return Array.from({ length: total }, (_, i) => i).filter((i) => !done.has(i));
}

/**
 * The array job and its compaction, or with dryRun, their requests only (job ids then say so). A
 * run with shards committed already (submitted again after a child failed for good) gets an array
 * over its unfinished shards only, listed in tasks.json for the children.
 */
export async function submitRun(opts: SubmitOptions & { compact?: CompactTarget; dryRun?: boolean }): Promise<Submitted> {
  assertFleetRun(opts.run);
  const plan = opts.plan ?? (await loadPlan(opts.run));
  // A nightly's dry run plans elsewhere: its run directory does not exist, nothing is committed.
  const pending = opts.plan && opts.dryRun ? undefined : await pendingShards(opts.run, plan.shards);
  if (pending?.length === 0) throw new UserError(`every shard of ${opts.run} is committed: nothing to tag (imgtag compact --run ${opts.run} merges it, if that is not done)`);
  if (pending && !opts.dryRun) await (await import('./task-map.js')).writeTaskMap(opts.run, pending, plan.shards);
  const tag = await submitJobInput({ ...opts, plan, pendingShards: pending?.length });
  const children = opts.compact?.children ?? compactChildren(plan.counts?.images ?? 0);
  const send = (input: SubmitJobCommandInput, placeholder: string) => (opts.dryRun ? Promise.resolve(placeholder) : submitJob(input));
  const tagJob = await send(tag, '<tag job id>');
  const jobs = compactJobInputs(tag, opts.run, tagJob, opts.compact, children);
  const mergeJob = jobs.merge ? await send(jobs.merge, '<merge job id>') : undefined;
  const compact = jobs.finish(mergeJob ?? tagJob);
  const compactJob = await send(compact, '<compact job id>');
  return {
    tagJob,
    ...(mergeJob ? { mergeJob } : {}),
    compactJob,
    arraySize: tag.arrayProperties?.size ?? 1,
    requests: { tag, ...(jobs.merge ? { merge: jobs.merge } : {}), compact },
  };
}

const batchClient = () => new BatchClient(awsClientConfig());

export async function submitJob(input: SubmitJobCommandInput): Promise<string> {
  return (await batchClient().send(new SubmitJobCommand(input))).jobId!;
}

/** Where a submitted job stands; undefined when Batch no longer knows it (it keeps ended jobs for about a week). */
export async function jobState(jobId: string): Promise<{ status: string; statusReason?: string; createdAt?: number } | undefined> {
  const job = (await batchClient().send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs?.[0];
  return job ? { status: job.status ?? 'UNKNOWN', ...(job.statusReason ? { statusReason: job.statusReason } : {}), ...(job.createdAt ? { createdAt: job.createdAt } : {}) } : undefined;
}
