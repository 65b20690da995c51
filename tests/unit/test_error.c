/* test_error.c - status names and the formatting of error records. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/error.h"

Test(error, every_status_has_a_distinct_description)
{
    for (int a = GR_OK; a <= GR_ESYNTAX; a++) {
        cr_assert(gr_strerror((gr_status)a)[0]);
        for (int b = a + 1; b <= GR_ESYNTAX; b++)
            cr_assert_str_neq(gr_strerror((gr_status)a), gr_strerror((gr_status)b));
    }
    cr_assert_str_eq(gr_strerror((gr_status)99), "unknown status");
}

Test(error, set_returns_status_and_formats_location)
{
    gr_error e;
    cr_assert_eq(gr_error_set(&e, GR_EMODEL, "m/model.json", 12, "trees[3]", "bad %s", "node"),
                 GR_EMODEL);
    char buf[256];
    cr_assert_str_eq(gr_error_format(&e, buf, sizeof buf), "m/model.json:12: trees[3]: bad node");
    gr_error_set(&e, GR_EINPUT, NULL, 0, "samples[0]", "empty");
    cr_assert_str_eq(gr_error_format(&e, buf, sizeof buf), "samples[0]: empty");
    gr_error_clear(&e);
    cr_assert_str_eq(gr_error_format(&e, buf, sizeof buf), "success");
    cr_assert_eq(gr_error_set(NULL, GR_ENOMEM, NULL, 0, NULL, "x"), GR_ENOMEM);
}

Test(error, format_truncates_safely)
{
    gr_error e;
    gr_error_set(&e, GR_EMODEL, "a-rather-long-source-name.json", 1, "field", "text");
    char buf[8];
    gr_error_format(&e, buf, sizeof buf);
    cr_assert_eq(strlen(buf), 7);
}

/* What gr_error_set stores is UTF-8 whatever it quotes, and a cut inside a
 * character (here "%.4s" of "ab\u00e9") leaves a '?' in its place. */
Test(error, set_stores_utf8_only)
{
    gr_error err;
    gr_error_set(&err, GR_EINPUT, "f\xff.txt", 3, "key \xc3", "'%.3s' and '\xe2\x82'",
                 "ab\xc3\xa9");
    cr_assert_str_eq(err.source, "f?.txt");
    cr_assert_str_eq(err.field, "key ?");
    cr_assert_str_eq(err.text, "'ab?' and '?\?'");
    gr_error_set(&err, GR_EINPUT, NULL, 0, NULL, "caf\xc3\xa9 \xf0\x9f\x99\x82");
    cr_assert_str_eq(err.text, "caf\xc3\xa9 \xf0\x9f\x99\x82", "valid UTF-8 is kept as is");
}
