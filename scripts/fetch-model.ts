import fs from 'node:fs';
import { Command } from 'commander';
import { UserError, errorMessage } from '../src/errors.js';
import { fetchModel } from '../src/model/fetch.js';
import { builtinSpecFile, readSpec } from '../src/model/resolve.js';
import { DEFAULTS } from '../src/defaults.js';

/** npm run fetch-model [-- name...]: download built-in models into the cache, verifying sha256. */
const program = new Command('fetch-model')
  .argument('[names...]', 'built-in model names', [DEFAULTS.model])
  .option('--mirror <url>', 'download from this base URL instead of the spec URLs (a mirror or proxy)')
  .action(async (names: string[], o: { mirror?: string }) => {
    for (const name of names) {
      const file = builtinSpecFile(name);
      if (!fs.existsSync(file)) throw new UserError(`no built-in model "${name}"`);
      for (const f of await fetchModel(await readSpec(file), o.mirror)) console.log(`${f.action.padEnd(10)} ${f.path}`);
    }
  });

program.parseAsync().catch((e: unknown) => {
  console.error(`fetch-model: ${errorMessage(e)}`);
  process.exitCode = 1;
});
