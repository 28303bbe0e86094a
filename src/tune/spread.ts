import type { Iteration } from './search.js';

/** How far a setting's rate can be trusted, in words: one run measures no spread. Light: the CLI loads it at start. */
export const spreadText = (it: Pick<Iteration, 'repetitions' | 'spread'>): string => (it.repetitions.length === 1 ? 'one run: no spread measured' : `spread ${(100 * it.spread).toFixed(1)}%`);
