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
    .action(
      act(async (o: { root: string }) => {
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
