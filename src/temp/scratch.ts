import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * Scratch folders in the temp folder (a plan's manifest parts, 30 GB at 300 M rows; compaction's
 * spill): named with the process id, removed when the process exits by any path but SIGKILL, and
 * a killed process's ones removed by the next plan or compaction on the machine.
 */
export type ScratchKind = 'plan' | 'compact';

const live = new Set<string>();
let hooked = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code !== 'ESRCH';
  }
}

/** Folders of processes that are gone: `imgtag-<kind>-<pid>-*` with no such process. */
async function removeStale(kind: ScratchKind): Promise<void> {
  const tmp = os.tmpdir();
  const pattern = new RegExp(`^imgtag-${kind}-(\\d+)-`);
  for (const name of await fsp.readdir(tmp).catch(() => [] as string[])) {
    const pid = pattern.exec(name)?.[1];
    if (pid !== undefined && Number(pid) !== process.pid && !alive(Number(pid))) await fsp.rm(path.join(tmp, name), { recursive: true, force: true });
  }
}

export async function scratchDir(kind: ScratchKind): Promise<string> {
  await removeStale(kind);
  if (!hooked) {
    hooked = true;
    // Synchronous: 'exit' handlers cannot wait. process.exit() and a normal end both come here.
    process.on('exit', () => live.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  }
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `imgtag-${kind}-${process.pid}-`));
  live.add(dir);
  return dir;
}

export async function dropScratch(dir: string): Promise<void> {
  live.delete(dir);
  await fsp.rm(dir, { recursive: true, force: true });
}
