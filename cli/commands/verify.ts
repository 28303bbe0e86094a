import type { Command } from 'commander';
import { UserError } from '../../src/errors.js';
import type { Act } from '../common/context.js';
import { table } from '../common/format.js';

/** imgtag verify: a compacted run's dataset files against done.json; --repair re-tags what is damaged. */
export function verifyCommand(program: Command, act: Act): void {
  program
    .command('verify')
    .description("check a compacted run's dataset files against compaction/done.json: size, footer row count, sha256; --repair makes damaged ones again from their shards")
    .requiredOption('--run <dir>', 'run directory')
    .option('--repair', "forget the damaged files' shards (their commit markers), so that \"imgtag run\" re-tags them and compacts just those files")
    .action(
      act(async (o: { run: string; repair?: boolean }) => {
        const { loadPlan } = await import('../../src/rundir/plan-file.js');
        const { checkDataset, repairDataset } = await import('../../src/compact/verify.js');
        const { readState } = await import('../../src/rundir/compaction.js');
        await loadPlan(o.run);
        const done = await readState<import('../../src/rundir/compaction.js').CompactionDone>(o.run, 'done.json');
        if (done === undefined) throw new UserError(`${o.run} is not compacted yet: nothing to verify (its shards are checked by run and report)`);
        const damage = await checkDataset(done, true);
        for (const d of damage) console.error(`imgtag: ${d.uri} ${d.why}`);
        if (damage.length === 0) {
          console.log(table([['run', o.run], ['dataset', `${done.files.length} file(s), ${done.rows} rows: sizes, row counts and checksums as done.json records`]]));
          return 0;
        }
        if (!o.repair) {
          console.error(`imgtag: ${damage.length} of ${done.files.length} file(s) damaged: "imgtag verify --run ${o.run} --repair", then "imgtag run --run ${o.run}", re-tags their shards`);
          return 1;
        }
        const r = await repairDataset(o.run, damage);
        console.log(table([['run', o.run], ['repair', `${r.groups.length} file(s) to make again from ${r.shards.length} shard(s): now run "imgtag run --run ${o.run}"`]]));
        return 0;
      }),
    );
}
