import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root, from dist/scripts/. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Benchmarks run on the shared models and images beside the checkout unless told otherwise. */
process.env.IMGTAG_MODEL_DIR ??= path.resolve(ROOT, '../shared/models');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Pin a command to one core. */
export const ONE_CORE = ['taskset', '-c', '0'];

/** Run a command that prints its measured seconds on its last line, and return them. */
export function seconds(cmd: string[], env: NodeJS.ProcessEnv = process.env): number {
  const out = execFileSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', env, maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
  return Number(out.trim().split('\n').pop());
}

/** The SIMD flags that decide which decoder and which int8 kernels win. */
export function cpuFlags(): string {
  const flags = new Set(fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1]?.trim().split(/\s+/) ?? []);
  return ['avx2', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx_vnni'].filter((f) => flags.has(f)).join(' ') || 'none of avx2/avx512/vnni';
}
