/* test_util.c - the small parsers the loaders rely on: gr_parse_double must
 * give exactly strtod's double (its fast path included) and refuse what
 * strtod refuses; gr_split_tabs and gr_locus_key. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static unsigned next(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* A decimal in the shapes scoring files use, and some they do not. */
static void random_decimal(char *s)
{
    char *p = s;
    if (next(3) == 0)
        *p++ = next(2) ? '-' : '+';
    int before = (int)next(8), after = (int)next(22);
    if (!before && !after)
        before = 1;
    for (int i = 0; i < before; i++)
        *p++ = (char)('0' + (i == 0 && next(4) ? 0 : next(10)));
    if (after || next(2)) {
        *p++ = '.';
        for (int i = 0; i < after; i++)
            *p++ = (char)('0' + next(10));
    }
    if (next(3) == 0)
        p += sprintf(p, "%c%s%u", next(2) ? 'e' : 'E', next(2) ? "-" : "", next(40));
    *p = '\0';
}

Test(util, parse_double_is_strtod_bit_for_bit)
{
    char s[80];
    for (int i = 0; i < 300000; i++) {
        random_decimal(s);
        double want = strtod(s, NULL), got = 12345;
        cr_assert(gr_parse_double(s, &got), "'%s' refused", s);
        cr_assert(!memcmp(&got, &want, sizeof got), "'%s': %.17g, strtod %.17g", s, got, want);
    }
    /* the edges of the fast path: 15 and 16 significant digits, 10^22 and
     * 10^23, leading zeros that do not count, negative zero */
    const char *edges[] = { "999999999999999",
                            "9999999999999999",
                            "1e22",
                            "1e23",
                            "123456789012345e-22",
                            "123456789012345e-23",
                            "0.000000000000000000001",
                            "000000000000000000000012.5",
                            "-0",
                            "-0.0e0",
                            "7.",
                            ".5",
                            "+.5",
                            "0.1",
                            "0.3",
                            "2.2250738585072014e-308",
                            "1e308",
                            "0.00650182",
                            "-1.25E+3" };
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) {
        double want = strtod(edges[i], NULL), got = 12345;
        cr_assert(gr_parse_double(edges[i], &got), "'%s' refused", edges[i]);
        cr_assert(!memcmp(&got, &want, sizeof got), "'%s': %.17g, strtod %.17g", edges[i], got,
                  want);
    }
}

Test(util, parse_double_refuses_what_is_not_a_finite_number)
{
    const char *bad[] = { "",      ".",   "-",    "+",  "e5",  "1e",        "1e+",
                          "1.2.3", "1,5", "1 ",   "0x", "inf", "-Infinity", "nan",
                          "1e400", "--1", "1e5x", "NA", "." };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double v = 7;
        cr_assert(!gr_parse_double(bad[i], &v), "'%s' accepted as %g", bad[i], v);
        cr_assert_eq(v, 7, "'%s' wrote the output", bad[i]);
    }
    cr_assert(!gr_parse_double(NULL, &(double){ 0 }));
}

Test(util, split_tabs_and_locus_key)
{
    char line[] = "1\t100\t\tA\tG";
    char *f[8];
    cr_assert_eq(gr_split_tabs(line, f, 8), 5);
    cr_assert_str_eq(f[0], "1");
    cr_assert_str_eq(f[2], "");
    cr_assert_str_eq(f[4], "G");
    char capped[] = "a\tb\tc";
    cr_assert_eq(gr_split_tabs(capped, f, 2), 2);
    char key[64];
    cr_assert_eq(gr_locus_key(key, "X", 155000000, "AC", "A"), strlen("X:155000000:AC:A"));
    cr_assert_str_eq(key, "X:155000000:AC:A");
    int64_t v;
    cr_assert(gr_parse_int64("-42", &v) && v == -42);
    cr_assert(!gr_parse_int64("42x", &v) && !gr_parse_int64("99999999999999999999", &v));
}

Test(util, grow_doubles_keeps_the_items_and_refuses_an_overflow)
{
    int *a = NULL;
    size_t cap = 0;
    cr_assert(gr_grow((void **)&a, &cap, 1, sizeof *a));
    cr_assert_eq(cap, 64);
    for (int i = 0; i < 64; i++)
        a[i] = i;
    cr_assert(gr_grow((void **)&a, &cap, 64, sizeof *a), "room enough: nothing to do");
    cr_assert_eq(cap, 64);
    cr_assert(gr_grow((void **)&a, &cap, 200, sizeof *a));
    cr_assert_eq(cap, 256);
    for (int i = 0; i < 64; i++)
        cr_assert_eq(a[i], i);
    int *before = a;
    cr_assert_not(gr_grow((void **)&a, &cap, SIZE_MAX / 2, sizeof *a));
    cr_assert(a == before && cap == 256, "a refused growth leaves the array as it was");
    free(a);
}
