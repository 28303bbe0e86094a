import { UserError } from '../errors.js';
import { NoInventoryReport, resolveManifest, type ManifestSource } from '../manifest/index.js';
import { deleteObjects, exists, readText, writeBytes } from '../storage/storage.js';
import { joinUri } from '../storage/uri.js';
import { hms } from '../report/duration.js';
import { WaitingForInventory } from './busy.js';

/** S3 delivers an Inventory configuration's first report within 48 hours; past this, something is wrong. */
export const INVENTORY_PATIENCE_MS = 3 * 24 * 3600_000;

/** `<root>/waiting.json`: when the nightly first found no report, so the wait is counted across nights. */
const waitingUri = (root: string) => joinUri(root, 'waiting.json');

/**
 * The nightly's manifest, resolved to tonight's report. A schedule created with the Inventory
 * configuration starts before the first report exists: the nightly then waits quietly (exit 0, a
 * `nightly-waiting` event), and fails, paging, once it has waited INVENTORY_PATIENCE_MS.
 */
export async function awaitInventory(root: string, source: ManifestSource, now = Date.now()): Promise<ManifestSource> {
  try {
    const resolved = await resolveManifest(source);
    if (await exists(waitingUri(root))) await deleteObjects([waitingUri(root)]);
    return resolved;
  } catch (e) {
    if (!(e instanceof NoInventoryReport)) throw e;
    const since = await waitingSince(root, now);
    const waited = now - since;
    if (waited >= INVENTORY_PATIENCE_MS) {
      throw new UserError(
        `${e.message}; the nightly has waited ${hms(waited / 1000)} since ${new Date(since).toISOString()} for the first report, which S3 delivers within 48 hours: is the Inventory configuration on the source bucket, enabled, and delivering to this folder (infra/terraform/README.md, step 6)?`,
      );
    }
    throw new WaitingForInventory(`no report yet in ${source.uri} (waiting since ${new Date(since).toISOString()}, ${hms(waited / 1000)}; a failure after ${hms(INVENTORY_PATIENCE_MS / 1000)})`);
  }
}

async function waitingSince(root: string, now: number): Promise<number> {
  if (await exists(waitingUri(root))) {
    const since = Date.parse(/"since":"([^"]+)"/.exec(await readText(waitingUri(root)))?.[1] ?? '');
    // A damaged file starts the count again rather than failing the night.
    if (Number.isFinite(since)) return since;
  }
  await writeBytes(waitingUri(root), JSON.stringify({ since: new Date(now).toISOString() }));
  return now;
}
