import type { Command } from 'commander';
import { UserError } from '../../src/errors.js';
import type { Act } from '../common/context.js';
import { table } from '../common/format.js';

/** imgtag current: where a nightly root's current table is now, and how to query it. */
export function currentCommand(program: Command, act: Act): void {
  program
    .command('current')
    .description("where the current table of a nightly root is now: its version's folder, rows, the run it reflects, and a DuckDB query over it")
    .requiredOption('--root <dir>', "the nightly's --root")
    .option('--now <file.parquet>', 'write "now": one row per live object with its newest tags, the current table and what `imgtag listen` tagged since, less what it saw removed (local or s3://)')
    .action(
      act(async (o: { root: string; now?: string }) => {
        if (o.now !== undefined) {
          const { writeNowView } = await import('../../src/listen/now.js');
          const v = await writeNowView(o.root, o.now);
          console.log(table([['now', o.now], ['rows', v.rows], ['newest from the stream', v.fromStream], ['removed (seen by the stream)', v.removed]]));
          return 0;
        }
        const { readCurrent } = await import('../../src/rundir/current.js');
        const { dirnameUri } = await import('../../src/storage/uri.js');
        const current = await readCurrent(o.root);
        if (current === undefined) throw new UserError(`${o.root} has no current table yet: the first nightly makes it`);
        const location = current.location ?? `${dirnameUri(current.files[0]?.uri ?? `${o.root}/current/x`)}/`;
        console.log(table([['location', location], ['rows', current.rows], ['run', current.run], ['updated', current.updatedAt], ['duckdb', `SELECT * FROM read_parquet('${location}*.parquet')`]]));
        return 0;
      }),
    );
}
