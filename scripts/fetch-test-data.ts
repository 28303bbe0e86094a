import { Command } from 'commander';
import { fetchTestData, testDataCache, testDataDirs } from './test-data.js';

/**
 * npm run fetch-test-data [-- --mirror URL]: the tests' models and photos into the cache (79 MB,
 * sha256-checked). --if-needed (what npm test runs first): nothing when IMGTAG_MODEL_DIR and
 * IMGTAG_IMAGE_DIR, or ../shared beside the checkout, already have them.
 */
const program = new Command('fetch-test-data')
  .option('--mirror <url>', 'download from this base URL instead of https://raw.githubusercontent.com (same /owner/repo/commit/path layout)')
  .option('--if-needed', 'only when no folder named by the env variables, ../shared or the cache has the test data')
  .action(async (o: { mirror?: string; ifNeeded?: boolean }) => {
    const found = testDataDirs();
    if (o.ifNeeded && found) return void console.log(`test data: ${found.from}`);
    const dest = testDataCache();
    console.log(`test data: downloading what is missing into ${dest} (79 MB the first time; heif-enc makes the HEIC samples)`);
    await fetchTestData({ dest, mirror: o.mirror, log: (l) => console.log(`test data: ${l}`) });
  });

program.parseAsync().catch((e: unknown) => {
  console.error(`fetch-test-data: ${e instanceof Error ? e.message : String(e)}`);
  // Now, not when the downloads still in flight give up (up to their 20 s answer timeout each).
  process.exit(1);
});
