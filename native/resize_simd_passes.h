// Template: resize_crop.c's passes for one SIMD level. resize_simd.c includes it once per level,
// after defining that level's primitives (undefined again at the end):
//   NAME(x), SIMD_FN                 the level's function names and target attribute
//   V, VBYTES                        a vector of VBYTES bytes: VBYTES / 16 lanes of 16
//   V_LOAD(p), V_STORE(p, v), V_LOAD_PART(p, n)   n < VBYTES bytes, the rest zero
//   ZIP_LO(bits, a, b), ZIP_HI       interleave the low / high halves of each lane's bits-wide elements
//   STORE_LANES(p, v)                lane k at p + k * 256
//   ACC, ACC_INIT, ACC_MADD(a, p, c), ACC_STORE(d, a)   16 int32 sums: + the 16 bytes at p times c;
//                                    out as 16 clip8 bytes
// Exactness: every sum is the scalar code's int32 sum of the same products (which never overflow),
// in another order, so the bytes are the same.

#define LANES (VBYTES / 16)

/**
 * A 16 x 16 byte transpose in each lane: given v[i] = row i, after it v[m] holds column rev4[m]
 * (four rounds of interleaving move a byte from (register r, byte c) to (register rev4[c], byte r)).
 */
SIMD_FN static inline void NAME(transpose)(V v[16]) {
  V w[16];
#define ROUND(bits, from, to)                                  \
  for (int i = 0; i < 8; i++) {                                \
    to[i] = ZIP_LO(bits, from[2 * i], from[2 * i + 1]);        \
    to[i + 8] = ZIP_HI(bits, from[2 * i], from[2 * i + 1]);    \
  }
  ROUND(8, v, w)
  ROUND(16, w, v)
  ROUND(32, v, w)
  ROUND(64, w, v)
#undef ROUND
}

/*
 * Horizontal pass, 16 rows at a time: every output pixel has the same taps on every row, so one
 * vector of 16 int32 sums holds an output byte for 16 rows. The rows' window is transposed into
 * column order first (cols + j * 16: byte j of each row), and the 16-row output bytes back after.
 */
SIMD_FN int NAME(hpass)(const uint8_t *src, int stride, int rows, const kernel_t *kx, int cw, uint8_t *tmp, int tstride) {
  int xlo = kx->bounds[0], xhi = xlo;
  for (int o = 0; o < cw; o++) {
    if (kx->bounds[2 * o] < xlo) xlo = kx->bounds[2 * o];
    if (kx->bounds[2 * o] + kx->bounds[2 * o + 1] > xhi) xhi = kx->bounds[2 * o] + kx->bounds[2 * o + 1];
  }
  const int wb = (xhi - xlo) * 3, n = cw * 3;
  const int np = (n + VBYTES - 1) / VBYTES * VBYTES;
  uint8_t *cols = scratch(&scratch_cols, (size_t)((wb + VBYTES - 1) / VBYTES * VBYTES) * 16);
  uint8_t *outT = scratch(&scratch_out, (size_t)np * 16);
  if (!cols || !outT) return 0;
  for (int yb = 0; yb < rows; yb += 16) {
    const uint8_t *line[16];
    // A last block of fewer than 16 rows repeats its last row (its outputs are not stored).
    for (int i = 0; i < 16; i++) line[i] = src + (size_t)(yb + i < rows ? yb + i : rows - 1) * stride + (size_t)xlo * 3;
    for (int c = 0; c < wb; c += VBYTES) {
      V v[16];
      for (int i = 0; i < 16; i++) v[i] = wb - c >= VBYTES ? V_LOAD(line[i] + c) : V_LOAD_PART(line[i] + c, wb - c);
      NAME(transpose)(v);
      for (int m = 0; m < 16; m++) STORE_LANES(cols + (size_t)(c + rev4[m]) * 16, v[m]);
    }
    // Output byte j of the 16 rows goes where the transpose back wants it: lane (j / 16) % LANES of
    // register j % 16 of block j / VBYTES.
    for (int o = 0; o < cw; o++) {
      const int32_t *cf = kx->coeffs + (size_t)o * kx->ksize;
      const uint8_t *p = cols + (size_t)(kx->bounds[2 * o] - xlo) * 48;
      ACC r = ACC_INIT, g = r, b = r;
      for (int t = 0; t < kx->bounds[2 * o + 1]; t++, p += 48) {
        r = ACC_MADD(r, p, cf[t]);
        g = ACC_MADD(g, p + 16, cf[t]);
        b = ACC_MADD(b, p + 32, cf[t]);
      }
      const ACC rgb[3] = {r, g, b};
      for (int c = 0; c < 3; c++) {
        int j = o * 3 + c;
        ACC_STORE(outT + (size_t)(j / VBYTES) * VBYTES * 16 + (j % 16) * VBYTES + (j / 16) % LANES * 16, rgb[c]);
      }
    }
    for (int c = 0; c < n; c += VBYTES) {
      V v[16];
      for (int m = 0; m < 16; m++) v[m] = V_LOAD(outT + (size_t)c * 16 + m * VBYTES);
      NAME(transpose)(v);
      for (int i = 0; i < 16 && yb + i < rows; i++) V_STORE(tmp + (size_t)(yb + i) * tstride + c, v[rev4[i]]);
    }
  }
  return 1;
}

