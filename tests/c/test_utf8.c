/* Tests of the UTF-8 decoder (every well-formed length, every kind of
 * ill-formed sequence with its maximal subpart) and encoder. */
#include "lt_test.h"
#include "utf8.h"

#include <string.h>

/* Decodes s and checks the length taken, the code point and validity. */
#define CHECK_DECODE(s, n, cp, ok)                                                                      \
    do {                                                                                                \
        uint32_t got_cp = 0;                                                                            \
        int got_ok = -1;                                                                                \
        LT_EQ_UINT(lt_utf8_decode((s), sizeof(s) - 1, &got_cp, &got_ok), (n));                          \
        LT_EQ_UINT(got_cp, (cp));                                                                       \
        LT_EQ_INT(got_ok, (ok));                                                                        \
    } while (0)

static void test_well_formed(void)
{
    CHECK_DECODE("A", 1, 'A', 1);
    CHECK_DECODE("\x7f", 1, 0x7f, 1);
    CHECK_DECODE("\xc2\x80", 2, 0x80, 1);
    CHECK_DECODE("\xc3\xa9x", 2, 0xe9, 1);
    CHECK_DECODE("\xdf\xbf", 2, 0x7ff, 1);
    CHECK_DECODE("\xe0\xa0\x80", 3, 0x800, 1);
    CHECK_DECODE("\xe2\x80\xa8", 3, 0x2028, 1);
    CHECK_DECODE("\xed\x9f\xbf", 3, 0xd7ff, 1);
    CHECK_DECODE("\xee\x80\x80", 3, 0xe000, 1);
    CHECK_DECODE("\xef\xbf\xbd", 3, 0xfffd, 1);
    CHECK_DECODE("\xef\xbf\xbf", 3, 0xffff, 1);
    CHECK_DECODE("\xf0\x90\x80\x80", 4, 0x10000, 1);
    CHECK_DECODE("\xf0\x9f\x90\x8d", 4, 0x1f40d, 1);
    CHECK_DECODE("\xf4\x8f\xbf\xbf", 4, 0x10ffff, 1);
    /* NULL for `valid` is allowed. */
    uint32_t cp;
    LT_EQ_UINT(lt_utf8_decode("\xc3\xa9", 2, &cp, NULL), 2);
    LT_EQ_UINT(cp, 0xe9);
}

static void test_ill_formed(void)
{
    const uint32_t R = LT_UTF8_REPLACEMENT;
    CHECK_DECODE("\x80", 1, R, 0);              /* stray continuation */
    CHECK_DECODE("\xbf\x80", 1, R, 0);
    CHECK_DECODE("\xc0\x80", 1, R, 0);          /* overlong lead bytes */
    CHECK_DECODE("\xc1\xbf", 1, R, 0);
    CHECK_DECODE("\xf5\x80\x80\x80", 1, R, 0);  /* beyond U+10FFFF */
    CHECK_DECODE("\xff", 1, R, 0);
    CHECK_DECODE("\xe0\x80\x80", 1, R, 0);      /* overlong 3-byte: E0 wants A0..BF */
    CHECK_DECODE("\xed\xa0\x80", 1, R, 0);      /* surrogate: ED wants 80..9F */
    CHECK_DECODE("\xf0\x80\x80\x80", 1, R, 0);  /* overlong 4-byte */
    CHECK_DECODE("\xf4\x90\x80\x80", 1, R, 0);  /* above U+10FFFF */
    CHECK_DECODE("\xc3", 1, R, 0);              /* cut short by the end */
    CHECK_DECODE("\xe6\x97", 2, R, 0);          /* maximal subpart of two */
    CHECK_DECODE("\xf0\x9f\x90", 3, R, 0);      /* ... of three */
    CHECK_DECODE("\xe6\x97x", 2, R, 0);         /* cut short by an ASCII byte */
    CHECK_DECODE("\xf0\x9f\x41", 2, R, 0);
    CHECK_DECODE("\xc3\xc3\xa9", 1, R, 0);      /* a lead byte where a continuation goes */
    /* A length shorter than the string: never reads past it. */
    uint32_t cp;
    int ok;
    LT_EQ_UINT(lt_utf8_decode("\xf0\x9f\x90\x8d", 2, &cp, &ok), 2);
    LT_EQ_INT(ok, 0);
}

/* Every code point survives encode then decode; bad ones become U+FFFD. */
static void test_encode(void)
{
    char buf[4];
    long bad = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        size_t n = lt_utf8_encode(cp, buf);
        uint32_t back;
        int ok;
        size_t m = lt_utf8_decode(buf, n, &back, &ok);
        uint32_t want = cp >= 0xD800 && cp <= 0xDFFF ? LT_UTF8_REPLACEMENT : cp;
        if (m != n || back != want || !ok)
            bad++;
    }
    LT_EQ_INT(bad, 0);
    LT_EQ_UINT(lt_utf8_encode(0x110000, buf), 3);
    LT_EQ_MEM(buf, 3, "\xef\xbf\xbd", 3);
    LT_EQ_UINT(lt_utf8_encode(0xe9, buf), 2);
    LT_EQ_MEM(buf, 2, "\xc3\xa9", 2);
}

static void test_bidi(void)
{
    LT_CHECK(lt_utf8_is_bidi_control(0x202E));
    LT_CHECK(lt_utf8_is_bidi_control(0x2066));
    LT_CHECK(lt_utf8_is_bidi_control(0x200F));
    LT_CHECK(!lt_utf8_is_bidi_control(0x2028));
    LT_CHECK(!lt_utf8_is_bidi_control('a'));
}

int main(void)
{
    LT_RUN(test_well_formed);
    LT_RUN(test_ill_formed);
    LT_RUN(test_encode);
    LT_RUN(test_bidi);
    return lt_test_done();
}
