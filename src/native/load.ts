import { createRequire } from 'node:module';
import { errorMessage } from '../errors.js';

/**
 * One of the addons native/build.cjs builds at install (build/Release/<name>.node), or why not:
 * `off` when a setting turned it off, else what was missing and `hint` (how to get it).
 */
export function loadAddon<T>(name: string, off: string | undefined, hint: string): { addon?: T; problem?: string } {
  if (off) return { problem: off };
  try {
    return { addon: createRequire(import.meta.url)(`../../../build/Release/${name}.node`) as T };
  } catch (e) {
    const why = (e as { code?: string }).code === 'MODULE_NOT_FOUND' ? `build/Release/${name}.node is missing` : errorMessage(e).split('\n')[0];
    return { problem: `not built (${why}): ${hint}` };
  }
}
