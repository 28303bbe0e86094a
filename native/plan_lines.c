// imgtag's planning fast path: S3 Inventory CSV lines to shard lines in one pass over the bytes.
// It does exactly what src/plan/part-writer.ts's byte path does (fields by quotes, current objects
// only, the image filter, URL-decoding to UTF-8, JSON as JSON.stringify writes it) and declines any
// line that path would hand to the string path: the caller then reads that one line in JavaScript.
// Needs no library, so it builds wherever a C compiler does.
#include <stdint.h>
#include <string.h>
#include <node_api.h>

enum { DONE = 0, OUT_FULL = 1, DECLINED = 2 };
enum { C_BUCKET, C_KEY, C_SIZE, C_ETAG, C_LATEST, C_DELETE, C_LAST, C_COUNT };
enum { S_POS, S_OUT, S_ROWS, S_IMAGES, S_SKIPPED, S_BYTES, S_COUNT };
#define MAX_FIELDS 64

static inline int plain(uint8_t b) { return b >= 0x20 && b < 0x7f && b != '"' && b != '\\'; }

static int8_t HEX[256];

/** Fields [0, last] as quoted, quote-free ranges; 0 for a line of any other shape (see fieldBounds). */
static int field_bounds(const uint8_t *buf, size_t start, size_t end, int last, int32_t *bounds) {
  if (start >= end || buf[start] != '"') return 0;
  int field = 0;
  size_t from = start + 1;
  for (size_t p = from; p < end; p++) {
    const uint8_t *q = memchr(buf + p, '"', end - p);
    if (!q) return 0;
    p = (size_t)(q - buf);
    int closes = p + 1 == end;
    if (!closes && (p + 2 >= end || buf[p + 1] != ',' || buf[p + 2] != '"')) return 0;
    bounds[2 * field] = (int32_t)from;
    bounds[2 * field + 1] = (int32_t)p;
    if (++field > last) return 1;
    if (closes) return 0;
    p += 2;
    from = p + 1;
  }
  return 0;
}

/** Field `col` is `word` (lower case) in any case; a column not in the schema (-1) is not. */
static int field_is(const uint8_t *buf, const int32_t *bounds, int col, const char *word) {
  if (col < 0) return 0;
  size_t n = strlen(word), a = (size_t)bounds[2 * col];
  if ((size_t)bounds[2 * col + 1] - a != n) return 0;
  for (size_t k = 0; k < n; k++) if ((buf[a + k] | 0x20) != (uint8_t)word[k]) return 0;
  return 1;
}

static const char *const EXTENSIONS[] = {"jpg", "jpeg", "png", "webp", "gif", "tif", "tiff", "avif", "heic"};

/** isImageKeyBytes: an extension of an image format after the last dot of the last path segment. */
static int is_image_key(const uint8_t *buf, size_t from, size_t to) {
  for (size_t dot = to; dot-- > from && dot + 5 >= to;) {
    uint8_t b = buf[dot];
    if (b == '/') return 0;
    if (b != '.') continue;
    if (dot == from || buf[dot - 1] == '/' || dot + 1 >= to) return 0;
    size_t n = to - dot - 1;
    char ext[5];
    for (size_t i = 0; i < n; i++) {
      uint8_t c = buf[dot + 1 + i];
      ext[i] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
    }
    for (size_t e = 0; e < sizeof EXTENSIONS / sizeof *EXTENSIONS; e++) {
      if (strlen(EXTENSIONS[e]) == n && memcmp(ext, EXTENSIONS[e], n) == 0) return 1;
    }
    return 0;
  }
  return 0;
}

/**
 * keyNeedsDecoding (line-bytes.ts), the one rule of both byte paths: an escape within 15 bytes of
 * the end (".tiff" escaped byte by byte) or an escaped "." or "/" in the last segment ("x%2Ejpeg",
 * "a%2F.jpg") can change what the key is: the string path judges it decoded.
 */
