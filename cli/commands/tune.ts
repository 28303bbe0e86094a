import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULTS, DEVICES, type Device } from '../../src/defaults.js';
import type { Act, Cli } from '../common/context.js';
import { plural, table } from '../common/format.js';
import { int, priceOptions, priceRequest, type PriceFlags } from '../common/options.js';
import { KNOBS, type Knob } from '../../src/tune/knobs.js';
import type { Iteration } from '../../src/tune/search.js';
import { spreadText } from '../../src/tune/spread.js';

type TuneFlags = PriceFlags & { run: string; model: string; sample: number; repeats: number; device: Device; maxPixels: number; vary?: Knob[] };

/** imgtag tune: the same sample under a sequence of settings, timed and priced. */
export function tuneCommand(program: Command, cli: Cli, act: Act): void {
  priceOptions(
    program
      .command('tune')
      .description('run the pipeline on the same sample under a sequence of configurations; report time and cost per iteration')
      .requiredOption('--run <dir>', 'a planned run directory')
      .option('--model <path|name>', 'model', DEFAULTS.model)
      .option('--sample <n>', 'images in the sample', int(1), 200)
      .option('--repeats <n>', 'runs of each setting (median and spread reported)', int(1), 3)
      .option('--vary <knobs>', `only these settings, comma-separated (default: all of ${KNOBS.join(', ')}): fewer runs, e.g. batch-size alone on a GPU`, knobList)
      .addOption(new Option('--device <device>', 'onnxruntime execution provider').choices(DEVICES).default(DEFAULTS.device))
      .option('--max-pixels <n>', 'refuse images larger than this many pixels', int(1), DEFAULTS.maxPixels),
  ).action(
    act(async (o: TuneFlags) => {
      const [{ tune }, { projectionLine }] = await Promise.all([import('../../src/tune/tune.js'), import('../../src/report/cost-table.js')]);
      const res = await tune({ ...o, price: priceRequest(o), s3: cli.s3() }, cli.log);
      const w = res.winner;
      console.log(
        table([
          ['iterations', `${res.iterations.length}, ${plural(res.repeats, 'run')} each`],
          ['winner', `#${w.index}: ${JSON.stringify(w.config)}`],
          ['images/s', imagesPerSecondLine(w)],
          ['measured on', res.machine],
          ['rate used', res.pricing.rateBasis],
          ['whole plan', projectionLine(w.projection, res.pricing)],
          ['config', res.configFile],
          ['reports', res.reports.join('\n              ')],
        ]),
      );
      return 0;
    }),
  );
}

/** The winner's rate and how far to trust it: one run per setting measures no spread, and keeps no change. */
function imagesPerSecondLine(w: Iteration): string {
  if (w.repetitions.length === 1) return `${w.imagesPerSecond.toFixed(1)} (${spreadText(w)}, so no change could show a gain; --repeats 3 measures one)`;
  return `${w.imagesPerSecond.toFixed(1)} median, ${spreadText(w)} (${w.repetitions.map((x) => x.toFixed(1)).join(', ')})`;
}

/** --vary batch-size,workers */
function knobList(v: string): Knob[] {
  const knobs = v.split(',').map((k) => k.trim());
  const bad = knobs.find((k) => !(KNOBS as readonly string[]).includes(k));
  if (bad !== undefined) throw new InvalidArgumentError(`"${bad}" is not one of ${KNOBS.join(', ')}`);
  return knobs as Knob[];
}
