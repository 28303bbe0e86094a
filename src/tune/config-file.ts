import { invalid, UserError, errorMessage } from '../errors.js';
import { readText } from '../storage/storage.js';
import type { TuneConfig } from './search.js';

const KEYS = ['batchSize', 'concurrency', 'threads', 'workers'] as const;

/** The settings of a tuning config file (tune writes reports/tuning-config.json), each checked; unknown keys are ignored. */
export async function readTuningConfig(file: string): Promise<Partial<Pick<TuneConfig, (typeof KEYS)[number]>>> {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(await readText(file)) as Record<string, unknown>;
  } catch (e) {
    throw new UserError(`--config ${file}: ${errorMessage(e)}`);
  }
  const out: Partial<Record<(typeof KEYS)[number], number>> = {};
  for (const key of KEYS) {
    const v = doc[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw invalid(`--config ${file}: ${key}`, 'a positive integer', v);
    out[key] = v;
  }
  return out;
}
