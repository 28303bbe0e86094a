// What libheif would decode for an image item, from the HEIF boxes alone (meta: pitm, iinf, iloc,
// idat, iref, iprp) and each HEVC image's SPS: what the file declares (ispe) is not what is decoded.
// A grid's canvas comes from the grid's own data (a 66 KB file can ask for 30000x20000), a coded
// image's size from its SPS (an ispe of 100x100 over a 1200x900 bitstream), and libheif decodes
// every tile of a grid and the alpha image beside the one asked for. Bounded work: at most
// MAX_VISITS items, MAX_DEPTH levels of derived images.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "heif_extent.h"

#define FOURCC(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define MAX_DEPTH 4
#define MAX_VISITS 70000
// Tiles and canvases together: a grid's tiles cover its canvas once (a little more at the edges),
// and an alpha image doubles both.
#define TOTAL_FACTOR 4

typedef struct {
  const uint8_t *p;
  size_t n, at;
  int bad;
} rd_t;

static uint64_t get(rd_t *r, int bytes) {
  if (r->bad || bytes > 8 || r->n - r->at < (size_t)bytes) {
    r->bad = 1;
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v = v << 8 | r->p[r->at++];
  return v;
}

/** The next child box of `r`: its type and a reader over its body; 0 at the end or on a bad size. */
static int next_box(rd_t *r, uint32_t *type, rd_t *body) {
  if (r->bad || r->n - r->at < 8) return 0;
  size_t start = r->at;
  uint64_t size = get(r, 4);
  *type = (uint32_t)get(r, 4);
  if (size == 1) size = get(r, 8);
  else if (size == 0) size = r->n - start;
  size_t head = r->at - start;
  if (r->bad || size < head || size > r->n - start) {
    r->bad = 1;
    return 0;
  }
  *body = (rd_t){r->p + r->at, (size_t)size - head, 0, 0};
  r->at = start + (size_t)size;
  return 1;
}

typedef struct {
  uint32_t id, type;
} infe_t;
typedef struct {
  uint32_t id;
  int method;
  uint64_t base;
  size_t first, n;  // extents
} loc_t;
typedef struct {
  uint64_t off, len;
} ext_t;
typedef struct {
  uint32_t from, type, seq;  // seq: its place in iref
  size_t first, n;           // to-ids
} ref_t;
typedef struct {
  uint32_t id;
  size_t first, n;  // property indices
} assoc_t;

typedef struct {
  rd_t file, idat;
  uint32_t primary;  // pitm
  infe_t *infe;
  size_t n_infe;
  loc_t *loc;
  size_t n_loc;
  ext_t *ext;
  size_t n_ext;
  ref_t *ref;
  size_t n_ref;
  uint32_t *to;
  size_t n_to;
  rd_t *prop;  // ipco's children, 1-based in ipma
  uint32_t *prop_type;
  size_t n_prop;
  assoc_t *assoc;
  size_t n_assoc;
  uint16_t *assoc_idx;
  size_t n_assoc_idx;
} heif_t;

/** Grows an array by one element; NULL on out of memory. */
static void *push(void **arr, size_t *n, size_t size) {
  if ((*n & (*n - 1)) == 0) {
    void *grown = realloc(*arr, (*n ? *n * 2 : 1) * size);
    if (!grown) return NULL;
    *arr = grown;
  }
  return (char *)*arr + (*n)++ * size;
}
#define PUSH(arr, n) ((__typeof__(arr))push((void **)&(arr), &(n), sizeof *(arr)))

static int parse_iinf(heif_t *h, rd_t r) {
  int version = (int)get(&r, 1);
  get(&r, 3);
  get(&r, version == 0 ? 2 : 4);
  uint32_t type;
  rd_t b;
  while (next_box(&r, &type, &b)) {
    if (type != FOURCC('i', 'n', 'f', 'e')) continue;
    int v = (int)get(&b, 1);
    get(&b, 3);
    if (v < 2) continue;  // no item type before version 2: not an image libheif decodes
    infe_t *e = PUSH(h->infe, h->n_infe);
    if (!e) return 0;
    e->id = (uint32_t)get(&b, v == 2 ? 2 : 4);
    get(&b, 2);
    e->type = (uint32_t)get(&b, 4);
    if (b.bad) return 0;
  }
  return !r.bad;
}

static int parse_iloc(heif_t *h, rd_t r) {
  int version = (int)get(&r, 1);
  get(&r, 3);
  int sizes = (int)get(&r, 2);
  int off_size = sizes >> 12, len_size = sizes >> 8 & 15, base_size = sizes >> 4 & 15, idx_size = version >= 1 ? sizes & 15 : 0;
  uint64_t count = get(&r, version < 2 ? 2 : 4);
  for (uint64_t i = 0; i < count && !r.bad; i++) {
    loc_t *l = PUSH(h->loc, h->n_loc);
    if (!l) return 0;
    l->id = (uint32_t)get(&r, version < 2 ? 2 : 4);
    l->method = version >= 1 ? (int)(get(&r, 2) & 15) : 0;
    get(&r, 2);
    l->base = get(&r, base_size);
    l->n = (size_t)get(&r, 2);
    l->first = h->n_ext;
    for (size_t e = 0; e < l->n && !r.bad; e++) {
      get(&r, idx_size);
      ext_t *x = PUSH(h->ext, h->n_ext);
      if (!x) return 0;
      x->off = get(&r, off_size);
      x->len = get(&r, len_size);
    }
  }
  return !r.bad;
}

static int parse_iref(heif_t *h, rd_t r) {
  int version = (int)get(&r, 1);
  get(&r, 3);
  int id_size = version == 0 ? 2 : 4;
  uint32_t type;
  rd_t b;
  while (next_box(&r, &type, &b)) {
    ref_t *f = PUSH(h->ref, h->n_ref);
    if (!f) return 0;
    f->type = type;
    f->seq = (uint32_t)(h->n_ref - 1);
    f->from = (uint32_t)get(&b, id_size);
    f->n = (size_t)get(&b, 2);
    f->first = h->n_to;
    for (size_t i = 0; i < f->n && !b.bad; i++) {
      uint32_t *to = PUSH(h->to, h->n_to);
      if (!to) return 0;
      *to = (uint32_t)get(&b, id_size);
    }
    if (b.bad) return 0;
  }
  return !r.bad;
}

static int parse_iprp(heif_t *h, rd_t r) {
  uint32_t type;
  rd_t b;
  while (next_box(&r, &type, &b)) {
    if (type == FOURCC('i', 'p', 'c', 'o')) {
      uint32_t t;
      rd_t p;
      while (next_box(&b, &t, &p)) {
        rd_t *slot = PUSH(h->prop, h->n_prop);
        if (!slot) return 0;
        *slot = p;
        size_t n = h->n_prop - 1;
        uint32_t *ts = PUSH(h->prop_type, n);
        if (!ts) return 0;
        *ts = t;
      }
      if (b.bad) return 0;
    } else if (type == FOURCC('i', 'p', 'm', 'a')) {
      int version = (int)get(&b, 1);
      int flags = (int)get(&b, 3);
      uint64_t count = get(&b, 4);
      for (uint64_t i = 0; i < count && !b.bad; i++) {
        assoc_t *a = PUSH(h->assoc, h->n_assoc);
        if (!a) return 0;
        a->id = (uint32_t)get(&b, version < 1 ? 2 : 4);
        a->n = (size_t)get(&b, 1);
        a->first = h->n_assoc_idx;
        for (size_t k = 0; k < a->n && !b.bad; k++) {
          uint16_t *x = PUSH(h->assoc_idx, h->n_assoc_idx);
          if (!x) return 0;
          *x = (uint16_t)((flags & 1) ? get(&b, 2) & 0x7fff : get(&b, 1) & 0x7f);
        }
      }
      if (b.bad) return 0;
    }
  }
  return !r.bad;
}

static int parse(heif_t *h, const uint8_t *file, size_t size) {
  h->file = (rd_t){file, size, 0, 0};
  rd_t top = h->file, meta = {0};
  uint32_t type;
  rd_t b;
  int found = 0;
  while (next_box(&top, &type, &b))
    if (type == FOURCC('m', 'e', 't', 'a')) {
      meta = b;
      found = 1;
      break;
    }
  if (!found) return 0;
  get(&meta, 4);
  while (next_box(&meta, &type, &b)) {
    int ok = 1;
    if (type == FOURCC('i', 'i', 'n', 'f')) ok = parse_iinf(h, b);
    else if (type == FOURCC('i', 'l', 'o', 'c')) ok = parse_iloc(h, b);
    else if (type == FOURCC('i', 'r', 'e', 'f')) ok = parse_iref(h, b);
    else if (type == FOURCC('i', 'p', 'r', 'p')) ok = parse_iprp(h, b);
    else if (type == FOURCC('i', 'd', 'a', 't')) h->idat = b;
    else if (type == FOURCC('p', 'i', 't', 'm')) {
      int version = (int)get(&b, 1);
      get(&b, 3);
      h->primary = (uint32_t)get(&b, version == 0 ? 2 : 4);
    }
    if (!ok) return 0;
  }
  return !meta.bad;
}

static void release(heif_t *h) {
  free(h->infe);
  free(h->loc);
  free(h->ext);
  free(h->ref);
  free(h->to);
  free(h->prop);
  free(h->prop_type);
  free(h->assoc);
  free(h->assoc_idx);
}

// Items, locations, property associations and references sorted by item id (each struct's first
// field; references by the item they are from, in file order among one item's) and found by binary
// search: a grid can name 65536 tiles among thousands of items, and a linear search per tile would
// make a small file a long wait. An id listed twice (no valid file does) may give either entry.
#define BY_ID(name, type)                                          \
  static int name(const void *a, const void *b) {                  \
    const type *x = a, *y = b;                                     \
    if (x->id != y->id) return x->id < y->id ? -1 : 1;             \
    return 0;                                                      \
  }
BY_ID(infe_cmp, infe_t)
BY_ID(loc_cmp, loc_t)
BY_ID(assoc_cmp, assoc_t)

static int ref_cmp(const void *a, const void *b) {
  const ref_t *x = a, *y = b;
  if (x->from != y->from) return x->from < y->from ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/** The first element of a sorted array whose id (its first uint32_t) is `id`; NULL if none. */
static const void *first_of(const void *arr, size_t n, size_t size, uint32_t id) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (*(const uint32_t *)((const char *)arr + mid * size) < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && *(const uint32_t *)((const char *)arr + lo * size) == id ? (const char *)arr + lo * size : NULL;
}

static void sort_by_id(heif_t *h) {
  if (h->ref) qsort(h->ref, h->n_ref, sizeof *h->ref, ref_cmp);
  if (h->infe) qsort(h->infe, h->n_infe, sizeof *h->infe, infe_cmp);
  if (h->loc) qsort(h->loc, h->n_loc, sizeof *h->loc, loc_cmp);
  if (h->assoc) qsort(h->assoc, h->n_assoc, sizeof *h->assoc, assoc_cmp);
}

static uint32_t item_type(const heif_t *h, uint32_t id) {
  const infe_t *e = first_of(h->infe, h->n_infe, sizeof *h->infe, id);
  return e ? e->type : 0;
}

/** The item's property of this type (its first), as a reader over the box body; NULL if none. */
static const rd_t *property(const heif_t *h, uint32_t id, uint32_t type) {
  const assoc_t *first = first_of(h->assoc, h->n_assoc, sizeof *h->assoc, id);
  for (size_t i = first ? (size_t)(first - h->assoc) : h->n_assoc; i < h->n_assoc && h->assoc[i].id == id; i++) {
    for (size_t k = 0; k < h->assoc[i].n; k++) {
      size_t idx = h->assoc_idx[h->assoc[i].first + k];
      if (idx >= 1 && idx <= h->n_prop && h->prop_type[idx - 1] == type) return &h->prop[idx - 1];
    }
  }
  return NULL;
}

/** The first reference of this type from `from` (as libheif takes it); its ids and count. */
static const uint32_t *refs_from(const heif_t *h, uint32_t from, uint32_t type, size_t *n) {
  const ref_t *first = first_of(h->ref, h->n_ref, sizeof *h->ref, from);
  for (size_t i = first ? (size_t)(first - h->ref) : h->n_ref; i < h->n_ref && h->ref[i].from == from; i++)
    if (h->ref[i].type == type) {
      *n = h->ref[i].n;
      return h->to + h->ref[i].first;
    }
  *n = 0;
  return NULL;
}

/** The item's data, its extents joined: *owned is set when it had to be copied (free it). NULL when not in the file. */
static const uint8_t *item_data(const heif_t *h, uint32_t id, size_t *n, uint8_t **owned) {
  *owned = NULL;
  const loc_t *l = first_of(h->loc, h->n_loc, sizeof *h->loc, id);
  // More than 32 extents: libheif refuses the item, and joining them could ask for far more than the file.
  if (!l || l->method > 1 || l->n == 0 || l->n > 32) return NULL;
  const rd_t *src = l->method == 1 ? &h->idat : &h->file;
  size_t total = 0;
  for (size_t e = 0; e < l->n; e++) {
    const ext_t *x = &h->ext[l->first + e];
    uint64_t len = x->len ? x->len : src->n - (l->base + x->off);  // 0: to the end
    if (l->base > src->n || x->off > src->n - l->base || len > src->n - l->base - x->off) return NULL;
    total += (size_t)len;
  }
  const ext_t *x0 = &h->ext[l->first];
  if (l->n == 1) {
    *n = total;
    return src->p + l->base + x0->off;
  }
  uint8_t *buf = malloc(total ? total : 1);
  if (!buf) return NULL;
  size_t at = 0;
  for (size_t e = 0; e < l->n; e++) {
    const ext_t *x = &h->ext[l->first + e];
    size_t len = (size_t)(x->len ? x->len : src->n - (l->base + x->off));
    memcpy(buf + at, src->p + l->base + x->off, len);
    at += len;
  }
  *owned = buf;
  *n = total;
  return buf;
}

typedef struct {
  const uint8_t *p;
  size_t bits, at;
  int bad;
} bits_t;

static uint32_t bit_read(bits_t *b, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; i++) {
    if (b->at >= b->bits) {
      b->bad = 1;
      return 0;
    }
    v = v << 1 | (b->p[b->at >> 3] >> (7 - (b->at & 7)) & 1);
    b->at++;
  }
  return v;
}

static uint32_t bit_ue(bits_t *b) {
  int zeros = 0;
  while (!b->bad && bit_read(b, 1) == 0)
    if (++zeros > 31) {
      b->bad = 1;
      return 0;
    }
  return (uint32_t)((1ull << zeros) - 1 + bit_read(b, zeros));
}

/** The picture size of an SPS NAL unit (its 2-byte header first), conformance window applied; 0 when it cannot be read. */
static int sps_size(const uint8_t *nal, size_t n, uint32_t *w, uint32_t *h) {
  uint8_t raw[192];
  size_t m = 0;
  int zeros = 0;
  for (size_t i = 2; i < n && m < sizeof raw; i++) {
    if (zeros >= 2 && nal[i] == 3) {  // emulation prevention byte
      zeros = 0;
      continue;
    }
    zeros = nal[i] == 0 ? zeros + 1 : 0;
    raw[m++] = nal[i];
  }
  bits_t b = {raw, m * 8, 0, 0};
  bit_read(&b, 4);  // sps_video_parameter_set_id
  int sub = (int)bit_read(&b, 3);
  bit_read(&b, 1);
  b.at += 96;  // general profile, compatibility flags, constraint flags, level
  int profile[8] = {0}, level[8] = {0};
  for (int i = 0; i < sub; i++) {
    profile[i] = (int)bit_read(&b, 1);
    level[i] = (int)bit_read(&b, 1);
  }
  if (sub > 0) b.at += 2 * (8 - sub);
  for (int i = 0; i < sub; i++) b.at += (profile[i] ? 88 : 0) + (level[i] ? 8 : 0);
  bit_ue(&b);  // sps_seq_parameter_set_id
  int chroma = (int)bit_ue(&b);  // chroma_format_idc
  if (chroma == 3) bit_read(&b, 1);  // separate_colour_plane_flag
  *w = bit_ue(&b);
  *h = bit_ue(&b);
  // The conformance window: the picture as output (a coded 1200x904 is a 1200x900 photo).
  if (bit_read(&b, 1)) {
    uint32_t sx = chroma == 1 || chroma == 2 ? 2 : 1, sy = chroma == 1 ? 2 : 1;
    uint32_t left = bit_ue(&b), right = bit_ue(&b), top = bit_ue(&b), bottom = bit_ue(&b);
    uint64_t cw = (uint64_t)sx * (left + (uint64_t)right), ch = (uint64_t)sy * (top + (uint64_t)bottom);
    if (cw < *w && ch < *h) *w -= (uint32_t)cw, *h -= (uint32_t)ch;
  }
  return !b.bad;
}

/** The largest picture any SPS of this HEVC item sets up: in its hvcC or in its data. */
static double hevc_size(const heif_t *h, uint32_t id, uint32_t *w, uint32_t *hh) {
  double best = 0;
  *w = *hh = 0;
  int len_size = 4;
  const rd_t *hvcC = property(h, id, FOURCC('h', 'v', 'c', 'C'));
  if (hvcC) {
    rd_t r = *hvcC;
    r.at = 21;
    len_size = (int)(get(&r, 1) & 3) + 1;
    int arrays = (int)get(&r, 1);
    for (int a = 0; a < arrays && !r.bad; a++) {
      int type = (int)(get(&r, 1) & 0x3f);
      int count = (int)get(&r, 2);
      for (int k = 0; k < count && !r.bad; k++) {
        size_t n = (size_t)get(&r, 2);
        if (r.bad || n > r.n - r.at) break;
        uint32_t sw, sh;
        if (type == 33 && sps_size(r.p + r.at, n, &sw, &sh) && (double)sw * sh > best) best = (double)sw * sh, *w = sw, *hh = sh;
        r.at += n;
      }
    }
  }
  size_t n;
  uint8_t *owned;
  const uint8_t *data = item_data(h, id, &n, &owned);
  rd_t r = {data, data ? n : 0, 0, 0};
  while (data && r.n - r.at > (size_t)len_size) {
    size_t len = (size_t)get(&r, len_size);
    if (r.bad || len > r.n - r.at) break;
    uint32_t sw, sh;
    if (len > 2 && (r.p[r.at] >> 1 & 0x3f) == 33 && sps_size(r.p + r.at, len, &sw, &sh) && (double)sw * sh > best) best = (double)sw * sh, *w = sw, *hh = sh;
    r.at += len;
  }
  free(owned);
  return best;
}

typedef struct {
  double max, total;
  int visits;
  char *why;
  size_t why_len;
} walk_t;

static int over(walk_t *a, double pixels, const char *fmt, uint32_t w, uint32_t h, uint32_t dw, uint32_t dh) {
  a->total += pixels;
  if (pixels > a->max) {
    snprintf(a->why, a->why_len, fmt, w, h, dw, dh);
    return HEIF_EXTENT_OVER;
  }
  if (a->total > TOTAL_FACTOR * a->max) {
    snprintf(a->why, a->why_len, "more than %.0f pixels in all (tiles and canvases: %d times the limit)", TOTAL_FACTOR * a->max, TOTAL_FACTOR);
    return HEIF_EXTENT_OVER;
  }
  return HEIF_EXTENT_OK;
}

static int walk(const heif_t *h, uint32_t id, walk_t *a, int depth) {
  if (depth > MAX_DEPTH || ++a->visits > MAX_VISITS) {
    snprintf(a->why, a->why_len, depth > MAX_DEPTH ? "images derived from images more than %d deep" : "more than %d image items", depth > MAX_DEPTH ? MAX_DEPTH : MAX_VISITS);
    return HEIF_EXTENT_OVER;
  }
  uint32_t type = item_type(h, id);
  const rd_t *ispe = property(h, id, FOURCC('i', 's', 'p', 'e'));
  uint32_t dw = 0, dh = 0;
  if (ispe) {
    rd_t r = *ispe;
    get(&r, 4);
    dw = (uint32_t)get(&r, 4);
    dh = (uint32_t)get(&r, 4);
  }
  if (type == FOURCC('h', 'v', 'c', '1')) {
    uint32_t w, hh;
    double px = hevc_size(h, id, &w, &hh);
    const char *fmt = w == dw && hh == dh ? "a %ux%u HEVC image" : "a %ux%u HEVC image (the file says %ux%u)";
    return over(a, px, fmt, w, hh, dw, dh);
  }
  if (type == FOURCC('g', 'r', 'i', 'd') || type == FOURCC('i', 'o', 'v', 'l')) {
    size_t n;
    uint8_t *owned;
    const uint8_t *data = item_data(h, id, &n, &owned);
    rd_t r = {data, data ? n : 0, 0, data ? 0 : 1};
    get(&r, 1);
    int flags = (int)get(&r, 1);
    size_t tiles = 0;
    if (type == FOURCC('g', 'r', 'i', 'd')) tiles = (size_t)(get(&r, 1) + 1) * (size_t)(get(&r, 1) + 1);
    else get(&r, 8);  // canvas fill value
    uint32_t w = (uint32_t)get(&r, flags & 1 ? 4 : 2), hh = (uint32_t)get(&r, flags & 1 ? 4 : 2);
    int bad = r.bad;
    free(owned);
    if (bad) {
      snprintf(a->why, a->why_len, "a %s item without its size", type == FOURCC('g', 'r', 'i', 'd') ? "grid" : "overlay");
      return HEIF_EXTENT_UNREADABLE;
    }
    int res = over(a, (double)w * hh, type == FOURCC('g', 'r', 'i', 'd') ? "a %ux%u grid canvas" : "a %ux%u overlay canvas", w, hh, dw, dh);
    size_t n_refs;
    const uint32_t *refs = refs_from(h, id, FOURCC('d', 'i', 'm', 'g'), &n_refs);
    if (type == FOURCC('g', 'r', 'i', 'd') && n_refs > tiles) n_refs = tiles;
    for (size_t i = 0; i < n_refs && res == HEIF_EXTENT_OK; i++) res = walk(h, refs[i], a, depth + 1);
    return res;
  }
  if (type == FOURCC('i', 'd', 'e', 'n')) {
    size_t n_refs;
    const uint32_t *refs = refs_from(h, id, FOURCC('d', 'i', 'm', 'g'), &n_refs);
    return n_refs ? walk(h, refs[0], a, depth + 1) : HEIF_EXTENT_OK;
  }
  // Another codec (AV1, JPEG): its declared size, the most that can be known without its decoder.
  return over(a, (double)dw * dh, "a %ux%u coded image", dw, dh, dw, dh);
}

/** Whether an auxiliary item is an alpha plane, which libheif decodes with its master image. */
static int is_alpha(const heif_t *h, uint32_t id) {
  const rd_t *auxC = property(h, id, FOURCC('a', 'u', 'x', 'C'));
  if (!auxC || auxC->n < 5) return 0;
  const char *urn = (const char *)auxC->p + 4;
  const char *end = memchr(urn, 0, auxC->n - 4);
  size_t len = end ? (size_t)(end - urn) : auxC->n - 4;
  return (len == 26 && !memcmp(urn, "urn:mpeg:hevc:2015:auxid:1", 26)) || (len == 25 && !memcmp(urn, "urn:mpeg:avc:2015:auxid:1", 25)) ||
         (len == 44 && !memcmp(urn, "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha", 44));
}

int heif_extent_check(const uint8_t *file, size_t size, uint32_t item, double max_pixels, char *why, size_t why_len) {
  heif_t h = {0};
  walk_t a = {max_pixels, 0, 0, why, why_len};
  int res;
  if (!parse(&h, file, size)) {
    snprintf(why, why_len, "its boxes could not be read");
    res = HEIF_EXTENT_UNREADABLE;
  } else {
    if (item == 0) item = h.primary;
    sort_by_id(&h);
    res = walk(&h, item, &a, 0);
    // The alpha image: an auxl reference from it to the item.
    for (size_t i = 0; i < h.n_ref && res == HEIF_EXTENT_OK; i++)
      if (h.ref[i].type == FOURCC('a', 'u', 'x', 'l') && h.ref[i].n == 1 && h.to[h.ref[i].first] == item && is_alpha(&h, h.ref[i].from)) res = walk(&h, h.ref[i].from, &a, 1);
  }
  release(&h);
  return res;
}
