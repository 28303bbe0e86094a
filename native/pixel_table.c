// The pre-quantized input's one pass over a batch: every HWC RGB pixel's bytes replaced, in place,
// by their channel's entry of a 768-byte table (channel * 256 + value), the bytes the model's
// QuantizeLinear would have made from the normalised floats (in JavaScript the loop costs as much
// as the normalisation it replaces).
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  napi_value buf;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, len, (void **)data, &buf, &offset) != napi_ok) return 0;
  return type == napi_uint8_array;
}

static void table_scalar(uint8_t *px, size_t n, const uint8_t *table) {
  const uint8_t *r = table, *g = table + 256, *b = table + 512;
  for (size_t i = 0; i < n; i += 3) {
    px[i] = r[px[i]];
    px[i + 1] = g[px[i + 1]];
    px[i + 2] = b[px[i + 2]];
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define VBMI __attribute__((target("avx512f,avx512bw,avx512vbmi")))

// 64 bytes through one 256-entry table: two 128-entry permutes, the index's top bit picks one.
VBMI static inline __m512i lookup64(__m512i x, const __m512i t[4]) {
  __m512i lo = _mm512_permutex2var_epi8(t[0], x, t[1]);
  __m512i hi = _mm512_permutex2var_epi8(t[2], x, t[3]);
  return _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), lo, hi);
}

// Scalar lookups cost about a cycle a byte (as much as the normalisation they replace); with
// AVX-512 VBMI each 64 bytes go through all three tables and a byte keeps its own channel's
// answer (the channel pattern repeats every 192 bytes, three vectors).
VBMI static void table_vbmi(uint8_t *px, size_t n, const uint8_t *table) {
  __m512i t[3][4];
  for (int c = 0; c < 3; c++)
    for (int q = 0; q < 4; q++) t[c][q] = _mm512_loadu_si512(table + c * 256 + q * 64);
  __mmask64 green[3] = {0, 0, 0}, blue[3] = {0, 0, 0};
  for (int v = 0; v < 3; v++)
    for (int j = 0; j < 64; j++) {
      int c = (v * 64 + j) % 3;
      if (c == 1) green[v] |= 1ULL << j;
      if (c == 2) blue[v] |= 1ULL << j;
    }
  size_t i = 0;
  for (; i + 192 <= n; i += 192)
    for (int v = 0; v < 3; v++) {
      __m512i x = _mm512_loadu_si512(px + i + v * 64);
      __m512i out = _mm512_mask_blend_epi8(green[v], lookup64(x, t[0]), lookup64(x, t[1]));
      _mm512_storeu_si512(px + i + v * 64, _mm512_mask_blend_epi8(blue[v], out, lookup64(x, t[2])));
    }
  table_scalar(px + i, n - i, table);
}
#endif

// applyTable(pixels: Uint8Array, table: Uint8Array(768)): pixels.length a multiple of 3.
static napi_value apply_table(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *px, *table;
  size_t n, tn;
  if (argc < 2 || !bytes_of(env, argv[0], &px, &n) || !bytes_of(env, argv[1], &table, &tn)) return fail(env, "applyTable(pixels, table): two Uint8Arrays");
  if (tn != 768 || n % 3 != 0) return fail(env, "applyTable: a 768-byte table and whole RGB pixels");
#if defined(__x86_64__) && defined(__GNUC__)
  // Chosen at run time: one build runs on any x86-64.
  if (__builtin_cpu_supports("avx512vbmi")) {
    table_vbmi(px, n, table);
    return NULL;
  }
#endif
  table_scalar(px, n, table);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {{"applyTable", NULL, apply_table, NULL, NULL, NULL, napi_enumerable, NULL}};
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
