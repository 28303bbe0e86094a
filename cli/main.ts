import fs from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { UserError, errorMessage } from '../src/errors.js';
import { settings } from '../src/settings.js';
import { configureS3, type S3Options } from '../src/storage/s3-config.js';
import { sendNoticesTo } from '../src/storage/notices.js';
import { compactCommand } from './commands/compact.js';
import { currentCommand } from './commands/current.js';
import { demoCommand } from './commands/demo.js';
import { listenCommand } from './commands/listen.js';
import { nightlyCommand } from './commands/nightly.js';
import { planCommand } from './commands/plan.js';
import { reportCommand } from './commands/report.js';
import { runCommand } from './commands/run.js';
import { submitCommand } from './commands/submit.js';
import { tuneCommand } from './commands/tune.js';
import { verifyCommand } from './commands/verify.js';
import type { Act, Cli } from './common/context.js';
import { PROGRESS_MODES, progressReporter, type AnyEvent, type ProgressMode } from './common/progress.js';
import { strictSubcommands } from './common/strict.js';

const PACKAGE_VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const plainError = (message: string) => console.error(`imgtag: ${message}`);

/**
 * The program, made afresh for each call of main: its commands (cli/commands/*.ts), in the order a
 * user meets them, and the exit code the command that ran answered.
 */
function buildProgram(): { program: Command; exitCode: () => number; sayError: (message: string) => void } {
  let exitCode = 0;
  // The line that says why the command could not run: with --progress json, a JSON line as every other.
  let sayError = plainError;
  let s3: S3Options = {};
  const program = new Command('imgtag')
    .exitOverride()
    .description('Tag images in S3 (or on disk) with an ONNX model, in batch: plan a manifest into shards, run them into Parquet, compacted into a dataset.')
    .option('--endpoint <url>', 'S3-compatible endpoint (default: AWS_ENDPOINT_URL); uses path-style addressing')
    .option('--region <region>', 'AWS region (default: AWS_REGION, else us-east-1)')
    .addOption(new Option('--progress <mode>', 'progress on stderr: a bar on a terminal and JSON lines elsewhere (auto), or always bar, json, or none').choices(PROGRESS_MODES).default('auto'))
    .version(PACKAGE_VERSION, '--version', 'print the version')
    // A mistyped flag gets one line and where to look, not 30 lines of usage.
    .showHelpAfterError('(imgtag --help lists the commands)')
    // The one place the S3 client is configured: from the global flags, before the command's action.
    .hook('preAction', () => {
      const o = program.opts<{ endpoint?: string; region?: string; progress: ProgressMode }>();
      s3 = { endpoint: o.endpoint, region: o.region };
      configureS3(s3);
      report = progressReporter(process.stderr, o.progress);
      sendNoticesTo((message) => report({ event: 'notice', message }));
      if (o.progress === 'json') sayError = (message) => report({ event: 'error', message });
    })
    // --progress (and --endpoint, --region) work after the command too, and its help shows them.
    .configureHelp({ showGlobalOptions: true });
  let report: (e: AnyEvent) => void = () => undefined;
  const cli: Cli = { s3: () => s3, log: (e) => report(e) };
  const act: Act =
    (handler) =>
    async (...args) => {
      exitCode = await handler(...args);
    };
  demoCommand(program, cli, act);
  planCommand(program, cli, act);
  runCommand(program, cli, act);
  compactCommand(program, act);
  verifyCommand(program, act);
  reportCommand(program, cli, act);
  tuneCommand(program, cli, act);
  submitCommand(program, act);
  nightlyCommand(program, cli, act);
  listenCommand(program, cli, act);
  currentCommand(program, act);
  strictSubcommands(program);
  return { program, exitCode: () => exitCode, sayError: (message) => sayError(message) };
}

/**
 * Run imgtag with these arguments (process.argv's shape) and answer its exit code; nothing here
 * calls process.exit. 0: done; 1: could not run (one line on stderr says why); 3: unfinished,
 * run again; 4: over --max-error-rate. Commander's own (--help, --version, a bad flag) keep theirs.
 */
export async function main(argv: string[]): Promise<number> {
  let sayError = plainError;
  try {
    // Every IMGTAG_* variable checked before anything runs: a bad one is refused by name here.
    settings();
    const built = buildProgram();
    sayError = built.sayError;
    await built.program.parseAsync(argv);
    return built.exitCode();
  } catch (e: unknown) {
    if (e instanceof CommanderError) return e.exitCode;
    sayError(e instanceof UserError ? e.message : errorMessage(e));
    if (!(e instanceof UserError) && settings().debug) console.error(e);
    return 1;
  }
}
