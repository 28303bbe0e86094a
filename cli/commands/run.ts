import { Option, type Command } from 'commander';
import { fleetTaskShards, INDEX_VARIABLES } from '../../src/fleet/task-index.js';
import { stopOnSignals } from '../../src/pool/stop.js';
import { readTuningConfig } from '../../src/tune/config-file.js';
import { finishRun, type Act, type Cli } from '../common/context.js';
import { failureDigestLines, plural, runSummaryRows, table, unfinishedLines } from '../common/format.js';
import { int, runOptions, type RunFlags } from '../common/options.js';

type RunCommandFlags = RunFlags & { run: string; shard?: number; shardFromEnv?: boolean; shardsPerTask: number; config?: string; compact: boolean };

/** imgtag run: tag a planned run's shards (all, one, or a fleet task's), then compact it. */
export function runCommand(program: Command, cli: Cli, act: Act): void {
  runOptions(
    program
      .command('run')
      .description("tag the shards of a planned run, each staged as Parquet with a commit marker (committed shards are skipped), then compact them into the run's dataset")
      .requiredOption('--run <dir>', 'run directory: local path or s3://bucket/prefix')
      .addOption(new Option('--shard <i>', 'tag only this shard').argParser(int(0)).conflicts('shardFromEnv'))
      .option('--shard-from-env', `tag this fleet task's shards: index from ${INDEX_VARIABLES.join(' or ')}`)
      .option('--shards-per-task <k>', 'with --shard-from-env: task i tags shards i*k .. i*k+k-1', int(1), 1)
      .option('--config <file>', 'batch size, concurrency, threads and workers from a file (tune writes reports/tuning-config.json); flags win')
      .option('--no-compact', 'leave the per-shard files staged when every shard is committed (compact later with imgtag compact); --shard and --shard-from-env never compact'),
  ).action(
    act(async (o: RunCommandFlags, cmd: Command) => {
      if (o.config) {
        // The file's values for every flag not given on the command line.
        const config = await readTuningConfig(o.config);
        for (const [key, v] of Object.entries(config)) if (cmd.getOptionValueSource(key) !== 'cli') (o as unknown as Record<string, unknown>)[key] = v;
      }
      const shards = o.shardFromEnv ? await fleetTaskShards(o.run, o.shardsPerTask) : o.shard === undefined ? undefined : [o.shard];
      // A fleet task's share is one part of a run: the compact job that submit chains merges the whole.
      const compact = o.compact === false || shards !== undefined ? false : {};
      const { runPlan } = await import('../../src/run/run-plan.js');
      const summary = await runPlan({ ...o, models: o.model, shards, s3: cli.s3(), compact, stop: stopOnSignals(o.stopTimeout) }, cli.log);
      const notes = unfinishedLines(summary);
      const left = summary.failedShards.length;
      // A signal that came as the last shards finished stopped nothing: the run is done (exit 0).
      if (summary.interrupted && left > 0) notes.push(`imgtag: interrupted by ${summary.interrupted}: ${plural(left, 'shard')} left unfinished, no lease held: exit 3, run the same command again to finish them`);
      else if (summary.interrupted) notes.push(`imgtag: ${summary.interrupted} came as the last shards finished: nothing is left to do`);
      else if (left > 0) notes.push('run the same command again to finish the remaining shards');
      return finishRun(cli, summary, o.maxErrorRate, [table(runSummaryRows(summary)), ...failureDigestLines(summary)], notes);
    }),
  );
}
