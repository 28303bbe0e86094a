/** tune's settings by their flag names, in the order tune tries them (`tune --vary`). */
export const KNOBS = ['batch-size', 'concurrency', 'workers', 'threads'] as const;
export type Knob = (typeof KNOBS)[number];
