// The SIMD levels of resize_crop.c's passes (see resize_simd.h): resize_simd_passes.h compiled once
// per level with that level's primitives, AVX2 and AVX-512 with target attributes so one build
// runs on any x86-64 (the level is chosen at run time), NEON on aarch64 (always there).
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "resize_crop.h"
#include "resize_simd.h"

static const char *const level_names[] = {"scalar", "neon", "avx2", "avx512"};

static int best_level(void) {
#if defined(RESIZE_SIMD_X86)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) return SIMD_AVX512;
  if (__builtin_cpu_supports("avx2")) return SIMD_AVX2;
#elif defined(RESIZE_SIMD_NEON)
  return SIMD_NEON;
#endif
  return SIMD_SCALAR;
}

/** IMGTAG_SIMD=scalar|avx2|avx512|neon forces a level (tests, benchmarks); one this CPU lacks, or an unknown value, gets the best. */
static int chosen_level(void) {
  int best = best_level();
  const char *want = getenv("IMGTAG_SIMD");
  for (int l = 0; want && l < (int)(sizeof level_names / sizeof level_names[0]); l++) {
    if (strcmp(want, level_names[l]) != 0) continue;
    int has = l == SIMD_SCALAR || (l <= best && (l == SIMD_NEON) == (best == SIMD_NEON));
    return has ? l : best;
  }
  return best;
}

static atomic_int level = -1;

int simd_level(void) {
  int l = atomic_load_explicit(&level, memory_order_relaxed);
  if (l < 0) atomic_store_explicit(&level, l = chosen_level(), memory_order_relaxed);
  return l;
}

// Read when the addon is loaded, on the main thread: getenv on a pool thread could race with a
// setenv from JavaScript.
#if defined(__GNUC__)
__attribute__((constructor)) static void read_level(void) { simd_level(); }
#endif

const char *resize_simd_level(void) { return level_names[simd_level()]; }

#if defined(RESIZE_SIMD_X86) || defined(RESIZE_SIMD_NEON)
// Column-ordered source rows (or box_shrink's column sums) and output bytes, per thread.
static _Thread_local scratch_t scratch_cols, scratch_out;
/** 4-bit reversal: which column the transpose leaves in each register (resize_simd_passes.h). */
static const int rev4[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
#endif

#if defined(RESIZE_SIMD_X86)
#include <immintrin.h>

// ---- AVX2: 32-byte vectors, 16 int32 sums as two of them.
#define SIMD_FN __attribute__((target("avx2")))
#define NAME(x) x##_avx2
#define V __m256i
#define VBYTES 32
#define V_LOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define V_STORE(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), v)
#define V_LOAD_PART(p, n) load_part_avx2(p, n)
#define ZIP_LO(bits, a, b) _mm256_unpacklo_epi##bits(a, b)
#define ZIP_HI(bits, a, b) _mm256_unpackhi_epi##bits(a, b)
#define STORE_LANES(p, v)                                              \
  do {                                                                 \
    _mm_storeu_si128((__m128i *)(void *)(p), _mm256_castsi256_si128(v)); \
    _mm_storeu_si128((__m128i *)(void *)((p) + 256), _mm256_extracti128_si256(v, 1)); \
  } while (0)
typedef struct { __m256i lo, hi; } acc_avx2;
#define ACC acc_avx2
#define ACC_INIT ((acc_avx2){_mm256_set1_epi32(1 << (PRECISION_BITS - 1)), _mm256_set1_epi32(1 << (PRECISION_BITS - 1))})
#define ACC_MADD(a, p, c) madd_avx2(a, p, c)
#define ACC_STORE(d, a) store_avx2(d, a)

SIMD_FN static inline __m256i load_part_avx2(const uint8_t *p, int n) {
  uint8_t b[32] = {0};
  memcpy(b, p, (size_t)n);
  return _mm256_loadu_si256((const __m256i *)(const void *)b);
}

SIMD_FN static inline acc_avx2 madd_avx2(acc_avx2 a, const uint8_t *p, int32_t c) {
  __m256i k = _mm256_set1_epi32(c);
  a.lo = _mm256_add_epi32(a.lo, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p)), k));
  a.hi = _mm256_add_epi32(a.hi, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p + 8))), k));
  return a;
}

// clip8 of each sum: the shift, then saturating packs (no sum's shift leaves 16 bits, so the
// 32-to-16 pack only orders; the 16-to-8 one clamps to 0..255). The packs work per 128-bit lane, so
// the dwords come out as rows 0-3, 8-11 | 4-7, 12-15 and a permute puts them in order.
SIMD_FN static inline void store_avx2(uint8_t *d, acc_avx2 a) {
  __m256i w = _mm256_packs_epi32(_mm256_srai_epi32(a.lo, PRECISION_BITS), _mm256_srai_epi32(a.hi, PRECISION_BITS));
  __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w, w), _mm256_setr_epi32(0, 4, 1, 5, 0, 4, 1, 5));
  _mm_storeu_si128((__m128i *)(void *)d, _mm256_castsi256_si128(b));
}

#include "resize_simd_passes.h"