static int key_needs_decoding(const uint8_t *buf, size_t from, size_t to) {
  for (size_t i = to; i-- > from;) {
    if (buf[i] == '/') return 0;
    if (buf[i] != '%') continue;
    if (i + 15 >= to) return 1;
    if (i + 2 < to && buf[i + 1] == '2' && ((buf[i + 2] | 0x20) == 'e' || (buf[i + 2] | 0x20) == 'f')) return 1;
  }
  return 0;
}

/** LineBytes.copyKey: "+" a space, "%XX" a byte, valid UTF-8 only, nothing JSON escapes. */
static int copy_key(const uint8_t *src, size_t from, size_t to, uint8_t *out, size_t *pos) {
  size_t p = *pos;
  int follow = 0;
  uint8_t lo = 0x80, hi = 0xbf;
  for (size_t i = from; i < to; i++) {
    uint8_t b = src[i];
    if (b == '+') b = 0x20;
    else if (b == '%') {
      if (i + 2 >= to) return 0;
      int h = HEX[src[i + 1]], l = HEX[src[i + 2]];
      if (h < 0 || l < 0) return 0;
      b = (uint8_t)((h << 4) | l);
      i += 2;
    }
    if (follow > 0) {
      if (b < lo || b > hi) return 0;
      follow--;
      lo = 0x80;
      hi = 0xbf;
    } else if (b >= 0x80) {
      if (b >= 0xc2 && b <= 0xdf) follow = 1;
      else if (b >= 0xe0 && b <= 0xef) follow = 2;
      else if (b >= 0xf0 && b <= 0xf4) follow = 3;
      else return 0;
      if (b == 0xe0) lo = 0xa0;
      else if (b == 0xed) hi = 0x9f;
      else if (b == 0xf0) lo = 0x90;
      else if (b == 0xf4) hi = 0x8f;
    } else if (!plain(b)) return 0;
    out[p++] = b;
  }
  if (follow > 0) return 0;
  *pos = p;
  return 1;
}

static inline void put(uint8_t *out, size_t *pos, const char *s, size_t n) {
  memcpy(out + *pos, s, n);
  *pos += n;
}

#define PUT(lit) put(out, &o, lit, sizeof lit - 1)

/**
 * One line [a, end) into out at *pos: 1 written or skipped (counted in state), 0 declined (nothing
 * written). The caller made sure out has room for the line's length plus 64 bytes.
 */
static int plan_line(const uint8_t *buf, size_t a, size_t end, const int32_t *cols, int32_t *bounds, uint8_t *out, size_t *pos, double *state) {
  if (!field_bounds(buf, a, end, cols[C_LAST], bounds)) return 0;
  // Versions that are not the latest, and delete markers, are not current objects: not rows at all.
  if (field_is(buf, bounds, cols[C_LATEST], "false") || field_is(buf, bounds, cols[C_DELETE], "true")) return 1;
  size_t ka = (size_t)bounds[2 * cols[C_KEY]], kb = (size_t)bounds[2 * cols[C_KEY] + 1];
  if (key_needs_decoding(buf, ka, kb)) return 0;
  if (!is_image_key(buf, ka, kb)) {
    state[S_ROWS]++;
    state[S_SKIPPED]++;
    return 1;
  }
  size_t ba = (size_t)bounds[2 * cols[C_BUCKET]], bb = (size_t)bounds[2 * cols[C_BUCKET] + 1];
  size_t sa = 0, sb = 0, ea = 0, eb = 0;
  if (cols[C_SIZE] >= 0) sa = (size_t)bounds[2 * cols[C_SIZE]], sb = (size_t)bounds[2 * cols[C_SIZE] + 1];
  if (cols[C_ETAG] >= 0) ea = (size_t)bounds[2 * cols[C_ETAG]], eb = (size_t)bounds[2 * cols[C_ETAG] + 1];
  size_t o = *pos;
  PUT("{\"uri\":\"s3://");
  for (size_t i = ba; i < bb; i++) {
    if (!plain(buf[i])) return 0;
    out[o++] = buf[i];
  }
  out[o++] = '/';
  if (!copy_key(buf, ka, kb, out, &o)) return 0;
  out[o++] = '"';
  double size = 0;
  if (sb > sa) {
    if (sb - sa > 16) return 0;
    PUT(",\"size\":");
    for (size_t i = sa; i < sb; i++) {
      if (buf[i] < '0' || buf[i] > '9') return 0;
      size = size * 10 + (buf[i] - '0');
      out[o++] = buf[i];
    }
  }
  if (eb > ea) {
    PUT(",\"etag\":\"");
    for (size_t i = ea; i < eb; i++) {
      if (!plain(buf[i])) return 0;
      out[o++] = buf[i];
    }
    out[o++] = '"';
  }
  PUT("}\n");
  *pos = o;
  state[S_ROWS]++;
  state[S_IMAGES]++;
  state[S_BYTES] += size;
  return 1;
}

