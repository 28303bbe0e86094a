import os from 'node:os';
import type { Piscina } from 'piscina';
import type { HeicPixels, HeicTask } from './heic-thread.js';
import { settings } from '../settings.js';

/**
 * HEIC decodes run on their own threads: libheif-js is WebAssembly, which would otherwise run on
 * the main thread and stall fetching, batching and inference for the ~100 ms an iPhone photo takes.
 * Created on the first HEIC, so runs without any pay nothing; idle threads exit after 30 s.
 */
let pool: Piscina | undefined;

export function heicThreads(): number {
  return settings().heicThreads ?? Math.min(2, os.availableParallelism());
}

const HEVC_BRANDS = ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs'];

/** ISO-BMFF `ftyp` with a HEIF brand: what iPhones and many Android phones write. */
export function isHeif(bytes: Buffer): boolean {
  if (bytes.length < 12 || bytes.toString('latin1', 4, 8) !== 'ftyp') return false;
  return [...HEVC_BRANDS, 'mif1', 'msf1'].includes(bytes.toString('latin1', 8, 12));
}

/** A major brand that means HEVC (not the generic mif1, which AVIF files may carry too): no need to ask sharp first. */
export const isHevcHeif = (bytes: Buffer): boolean => bytes.length >= 12 && bytes.toString('latin1', 4, 8) === 'ftyp' && HEVC_BRANDS.includes(bytes.toString('latin1', 8, 12));

export async function decodeHeicOffThread(bytes: Buffer, maxPixels: number): Promise<HeicPixels> {
  // piscina itself loads with the first HEIC that needs the WebAssembly decoder.
  const { Piscina } = await import('piscina');
  pool ??= new Piscina({ filename: new URL('./heic-thread.js', import.meta.url).href, maxThreads: heicThreads(), minThreads: 0, idleTimeout: 30_000 });
  const copy = new Uint8Array(bytes);
  return (await pool.run({ bytes: copy, maxPixels } satisfies HeicTask, { transferList: [copy.buffer] })) as HeicPixels;
}

/** Pool threads alive now (a test checks HEIC decodes run off the main thread). */
export function heicPoolThreads(): number {
  return pool?.threads.length ?? 0;
}

/** Let the process exit: the pool's threads would otherwise keep it alive until their idle timeout. */
export async function closeHeicPool(): Promise<void> {
  await pool?.destroy();
  pool = undefined;
}
