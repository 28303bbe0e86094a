import sharp from 'sharp';

/** A small deterministic PRNG (mulberry32), so generated images are the same on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A w x h RGB picture of soft gradients and a few discs, encoded as JPEG or PNG. */
export async function syntheticImage(seed: number, w: number, h: number, format: 'jpeg' | 'png'): Promise<Buffer> {
  const rand = rng(seed);
  const base = [rand() * 255, rand() * 255, rand() * 255];
  const discs = Array.from({ length: 3 + Math.floor(rand() * 4) }, () => ({
    x: rand() * w,
    y: rand() * h,
    r: (0.05 + rand() * 0.25) * Math.min(w, h),
    c: [rand() * 255, rand() * 255, rand() * 255],
  }));
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let c = base.map((v, i) => v * (0.6 + 0.4 * ((i === 0 ? x / w : y / h) as number)));
      for (const d of discs) if ((x - d.x) ** 2 + (y - d.y) ** 2 < d.r ** 2) c = d.c;
      const o = (y * w + x) * 3;
      px[o] = c[0]!;
      px[o + 1] = c[1]!;
      px[o + 2] = c[2]!;
    }
  }
  const img = sharp(px, { raw: { width: w, height: h, channels: 3 } });
  return format === 'jpeg' ? img.jpeg({ quality: 85 }).toBuffer() : img.png().toBuffer();
}
