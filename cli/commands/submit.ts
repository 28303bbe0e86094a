import type { Command } from 'commander';
import type { Act } from '../common/context.js';
import { table } from '../common/format.js';
import { int } from '../common/options.js';

type SubmitFlags = { run: string; jobQueue: string; jobDefinition: string; shardsPerTask?: number; jobName?: string; compactJobQueue?: string; compactJobDefinition?: string; compactChildren?: number; dryRun?: boolean };

/** imgtag submit: a planned run to AWS Batch: the array, the parallel merge, the last compact step. */
export function submitCommand(program: Command, act: Act): void {
  program
    .command('submit')
    .description('submit a planned run to AWS Batch as an array job (one child per --shards-per-task shards)')
    .requiredOption('--run <dir>', 'the planned run directory (s3://...)')
    .requiredOption('--job-queue <arn>', 'job queue (terraform output job_queue)')
    .requiredOption('--job-definition <arn>', 'job definition (terraform output job_definition)')
    .option('--shards-per-task <k>', "shards per array child (default: the fewest that fit the run in AWS Batch's 10,000 children)", int(1))
    .option('--job-name <name>', 'job name (default: from the run directory)')
    .option('--compact-job-queue <arn>', 'queue of the compact job that follows the array (terraform output planning_queue; default: --job-queue)')
    .option('--compact-job-definition <arn>', 'its job definition (terraform output compact_job_definition; default: --job-definition)')
    .option('--compact-children <n>', "array children that merge the dataset's files in parallel before the last compact step (default: one per 10 M images, at most 32)", int(1))
    .option('--dry-run', 'print the SubmitJob requests instead of sending them')
    .action(
      act(async (o: SubmitFlags) => {
        const { submitRun } = await import('../../src/fleet/submit.js');
        const res = await submitRun({ ...o, compact: { jobQueue: o.compactJobQueue, jobDefinition: o.compactJobDefinition, children: o.compactChildren } });
        if (o.dryRun) {
          console.log(JSON.stringify(res.requests, null, 2));
          return 0;
        }
        const merge = res.mergeJob ? [['merge job id', `${res.mergeJob} (array of ${res.requests.merge!.arrayProperties!.size}: the dataset's files, merged in parallel)`] as [string, string]] : [];
        console.log(table([['job id', res.tagJob], ['array size', res.arraySize], ...merge, ['compact job id', `${res.compactJob} (the last step: starts when every child has finished)`]]));
        return 0;
      }),
    );
}
