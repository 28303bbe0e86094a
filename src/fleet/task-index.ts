import { UserError } from '../errors.js';

/** Array-job index variables: AWS Batch array children, Kubernetes indexed Jobs. */
export const INDEX_VARIABLES = ['AWS_BATCH_JOB_ARRAY_INDEX', 'JOB_COMPLETION_INDEX'] as const;

/** This fleet task's index; an AWS Batch job that is not an array (one task) is index 0. */
export function taskIndexFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  for (const name of INDEX_VARIABLES) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UserError(`${name}="${v}" is not a task index`);
    return n;
  }
  if (env.AWS_BATCH_JOB_ID) return 0;
  throw new UserError(`--shard-from-env: none of ${INDEX_VARIABLES.join(', ')} is set (is this an array job?)`);
}

/** Task i of an array takes shards [i*K, (i+1)*K): 300 M images fit the 10,000-children limit. */
export function shardsForTask(index: number, perTask: number, total: number): number[] {
  const first = index * perTask;
  return Array.from({ length: Math.max(0, Math.min(perTask, total - first)) }, (_, i) => first + i);
}

/**
 * This fleet task's shards of a run: its index from the environment, its share of the plan's
 * shards, or of the unfinished ones a resubmission listed in tasks.json.
 */
export async function fleetTaskShards(run: string, perTask: number): Promise<number[]> {
  const index = taskIndexFromEnv();
  const map = await (await import('./task-map.js')).readTaskMap(run);
  if (map) return shardsForTask(index, perTask, map.shards.length).map((k) => map.shards[k]!);
  const { loadPlan } = await import('../rundir/plan-file.js');
  return shardsForTask(index, perTask, (await loadPlan(run)).shards);
}
