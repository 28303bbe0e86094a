import { createRequire } from 'node:module';

/**
 * One HEIC/HEIF decode on a pool thread (piscina): libheif with libde265, compiled to WebAssembly
 * (libheif-js), for the HEVC images sharp's prebuilt libvips cannot decode. The primary image,
 * with the file's rotation and mirroring applied (upright), as 8-bit RGBA. Grid (tiled) images and
 * 10-bit ones are assembled and converted by libheif.
 */
interface HeifImage {
  is_primary(): boolean;
  get_width(): number;
  get_height(): number;
  display(target: { data: Uint8ClampedArray; width: number; height: number }, done: (out: unknown) => void): void;
  free(): void;
}
interface Libheif {
  ready?: Promise<void>;
  HeifDecoder: new () => { decode(bytes: Uint8Array): HeifImage[]; decoder: { delete(): void } };
}

const libheif = createRequire(import.meta.url)('libheif-js/wasm-bundle') as Libheif;

/** libheif-js reports its errors with console.log: kept here, to become the error's text. */
let said: string[] = [];
console.log = (...args: unknown[]) => void said.push(args.map(String).join(' '));

export interface HeicTask {
  bytes: Uint8Array;
  maxPixels: number;
}

/** The primary image's pixels, or (overLimit) only its size: over maxPixels, nothing was decoded. */
export type HeicPixels = { width: number; height: number; rgba: Uint8Array; overLimit?: undefined } | { width: number; height: number; overLimit: true };

export default async function decodeHeic({ bytes, maxPixels }: HeicTask): Promise<HeicPixels> {
  await libheif.ready;
  said = [];
  const decoder = new libheif.HeifDecoder();
  const images = decoder.decode(bytes);
  try {
    const image = images.find((i) => i.is_primary()) ?? images[0];
    if (!image) throw new Error(`HEIF file without a readable image${said.length ? ` (libheif: ${said[0]})` : ''}`);
    const width = image.get_width();
    const height = image.get_height();
    // Answered, not thrown: an error crossing the thread boundary loses its class.
    if (width * height > maxPixels) return { width, height, overLimit: true };
    const data = new Uint8ClampedArray(width * height * 4);
    const out = await new Promise<unknown>((resolve) => image.display({ data, width, height }, resolve));
    if (!out) throw new Error(`HEVC data could not be decoded${said.length ? ` (libheif: ${said.at(-1)})` : ''}`);
    return { width, height, rgba: new Uint8Array(data.buffer) };
  } finally {
    for (const i of images) i.free();
    decoder.decoder.delete();
  }
}
