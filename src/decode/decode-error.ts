import sharp from 'sharp';
import { errorMessage } from '../errors.js';
import { DecodeError } from './types.js';

/** What the first bytes say a file is, by magic numbers: names for people, not MIME types. */
function sniff(b: Buffer): string | undefined {
  const head = b.subarray(0, 512).toString('latin1');
  const text = head.trimStart().toLowerCase();
  if (b[0] === 0xff && b[1] === 0xd8) return 'JPEG';
  if (head.startsWith('\x89PNG')) return 'PNG';
  if (head.startsWith('GIF8')) return 'GIF';
  if (head.startsWith('RIFF') && head.slice(8, 12) === 'WEBP') return 'WebP';
  if (head.slice(4, 8) === 'ftyp') return /^(avif|avis)/.test(head.slice(8, 12)) ? 'AVIF' : 'HEIC/HEIF';
  if (head.startsWith('II*\0') || head.startsWith('MM\0*')) return 'TIFF';
  if (head.startsWith('BM')) return 'BMP';
  if (head.startsWith('8BPS')) return 'Photoshop (PSD)';
  if (head.startsWith('\0\0\x01\0')) return 'ICO';
  if (head.startsWith('%PDF')) return 'PDF';
  if (head.startsWith('PK\x03\x04')) return 'ZIP';
  if (text.startsWith('<!doctype html') || text.startsWith('<html') || /<(head|body|title)[\s>]/.test(text)) return 'HTML';
  if (text.startsWith('<svg') || (text.startsWith('<?xml') && text.includes('<svg'))) return 'SVG';
  if (text.startsWith('<?xml') || text.startsWith('<')) return 'XML';
  if (text.startsWith('{') || text.startsWith('[')) return 'JSON';
  return undefined;
}

const IMAGE_FORMATS = new Set(['JPEG', 'PNG', 'GIF', 'WebP', 'AVIF', 'HEIC/HEIF', 'TIFF']);

/**
 * The decoder's own words, once: libvips repeats a message per failed loader and adds
 * "Unknown error"; lines are kept in order, each only the first time, without those.
 */
export function decoderWords(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const line of raw.split(/\n|(?<=\))\s+(?=[a-z]+:)/)) {
    const clean = line.replace(/\bunknown error\b/gi, '').replace(/\s+/g, ' ').replace(/^[\s:;,.-]+|[\s:;,-]+$/g, '').trim();
    // Empty, or only a loader's name left once "Unknown error" is gone ("heif:"): nothing to say.
    if (!/\s/.test(clean) || seen.has(clean.toLowerCase())) continue;
    // A later line that only restates an earlier one (libvips prefixes the file name) adds nothing.
    if ([...seen].some((s) => s.includes(clean.toLowerCase()) || clean.toLowerCase().includes(s))) continue;
    seen.add(clean.toLowerCase());
    parts.push(clean);
  }
  return errorMessage(parts.join('; '));
}

/** The image's size from its header alone, for a pixel-limit message. */
async function headerSize(bytes: Buffer): Promise<string | undefined> {
  try {
    const m = await sharp(bytes, { limitInputPixels: false }).metadata();
    return m.width && m.height ? `${m.width}x${m.height}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One line for a person: what is wrong in plain words first, then the decoder's own text once.
 * "empty file", "not an image: it looks like HTML", "truncated JPEG", "too many pixels: 30000x30000
 * is over --max-pixels 100000000", "unsupported format: BMP".
 */
export async function describeDecodeError(bytes: Buffer, err: unknown, maxPixels: number): Promise<string> {
  const words = decoderWords(err);
  const lower = words.toLowerCase();
  const kind = sniff(bytes);
  const said = (problem: string) => (words && !problem.toLowerCase().includes(lower) ? `${problem} (decoder: ${words})` : problem);
  if (bytes.length === 0) return 'empty file: 0 bytes';
  if (err instanceof DecodeError && err.kind === 'too-many-pixels') {
    const size = err.size ? `${err.size.width}x${err.size.height}` : await headerSize(bytes);
    if (err.decodes) return `too many pixels: ${size ?? 'the image'} would decode ${err.decodes}, over the --max-pixels limit of ${maxPixels}`;
    return `too many pixels: ${size ?? 'the image'} is over the --max-pixels limit of ${maxPixels}`;
  }
  if (kind === 'SVG') return 'SVG is not decoded: it is a document that can reference other files, not an image';
  if (kind && !IMAGE_FORMATS.has(kind)) {
    const where = ['HTML', 'XML', 'JSON'].includes(kind) ? ' (an error page or API answer saved under an image name?)' : '';
    return kind === 'BMP' || kind === 'ICO' || kind === 'Photoshop (PSD)' ? said(`unsupported image format: ${kind}`) : `not an image: it looks like ${kind}${where}`;
  }
  if (!kind) return said(`not an image: no known image format starts with bytes ${bytes.subarray(0, 4).toString('hex').replace(/(..)/g, '$1 ').trim()}`);
  // By the decoder's words, or by the file's own end marker: libvips's text for the same fault
  // varies (and can be empty) when decodes run on several threads.
  const endsEarly = (kind === 'PNG' && !bytes.includes('IEND')) || (kind === 'JPEG' && !(bytes.at(-2) === 0xff && bytes.at(-1) === 0xd9)) || (kind === 'GIF' && bytes.at(-1) !== 0x3b);
  const truncated = said(`truncated ${kind}: the file ends before the image does`);
  if (/premature end|truncat|unexpected end|end of (file|data|stream)|not enough data|no more data|read error/.test(lower)) return truncated;
  if (/corrupt|bogus|invalid|bad (huffman|marker)/.test(lower)) return said(`damaged ${kind}: its data could not be decoded`);
  if (endsEarly) return truncated;
  return said(`damaged ${kind}: its data could not be decoded`);
}
