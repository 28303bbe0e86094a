import { DEFAULTS } from '../defaults.js';

/** Compaction's defaults, where the CLI can show them without loading DuckDB. */
export const COMPACT_DEFAULTS = DEFAULTS.compact;