/** Vertical pass, 16 bytes of an output row at a time; the last 16 overlap the ones before. */
SIMD_FN void NAME(vpass)(const uint8_t *tmp, int tstride, const kernel_t *ky, int y0, int ch, int n, uint8_t *dst) {
  for (int o = 0; o < ch; o++) {
    const uint8_t *first = tmp + (size_t)(ky->bounds[2 * o] - y0) * tstride;
    const int32_t *cf = ky->coeffs + (size_t)o * ky->ksize;
    const int yn = ky->bounds[2 * o + 1];
    uint8_t *out = dst + (size_t)o * n;
    for (int x = 0;; x += 16) {
      if (x > n - 16) x = n - 16;
      ACC a = ACC_INIT;
      const uint8_t *p = first + x;
      for (int y = 0; y < yn; y++, p += tstride) a = ACC_MADD(a, p, cf[y]);
      ACC_STORE(out + x, a);
      if (x == n - 16) break;
    }
  }
}

/**
 * box_shrink_rgb's means, in an order the compiler vectorises: each output row's k source rows
 * summed down the columns (16 bits), then k columns across; the division by a multiply and shift,
 * exact for every sum x < 256 n: m = ceil(2^s / n) is n / 2^s over by e < n, and x e < 256 n^2 <= 2^s.
 */
SIMD_FN int NAME(box_shrink)(const uint8_t *rgb, int stride, int w, int h, int k, uint8_t *out) {
  const int ow = w / k, oh = h / k, nb = ow * k * 3;
  const uint32_t n = (uint32_t)k * k;
  int s = 0;
  while ((1ull << s) < 256ull * n * n) s++;
  const uint64_t m = ((1ull << s) + n - 1) / n;
  uint16_t *sums = scratch(&scratch_cols, sizeof(uint16_t) * (size_t)nb);
  if (!sums) return 0;
  for (int oy = 0; oy < oh; oy++) {
    const uint8_t *line = rgb + (size_t)oy * k * stride;
    for (int x = 0; x < nb; x++) sums[x] = line[x];
    for (int r = 1; r < k; r++) {
      line += stride;
      for (int x = 0; x < nb; x++) sums[x] = (uint16_t)(sums[x] + line[x]);
    }
    uint8_t *o = out + (size_t)oy * ow * 3;
    for (int ox = 0; ox < ow; ox++, o += 3) {
      const uint16_t *p = sums + (size_t)ox * k * 3;
      uint32_t r = n / 2, g = r, b = r;
      for (int i = 0; i < k; i++, p += 3) {
        r += p[0];
        g += p[1];
        b += p[2];
      }
      o[0] = (uint8_t)((r * m) >> s);
      o[1] = (uint8_t)((g * m) >> s);
      o[2] = (uint8_t)((b * m) >> s);
    }
  }
  return 1;
}

#undef LANES
#undef SIMD_FN
#undef NAME
#undef V
#undef VBYTES
#undef V_LOAD
#undef V_STORE
#undef V_LOAD_PART
#undef ZIP_LO
#undef ZIP_HI
#undef STORE_LANES
#undef ACC
#undef ACC_INIT
#undef ACC_MADD
#undef ACC_STORE
