/** Bytes a shard line can take as they are: printable ASCII other than `"` and `\`. */
const plain = (b: number) => b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c;

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
