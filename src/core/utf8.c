/* UTF-8 decoding with U+FFFD replacement by maximal subparts, and encoding. */
#include "utf8.h"

size_t lt_utf8_decode(const char *s, size_t len, uint32_t *cp, int *valid)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char c = u[0];
    size_t need;
    uint32_t v;
    /* The range the second byte must fall in: it is where overlong forms,
     * surrogates and values above U+10FFFF are excluded (Unicode table 3-7). */
    unsigned char lo = 0x80, hi = 0xBF;

    if (c < 0x80) {
        *cp = c;
        if (valid)
            *valid = 1;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        v = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        v = c & 0x0Fu;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        v = c & 0x07u;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        /* 0x80..0xC1 (continuation or overlong lead) and 0xF5..0xFF. */
        *cp = LT_UTF8_REPLACEMENT;
        if (valid)
            *valid = 0;
        return 1;
    }
    for (size_t i = 1; i < need; i++) {
        /* Cut short, or a byte that cannot continue the sequence: the
         * bytes before it are the maximal subpart, replaced as one. */
        if (i >= len || (i == 1 ? (u[i] < lo || u[i] > hi) : (u[i] & 0xC0) != 0x80)) {
            *cp = LT_UTF8_REPLACEMENT;
            if (valid)
                *valid = 0;
            return i;
        }
        unsigned char b = u[i];
        v = (v << 6) | (b & 0x3Fu);
    }
    *cp = v;
    if (valid)
        *valid = 1;
    return need;
}

size_t lt_utf8_encode(uint32_t cp, char out[4])
{
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        cp = LT_UTF8_REPLACEMENT;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
