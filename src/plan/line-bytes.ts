/** Bytes a shard line can take as they are: printable ASCII other than `"` and `\`. */
export const plainByte = (b: number) => b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c;
const plain = plainByte;

const PLUS = 0x2b;
const PERCENT = 0x25;
/** A hex digit's value by byte, -1 for any other byte. */
const HEX = new Int8Array(256).fill(-1);
for (let d = 0; d < 10; d++) HEX[0x30 + d] = d;
for (let d = 0; d < 6; d++) HEX[0x41 + d] = HEX[0x61 + d] = 10 + d;

const SLASH = 0x2f;
/** How far from its end an escape can change a key's extension: ".tiff" escaped byte by byte is 15 bytes. */
const EXTENSION_REACH = 15;

/**
 * Whether a URL-encoded key must be judged on its decoded form (by the string path), not its bytes:
 * an escape where the extension is ("photo.jp%67" is photo.jpg; "x%2Ejpeg" is x.jpeg), or an
 * escaped "." or "/" anywhere in its last segment ("a%2F.jpg" is a/.jpg, a hidden file, not an
 * image). The one rule of both byte paths: part-writer.ts and native/plan_lines.c (key_needs_decoding).
 */
export function keyNeedsDecoding(buf: Uint8Array, from: number, to: number): boolean {
  for (let i = to - 1; i >= from; i--) {
    const b = buf[i]!;
    if (b === SLASH) return false;
    if (b !== PERCENT) continue;
    if (i >= to - EXTENSION_REACH) return true;
    const x = (buf[i + 2] ?? 0) | 0x20;
    if (buf[i + 1] === 0x32 && (x === 0x65 || x === 0x66)) return true;
  }
  return false;
}

/**
 * An output buffer that shard lines are assembled in byte by byte, from ranges of the input, so
 * the common line costs no string at all. `copy*` return false when a byte needs another path.
 */
export class LineBytes {
  buf = Buffer.allocUnsafe(1 << 20);
  pos = 0;

  /** @param drain takes what was assembled, and is done with it when it returns: the buffer is reused. */
  constructor(private readonly drain: (bytes: Buffer) => void) {}

  flush(): void {
    if (this.pos > 0) this.drain(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }

  /** Make room for `n` more bytes, flushing first if need be. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
  }

  /** Bytes known to be plain, such as the fixed parts of a line. */
  put(bytes: Uint8Array): void {
    // A loop, not buf.set(): these are a few bytes, where set()'s call costs more than the copy.
    const out = this.buf;
    let p = this.pos;
    for (let i = 0; i < bytes.length; i++) out[p++] = bytes[i]!;
    this.pos = p;
  }

  /** Copy bytes that need no JSON escaping, and none of `stop` (a URL-encoded key's `%` and `+`). */
  copyPlain(src: Uint8Array, from: number, to: number, stop1 = -1, stop2 = -1): boolean {
    const out = this.buf;
    let p = this.pos;
    for (let i = from; i < to; i++) {
      const b = src[i]!;
      if (!plain(b) || b === stop1 || b === stop2) return false;
      out[p++] = b;
    }
    this.pos = p;
    return true;
  }

  /**
   * Copy an Inventory key, URL-decoding it as decodeInventoryKey does ("+" a space, "%XX" a byte)
   * and writing it as JSON.stringify would (UTF-8 as it is): byte for byte the string path's output.
   * False (nothing kept) for what that path treats otherwise: a byte JSON escapes, a bad escape, or
   * bytes that are not UTF-8 (decodeURIComponent refuses them; the string path then says so).
   */
  copyKey(src: Uint8Array, from: number, to: number): boolean {
    const out = this.buf;
    let p = this.pos;
    // Continuation bytes still due, and the range the next one must be in (narrower after E0, ED,
    // F0 and F4: no overlongs, no surrogates, nothing past U+10FFFF).
    let follow = 0;
    let lo = 0x80;
    let hi = 0xbf;
    for (let i = from; i < to; i++) {
      let b = src[i]!;
      if (b === PLUS) b = 0x20;
      else if (b === PERCENT) {
        const h = i + 2 < to ? HEX[src[i + 1]!]! : -1;
        const l = i + 2 < to ? HEX[src[i + 2]!]! : -1;
        if (h < 0 || l < 0) return false;
        b = (h << 4) | l;
        i += 2;
      }
      if (follow > 0) {
        if (b < lo || b > hi) return false;
        follow--;
        lo = 0x80;
        hi = 0xbf;
      } else if (b >= 0x80) {
        if (b >= 0xc2 && b <= 0xdf) follow = 1;
        else if (b >= 0xe0 && b <= 0xef) follow = 2;
        else if (b >= 0xf0 && b <= 0xf4) follow = 3;
        else return false;
        if (b === 0xe0) lo = 0xa0;
        else if (b === 0xed) hi = 0x9f;
        else if (b === 0xf0) lo = 0x90;
        else if (b === 0xf4) hi = 0x8f;
      } else if (!plain(b)) return false;
      out[p++] = b;
    }
    if (follow > 0) return false;
    this.pos = p;
    return true;
  }

  /** Copy a decimal number of 1 to 16 digits. */
  copyDigits(src: Uint8Array, from: number, to: number): boolean {
    if (to - from < 1 || to - from > 16) return false;
    const out = this.buf;
    let p = this.pos;
    for (let i = from; i < to; i++) {
      const b = src[i]!;
      if (b < 0x30 || b > 0x39) return false;
      out[p++] = b;
    }
    this.pos = p;
    return true;
  }
}
