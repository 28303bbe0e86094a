/** Compaction's defaults, where the CLI can show them without loading DuckDB. */
export const COMPACT_DEFAULTS = { targetFileMb: 256, rowGroupMb: 128, memoryMb: 256 } as const;
