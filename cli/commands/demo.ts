import path from 'node:path';
import type { Command } from 'commander';
import { stopOnSignals } from '../../src/pool/stop.js';
import { finishRun, type Act, type Cli } from '../common/context.js';
import { failureDigestLines, runSummaryRows, table } from '../common/format.js';
import { int, runOptions, type RunFlags } from '../common/options.js';
import type { PhotoOutcome } from '../../src/demo/demo.js';

function photoRow(p: PhotoOutcome): [string, string] {
  const name = p.photo.file;
  if (p.error !== undefined) return [name, `error row: ${p.error}`];
  const mark = p.asExpected === undefined ? '' : p.asExpected ? '  (as expected)' : `  (expected ${p.photo.expect!.join(' or ')})`;
  return [name, p.tags.map((t) => `${t.label} ${t.score.toFixed(2)}`).join(', ') + mark];
}

/** imgtag demo: the whole job on this machine, no cloud account. */
export function demoCommand(program: Command, cli: Cli, act: Act): void {
  runOptions(
    program
      .command('demo')
      .description('the whole job locally, no cloud account: a loopback S3 server, images, a key list, plan, run, summary')
      .option('--images <dir>', 'a folder of images to tag (default: 18 pinned photographs, downloaded once, 11 MB)')
      .option('--generated', 'tag generated images, not the photographs (what the demo falls back to offline)')
      .option('--count <n>', 'how many images to generate', int(1), 200)
      .option('--mirror <url>', 'download the photographs from this base URL instead of https://raw.githubusercontent.com (same /owner/repo/commit/path layout)')
      .option('--run <dir>', 'run directory for the results', path.join('runs', `demo-${Date.now()}`)),
  ).action(
    act(async (o: RunFlags & { images?: string; generated?: boolean; mirror?: string; count: number; run: string }) => {
      const { runDemo } = await import('../../src/demo/demo.js');
      const res = await runDemo({ ...o, models: o.model, stop: stopOnSignals(o.stopTimeout) }, cli.log);
      const out = [table([['S3 server', `${res.endpoint} (stopped)`], ['results', path.resolve(res.run)], ...runSummaryRows(res.summary)]), ...failureDigestLines(res.summary)];
      if (res.photos) {
        // A newcomer's check that the model sees what is in each photo; credits are in the README.
        const expected = res.photos.filter((p) => p.asExpected !== undefined);
        out.push(`\neach photograph's first three tags; ${expected.filter((p) => p.asExpected).length} of ${expected.length} with an expected tag have it (credits: README, "Demo photographs")`, table(res.photos.map(photoRow)));
      } else {
        out.push('\ntop tags', table(res.top.map((t) => [t.label, t.count])));
      }
      return finishRun(cli, res.summary, o.maxErrorRate, out);
    }),
  );
}
