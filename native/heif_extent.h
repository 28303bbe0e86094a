// What libheif would decode for one image item, read from the file's boxes before any decoding
// (native/heif_extent.c): the pixel limit is held against that, not against what the file declares.
#ifndef IMGTAG_HEIF_EXTENT_H
#define IMGTAG_HEIF_EXTENT_H
#include <stddef.h>
#include <stdint.h>

enum { HEIF_EXTENT_OK = 0, HEIF_EXTENT_OVER = 1, HEIF_EXTENT_UNREADABLE = -1 };

/**
 * Whether decoding item `item` (0: the primary, as pitm names it) of this HEIF file (with the alpha image libheif decodes beside it)
 * stays within `max_pixels`: every coded image at the size its SPS gives, every grid or overlay
 * canvas, and all of them together within 4 x max_pixels. HEIF_EXTENT_OVER or
 * HEIF_EXTENT_UNREADABLE with `why` saying what, in a few words.
 */
int heif_extent_check(const uint8_t *file, size_t size, uint32_t item, double max_pixels, char *why, size_t why_len);

#endif
