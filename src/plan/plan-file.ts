import { UserError } from '../errors.js';
import type { ManifestSource } from '../manifest/index.js';
import { exists, readText } from '../storage/storage.js';
import { runLayout } from '../run-dir.js';

export const DEFAULT_SHARD_SIZE = 1000;

/** plan.json: what a run directory was planned from, and how many shards it has. */
export interface Plan {
  version: 1;
  createdAt: string;
  source: ManifestSource;
  options: { shardSize?: number; shards?: number };
  /** rows read; images planned; skipped: not images; unchanged: already tagged by the parent run or its ancestors. */
  counts: { rows: number; images: number; skipped: number; unchanged: number };
  shards: number;
  /** The run this one continues (`plan --since`): objects tagged there with the same ETag were left out. */
  parent?: string;
}

export async function loadPlan(run: string): Promise<Plan> {
  const uri = runLayout.plan(run);
  if (!(await exists(uri))) throw new UserError(`no plan in ${run}: run "imgtag plan --run ${run} ..." first`);
  const plan = JSON.parse(await readText(uri)) as Plan;
  if (plan.version !== 1 || !Number.isInteger(plan.shards)) throw new UserError(`${uri} is not an imgtag plan`);
  return plan;
}

