import type { Command } from 'commander';
import { UserError } from '../../src/errors.js';
import type { Act } from '../common/context.js';
import { table } from '../common/format.js';

/** imgtag verify: a compacted run's dataset files against done.json; --repair re-tags what is damaged. */
export function verifyCommand(program: Command, act: Act): void {
  program
    .command('verify')
    .description("check a compacted run's dataset folder against compaction/done.json both ways (listed files missing, of another size, row count or sha256; files there it does not list; files compaction planned that it lost); --repair makes damaged ones again from their shards and deletes copies")
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
        const damage = await checkDataset(o.run, done, true);
        for (const d of damage) console.error(`imgtag: ${d.uri} ${d.why}`);
        if (damage.length === 0) {
          console.log(table([['run', o.run], ['dataset', `${done.files.length} file(s), ${done.rows} rows: sizes, row counts and checksums as done.json records, no other file in the folder`]]));
          return 0;
        }
        if (!o.repair) {
          console.error(`imgtag: ${damage.length} of ${done.files.length} file(s) damaged: "imgtag verify --run ${o.run} --repair", then "imgtag run --run ${o.run}", re-tags their shards`);
          return 1;
        }
        const r = await repairDataset(o.run, damage);
        const copies = damage.filter((d) => d.extra === 'copy').length;
        const left = damage.filter((d) => d.extra === 'unlisted');
        console.log(table([['run', o.run], ['repair', `${r.groups.length} file(s) to make again from ${r.shards.length} shard(s)${copies ? `, ${copies} copy(ies) deleted` : ''}: now run "imgtag run --run ${o.run}"`]]));
        for (const d of left) console.error(`imgtag: ${d.uri} is not done.json's and was left in place: move it out of the dataset folder, or delete it`);
        return left.length ? 1 : 0;
      }),
    );
}
