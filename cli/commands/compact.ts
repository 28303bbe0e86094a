import type { Command } from 'commander';
import { DEFAULTS } from '../../src/defaults.js';
import { exitOnSignal } from '../../src/pool/stop.js';
import type { Act } from '../common/context.js';
import { compactionLine, currentRows, hms, table } from '../common/format.js';
import { int, positiveNumber } from '../common/options.js';

type CompactFlags = { run: string; targetFileMb: number; rowGroupMb: number; memoryMb: number; workers: number; mergeOnly?: boolean };

/** imgtag compact: a finished run's staged shard files merged into its dataset, exactly once. */
export function compactCommand(program: Command, act: Act): void {
  program
    .command('compact')
    .description("merge a finished run's per-shard Parquet into large sorted files in its dataset, exactly once (run does this by itself when it finishes a run)")
    .requiredOption('--run <dir>', 'run directory')
    .option('--target-file-mb <mb>', 'size of each merged file', positiveNumber, DEFAULTS.compact.targetFileMb)
    .option('--row-group-mb <mb>', 'size of each row group', positiveNumber, DEFAULTS.compact.rowGroupMb)
    .option('--memory-mb <mb>', "memory for each merge's sort; beyond it, it spills to local disk", positiveNumber, DEFAULTS.compact.memoryMb)
    .option('--workers <n>', 'files merged at once, each under its own lease, in its own process, with its own --memory-mb (they share the cores)', int(1), 1)
    .option('--merge-only', 'merge files only (a fleet array child; any number may run at once): done.json, the current table and removing staged files are left to one compact without it')
    .action(
      act(async (o: CompactFlags) => {
        const { compactRun } = await import('../../src/compact/compact.js');
        const { releaseHeldLocks } = await import('../../src/lease/lease.js');
        // Leases given back at once: a stopped merge's group is taken by another process, not after 2 minutes.
        exitOnSignal('compacting', undefined, releaseHeldLocks);
        const c = await compactRun(o.run, { targetFileMb: o.targetFileMb, rowGroupMb: o.rowGroupMb, memoryMb: o.memoryMb, workers: o.workers, mergeOnly: o.mergeOnly });
        console.log(table([['run', o.run], ['dataset', compactionLine(c)], ...currentRows(c), ...('seconds' in c ? [['wall time', hms(c.seconds)] as [string, string]] : [])]));
        if (c.status === 'incomplete') console.error(`imgtag: not every shard is committed: run "imgtag run --run ${o.run}" to finish them, then compact`);
        if (c.status === 'leased') console.error('imgtag: another process is compacting this run: run the same command again later');
        return c.status === 'incomplete' || c.status === 'leased' ? 3 : 0;
      }),
    );
}
