/**
 * The stages of tagging one image, in order: every per-stage type, zero value and loop derives
 * from this list, so a new stage is one entry here (and its code in tag-rows.ts).
 */
export const STAGES = ['fetch', 'decode', 'batch', 'infer', 'write'] as const;
export type Stage = (typeof STAGES)[number];

/** The stages whose failure is an image's own (an error row); the others fail the shard. */
export const ERROR_STAGES = ['fetch', 'decode', 'infer'] as const satisfies readonly Stage[];
export type ErrorStage = (typeof ERROR_STAGES)[number];

/** One number per stage: seconds busy, tasks in flight, ... */
export type PerStage = Record<Stage, number>;

export function zeroStages(): PerStage {
  return Object.fromEntries(STAGES.map((s) => [s, 0])) as PerStage;
}

/** Stage-wise a + b. */
export function addStages(a: PerStage, b: PerStage): PerStage {
  return Object.fromEntries(STAGES.map((s) => [s, a[s] + b[s]])) as PerStage;
}
