/* UTF-8 decoding for the writers that must never pass ill-formed text on
 * (JSON, terminal, HTML): one code point at a time, with the Unicode
 * "maximal subpart" rule for replacing ill-formed sequences by U+FFFD, the
 * same rule as Python's bytes.decode("utf-8", "replace"). */
#ifndef LT_UTF8_H
#define LT_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define LT_UTF8_REPLACEMENT 0xFFFDu

/* Decodes the code point that starts s[0..len), len >= 1. Returns the number
 * of bytes it takes (1 to 4) and stores the code point in *cp. For an
 * ill-formed sequence (a stray continuation byte, an overlong form, a
 * surrogate, a value above U+10FFFF, a sequence cut short) it returns the
 * length of the sequence's maximal subpart (1 to 3 bytes) and stores
 * LT_UTF8_REPLACEMENT; *valid tells the two cases apart when not NULL.
 * Never reads past s[len - 1]; never allocates. */
size_t lt_utf8_decode(const char *s, size_t len, uint32_t *cp, int *valid);

/* Writes the UTF-8 form of cp into out (room for 4 bytes) and returns its
 * length. A surrogate or a value above U+10FFFF is written as U+FFFD. */
size_t lt_utf8_encode(uint32_t cp, char out[4]);

/* 1 for the invisible characters that reorder text (the bidirectional
 * embeddings, overrides and isolates, and the directional marks): shown raw,
 * they can make a name read as something else (CVE-2021-42574). */
static inline int lt_utf8_is_bidi_control(uint32_t cp)
{
    return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E)
           || (cp >= 0x2066 && cp <= 0x2069);
}

#endif