#define FAIL(msg) do { napi_throw_type_error(env, NULL, msg); return NULL; } while (0)

/**
 * planLines(chunk: Buffer, out: Buffer, cols: Int32Array [bucket, key, size, etag, latest,
 * deleteMarker, last], state: Float64Array [pos, outPos, rows, images, skipped, bytes]): 0 when the chunk
 * is read to its end, 1 when `out` is full (flush it, reset outPos, call again), 2 when the line at
 * `pos` is one for the JavaScript path. Reads from state.pos, writes from state.outPos; adds to the counts.
 */
static napi_value plan_lines(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) FAIL("planLines(chunk, out, cols, state)");
  void *chunk, *outp, *colsp, *statep;
  size_t len, out_len, ncols, nstate;
  napi_typedarray_type t1, t2;
  if (napi_get_buffer_info(env, argv[0], &chunk, &len) != napi_ok) FAIL("chunk must be a Buffer");
  if (napi_get_buffer_info(env, argv[1], &outp, &out_len) != napi_ok) FAIL("out must be a Buffer");
  if (napi_get_typedarray_info(env, argv[2], &t1, &ncols, &colsp, NULL, NULL) != napi_ok || t1 != napi_int32_array || ncols != C_COUNT) FAIL("cols must be an Int32Array of 7");
  if (napi_get_typedarray_info(env, argv[3], &t2, &nstate, &statep, NULL, NULL) != napi_ok || t2 != napi_float64_array || nstate != S_COUNT) FAIL("state must be a Float64Array of 6");
  const uint8_t *buf = chunk;
  uint8_t *out = outp;
  const int32_t *cols = colsp;
  double *state = statep;
  if (cols[C_LAST] < 0 || cols[C_LAST] >= MAX_FIELDS || cols[C_BUCKET] < 0 || cols[C_KEY] < 0) FAIL("cols out of range");
  int32_t bounds[2 * MAX_FIELDS];
  size_t pos = (size_t)state[S_POS], o = (size_t)state[S_OUT];
  int code = DONE;
  while (pos < len) {
    const uint8_t *nlp = memchr(buf + pos, '\n', len - pos);
    size_t nl = nlp ? (size_t)(nlp - buf) : len;
    size_t end = nl > pos && buf[nl - 1] == '\r' ? nl - 1 : nl;
    if (end > pos) {
      // Decoding only shortens a key; the rest of a shard line is at most 40 bytes of its own.
      if (o + (end - pos) + 64 > out_len) {
        code = OUT_FULL;
        break;
      }
      if (!plan_line(buf, pos, end, cols, bounds, out, &o, state)) {
        code = DECLINED;
        break;
      }
    }
    pos = nl + 1;
  }
  state[S_POS] = (double)(pos < len ? pos : len);
  state[S_OUT] = (double)o;
  napi_value result;
  napi_create_int32(env, code, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  memset(HEX, -1, sizeof HEX);
  for (int d = 0; d < 10; d++) HEX['0' + d] = (int8_t)d;
  for (int d = 0; d < 6; d++) HEX['A' + d] = HEX['a' + d] = (int8_t)(10 + d);
  napi_value fn;
  napi_create_function(env, "planLines", NAPI_AUTO_LENGTH, plan_lines, NULL, &fn);
  napi_set_named_property(env, exports, "planLines", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
