import path from 'node:path';
import type { Command } from 'commander';
import { stopOnSignals } from '../../src/pool/stop.js';
import { finishRun, type Act, type Cli } from '../common/context.js';
import { failureDigestLines, runSummaryRows, table } from '../common/format.js';
import { int, runOptions, type RunFlags } from '../common/options.js';

/** imgtag demo: the whole job on this machine, no cloud account. */
export function demoCommand(program: Command, cli: Cli, act: Act): void {
  runOptions(
    program
      .command('demo')
      .description('the whole job locally, no cloud account: a loopback S3 server, images, a key list, plan, run, summary')
      .option('--images <dir>', 'a folder of images to tag (default: generated images)')
      .option('--count <n>', 'how many images to generate', int(1), 200)
      .option('--run <dir>', 'run directory for the results', path.join('runs', `demo-${Date.now()}`)),
  ).action(
    act(async (o: RunFlags & { images?: string; count: number; run: string }) => {
      const { runDemo } = await import('../../src/demo/demo.js');
      const res = await runDemo({ ...o, models: o.model, stop: stopOnSignals(o.stopTimeout) }, cli.log);
      console.log(table([['S3 server', `${res.endpoint} (stopped)`], ['results', path.resolve(res.run)], ...runSummaryRows(res.summary)]));
      for (const line of failureDigestLines(res.summary)) console.log(line);
      console.log('\ntop tags');
      console.log(table(res.top.map((t) => [t.label, t.count])));
      return finishRun(cli, res.summary, o.maxErrorRate);
    }),
  );
}
