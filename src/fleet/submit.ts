import { BatchClient, SubmitJobCommand, type SubmitJobCommandInput } from '@aws-sdk/client-batch';
import { UserError } from '../errors.js';
import { loadPlan } from '../plan/plan-file.js';
import { s3Settings } from '../storage/s3-client.js';
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
  // Array children on other machines must all reach the run directory.
  if (!isS3Uri(opts.run)) throw new UserError(`--run ${opts.run} is not on S3: the fleet's jobs can only reach a run directory at s3://bucket/prefix`);
  const plan = await loadPlan(opts.run);
  const shardsPerTask = opts.shardsPerTask ?? fittingShardsPerTask(plan.shards);
  const tasks = Math.ceil(plan.shards / shardsPerTask);
  if (tasks > MAX_ARRAY_SIZE) {
    throw new UserError(
      `${plan.shards} shards at ${shardsPerTask} per task need ${tasks} array children, over AWS Batch's ${MAX_ARRAY_SIZE}: use --shards-per-task ${fittingShardsPerTask(plan.shards)} or more, or leave it out`,
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

/** Where the compact job runs: a CPU queue and job definition (default: the array's own). */
export interface CompactTarget {
  jobQueue?: string;
  jobDefinition?: string;
}

/**
 * The job that merges the run into its dataset once every array child has finished (AWS Batch starts
 * a job that depends on an array job after all its children), and for a nightly's run, updates the
 * current table. The command is overridden, so any job definition with the image will do: a CPU one
 * keeps this off the GPU queue.
 */
export function compactJobInput(tag: SubmitJobCommandInput, run: string, tagJobId: string, target: CompactTarget = {}): SubmitJobCommandInput {
  return {
    jobName: `${tag.jobName!.slice(0, 120)}-compact`,
    jobQueue: target.jobQueue ?? tag.jobQueue,
    jobDefinition: target.jobDefinition ?? tag.jobDefinition,
    dependsOn: [{ jobId: tagJobId }],
    containerOverrides: { command: ['compact', '--run', run] },
  };
}

/** The array job and its compact job, or with dryRun, their requests only. */
export async function submitRun(
  opts: SubmitOptions & { compact?: CompactTarget; dryRun?: boolean },
): Promise<{ tagJob: string; compactJob: string; arraySize: number; requests: { tag: SubmitJobCommandInput; compact: SubmitJobCommandInput } }> {
  const tag = await submitJobInput(opts);
  const arraySize = tag.arrayProperties?.size ?? 1;
  if (opts.dryRun) return { tagJob: '<dry run>', compactJob: '<dry run>', arraySize, requests: { tag, compact: compactJobInput(tag, opts.run, '<tag job id>', opts.compact) } };
  const tagJob = await submitJob(tag);
  const compact = compactJobInput(tag, opts.run, tagJob, opts.compact);
  return { tagJob, compactJob: await submitJob(compact), arraySize, requests: { tag, compact } };
}

export async function submitJob(input: SubmitJobCommandInput): Promise<string> {
  // The region of --region (or AWS_REGION, or the profile's), as every other client here uses.
  const region = s3Settings().region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const out = await new BatchClient(region ? { region } : {}).send(new SubmitJobCommand(input));
  return out.jobId!;
}