// ---- AVX-512 (F, BW, VL: Skylake-X, Ice Lake, Zen 4): 64-byte vectors, 16 int32 sums in one.
#define SIMD_FN __attribute__((target("avx512f,avx512bw,avx512vl")))
#define NAME(x) x##_avx512
#define V __m512i
#define VBYTES 64
#define V_LOAD(p) _mm512_loadu_si512((const void *)(p))
#define V_STORE(p, v) _mm512_storeu_si512((void *)(p), v)
#define V_LOAD_PART(p, n) _mm512_maskz_loadu_epi8((__mmask64)((1ull << (n)) - 1), (const void *)(p))
#define ZIP_LO(bits, a, b) _mm512_unpacklo_epi##bits(a, b)
#define ZIP_HI(bits, a, b) _mm512_unpackhi_epi##bits(a, b)
#define STORE_LANES(p, v)                                                           \
  do {                                                                              \
    _mm_storeu_si128((__m128i *)(void *)(p), _mm512_castsi512_si128(v));              \
    _mm_storeu_si128((__m128i *)(void *)((p) + 256), _mm512_extracti32x4_epi32(v, 1)); \
    _mm_storeu_si128((__m128i *)(void *)((p) + 512), _mm512_extracti32x4_epi32(v, 2)); \
    _mm_storeu_si128((__m128i *)(void *)((p) + 768), _mm512_extracti32x4_epi32(v, 3)); \
  } while (0)
#define ACC __m512i
#define ACC_INIT _mm512_set1_epi32(1 << (PRECISION_BITS - 1))
#define ACC_MADD(a, p, c) \
  _mm512_add_epi32(a, _mm512_mullo_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))), _mm512_set1_epi32(c)))
// clip8: the shift, negatives to 0, then an unsigned saturating narrow (over 255 to 255).
#define ACC_STORE(d, a) \
  _mm_storeu_si128((__m128i *)(void *)(d), _mm512_cvtusepi32_epi8(_mm512_max_epi32(_mm512_srai_epi32(a, PRECISION_BITS), _mm512_setzero_si512())))

#include "resize_simd_passes.h"
#endif

#if defined(RESIZE_SIMD_NEON)
#include <arm_neon.h>

// ---- NEON: 16-byte vectors (one lane), 16 int32 sums in four.
#define SIMD_FN
#define NAME(x) x##_neon
#define V uint8x16_t
#define VBYTES 16
#define V_LOAD(p) vld1q_u8(p)
#define V_STORE(p, v) vst1q_u8(p, v)
#define V_LOAD_PART(p, n) load_part_neon(p, n)
#define ZIP_LO(bits, a, b) zip1_##bits(a, b)
#define ZIP_HI(bits, a, b) zip2_##bits(a, b)
#define STORE_LANES(p, v) vst1q_u8(p, v)
typedef struct { int32x4_t q[4]; } acc_neon;
#define ACC acc_neon
#define ACC_INIT ((acc_neon){{vdupq_n_s32(1 << (PRECISION_BITS - 1)), vdupq_n_s32(1 << (PRECISION_BITS - 1)), vdupq_n_s32(1 << (PRECISION_BITS - 1)), vdupq_n_s32(1 << (PRECISION_BITS - 1))}})
#define ACC_MADD(a, p, c) madd_neon(a, p, c)
#define ACC_STORE(d, a) store_neon(d, a)

static inline uint8x16_t load_part_neon(const uint8_t *p, int n) {
  uint8_t b[16] = {0};
  memcpy(b, p, (size_t)n);
  return vld1q_u8(b);
}
static inline uint8x16_t zip1_8(uint8x16_t a, uint8x16_t b) { return vzip1q_u8(a, b); }
static inline uint8x16_t zip2_8(uint8x16_t a, uint8x16_t b) { return vzip2q_u8(a, b); }
#define ZIP_WIDE(bits)                                                                                       \
  static inline uint8x16_t zip1_##bits(uint8x16_t a, uint8x16_t b) {                                         \
    return vreinterpretq_u8_u##bits(vzip1q_u##bits(vreinterpretq_u##bits##_u8(a), vreinterpretq_u##bits##_u8(b))); \
  }                                                                                                          \
  static inline uint8x16_t zip2_##bits(uint8x16_t a, uint8x16_t b) {                                         \
    return vreinterpretq_u8_u##bits(vzip2q_u##bits(vreinterpretq_u##bits##_u8(a), vreinterpretq_u##bits##_u8(b))); \
  }
ZIP_WIDE(16)
ZIP_WIDE(32)
ZIP_WIDE(64)

static inline acc_neon madd_neon(acc_neon a, const uint8_t *p, int32_t c) {
  uint8x16_t x = vld1q_u8(p);
  uint16x8_t lo = vmovl_u8(vget_low_u8(x)), hi = vmovl_u8(vget_high_u8(x));
  a.q[0] = vmlaq_n_s32(a.q[0], vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(lo))), c);
  a.q[1] = vmlaq_n_s32(a.q[1], vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(lo))), c);
  a.q[2] = vmlaq_n_s32(a.q[2], vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(hi))), c);
  a.q[3] = vmlaq_n_s32(a.q[3], vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(hi))), c);
  return a;
}

// clip8: the shift, a signed-to-unsigned saturating narrow (negatives to 0), then an unsigned one (over 255 to 255).
static inline void store_neon(uint8_t *d, acc_neon a) {
  uint16x8_t lo = vcombine_u16(vqmovun_s32(vshrq_n_s32(a.q[0], PRECISION_BITS)), vqmovun_s32(vshrq_n_s32(a.q[1], PRECISION_BITS)));
  uint16x8_t hi = vcombine_u16(vqmovun_s32(vshrq_n_s32(a.q[2], PRECISION_BITS)), vqmovun_s32(vshrq_n_s32(a.q[3], PRECISION_BITS)));
  vst1q_u8(d, vcombine_u8(vqmovn_u16(lo), vqmovn_u16(hi)));
}

#include "resize_simd_passes.h"
#endif
