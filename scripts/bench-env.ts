import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuFlags as machineCpuFlags } from '../src/infer/machine.js';
import { readMarkers, type CommitMarker } from '../src/rundir/commits.js';

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

/** The SIMD flags that decide which decoder and which int8 kernels win, as commit markers record them. */
export function cpuFlags(): string {
  return machineCpuFlags()?.join(' ') || 'none of avx2/avx512/vnni';
}

/** One `imgtag run` over a fresh plan, as the benchmarks time it: wall seconds, CPU seconds (GNU time, every process) and the commit markers. */
export interface TimedRun {
  seconds: number;
  user: number;
  system: number;
  markers: CommitMarker[];
}

/**
 * Plan `manifest` into `run` (shards of `shardSize`), run it with `flags` and `env` (added to this
 * process's), read its markers, then delete the run directory (local runs only).
 */
export async function timedImgtagRun(manifest: string, run: string, shardSize: number, flags: string[], env: NodeJS.ProcessEnv = {}): Promise<TimedRun> {
  const cli = path.join(ROOT, 'dist/cli/imgtag.js');
  const plan = spawnSync(process.execPath, [cli, 'plan', '--manifest', manifest, '--run', run, '--shard-size', String(shardSize)], { encoding: 'utf8' });
  if (plan.status !== 0) throw new Error(plan.stderr);
  const start = performance.now();
  const res = spawnSync('/usr/bin/time', ['-f', '%U %S', process.execPath, cli, 'run', '--run', run, '--no-compact', ...flags], { encoding: 'utf8', env: { ...process.env, ...env } });
  const seconds = (performance.now() - start) / 1000;
  if (res.status !== 0) throw new Error(`run ${flags.join(' ')}: ${res.stderr.slice(-2000)}`);
  const [user, system] = res.stderr.trim().split('\n').pop()!.split(' ').map(Number) as [number, number];
  const markers = await readMarkers(run);
  fs.rmSync(run, { recursive: true, force: true });
  return { seconds, user, system, markers };
}
