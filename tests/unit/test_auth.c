/* test_auth.c - --auth-tokens files: what loads, which lines are skipped
 * (reported by number, never by text), that a file takes effect as written
 * (no token left refuses every token), and that only the file's tokens pass. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/auth.h"

static char *write_tokens(const char *content)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/gr_tokens_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

Test(auth, tokens_pass_and_nothing_else_does)
{
    char *p = write_tokens("# comment\n\n  alpha-token-0123456789 \t\nbeta-token-abcdefghij\r\n");
    char why[300] = "";
    gr_auth *a = gr_auth_load(p, NULL, NULL, why, sizeof why);
    unlink(p);
    cr_assert(a, "%s", why);
    cr_assert_eq(gr_auth_count(a), 2);
    cr_assert(gr_auth_check(a, "alpha-token-0123456789", 22));
    cr_assert(gr_auth_check(a, "beta-token-abcdefghij", 21));
    /* a prefix, an extension, a near miss, the empty token, a comment */
    cr_assert(!gr_auth_check(a, "alpha-token-012345678", 21));
    cr_assert(!gr_auth_check(a, "alpha-token-0123456789x", 23));
    cr_assert(!gr_auth_check(a, "alpha-token-0123456788", 22));
    cr_assert(!gr_auth_check(a, "", 0));
    cr_assert(!gr_auth_check(a, "# comment", 9));
    /* length is what counts, not a NUL */
    cr_assert(gr_auth_check(a, "alpha-token-0123456789 trailing", 22));
    cr_assert(!gr_auth_check(NULL, "alpha-token-0123456789", 22));
    gr_auth_free(a);
    gr_auth_free(NULL);
}

Test(auth, byte_order_mark_is_skipped)
{
    char *p = write_tokens("\xEF\xBB\xBF"
                           "alpha-token-0123456789\n");
    char why[300] = "";
    gr_auth *a = gr_auth_load(p, NULL, NULL, why, sizeof why);
    unlink(p);
    cr_assert(a, "%s", why);
    cr_assert(gr_auth_check(a, "alpha-token-0123456789", 22));
    gr_auth_free(a);
}

/* What report was told: the line numbers and the last reason. */
typedef struct {
    size_t lines[16], n;
    char why[200];
} reports;

static void remember(void *arg, size_t line, const char *why)
{
    reports *r = arg;
    if (r->n < 16)
        r->lines[r->n++] = line;
    snprintf(r->why, sizeof r->why, "%s", why);
}

Test(auth, bad_lines_are_skipped_and_reported_by_number)
{
#define NUL_LINE "nul\0inside-the-token-xx\n"
    struct {
        const char *content;
        size_t tokens, bad[3], n_bad;
        const char *needle;
        size_t len; /* 0: strlen */
    } cases[] = {
        { "good-token-000000001\nshort\n", 1, { 2 }, 1, "a token must be 16 to 4096", 0 },
        { "good-token-000000001\ntwo words-but-long-enough\ngood-token-000000002\n",
          2,
          { 2 },
          1,
          "printable",
          0 },
        { "tab\tinside-the-token-x\ngood-token-000000001\n", 1, { 1 }, 1, "without spaces", 0 },
        { "caf\xc3\xa9-not-ascii-token\n\nshort\n# short comment\n", 0, { 1, 3 }, 2, "token", 0 },
        { NUL_LINE, 0, { 1 }, 1, "token", sizeof NUL_LINE - 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *p = write_tokens("");
        FILE *f = fopen(p, "wb");
        const char *c = cases[i].content;
        fwrite(c, 1, cases[i].len ? cases[i].len : strlen(c), f);
        fclose(f);
        reports r = { .n = 0 };
        char why[300] = "";
        gr_auth *a = gr_auth_load(p, remember, &r, why, sizeof why);
        unlink(p);
        cr_assert(a, "case %zu: %s", i, why);
        cr_assert_eq(gr_auth_count(a), cases[i].tokens, "case %zu", i);
        cr_assert_eq(gr_auth_rejected(a), cases[i].n_bad, "case %zu", i);
        cr_assert_eq(r.n, cases[i].n_bad, "case %zu", i);
        for (size_t k = 0; k < r.n; k++)
            cr_assert_eq(r.lines[k], cases[i].bad[k], "case %zu report %zu", i, k);
        cr_assert(strstr(r.why, cases[i].needle), "case %zu: %s", i, r.why);
        cr_assert_null(strstr(r.why, "short"), "the token is quoted: %s", r.why);
        cr_assert_null(strstr(r.why, "words"), "the token is quoted: %s", r.why);
        if (cases[i].tokens)
            cr_assert(gr_auth_check(a, "good-token-000000001", 20), "case %zu", i);
        cr_assert(!gr_auth_check(a, "short", 5), "case %zu", i);
        gr_auth_free(a);
    }
}

Test(auth, a_file_without_tokens_refuses_every_token)
{
    const char *empties[] = { "", "# nothing\n   \n", "short\n" };
    for (size_t i = 0; i < 3; i++) {
        char *p = write_tokens(empties[i]);
        char why[300] = "";
        gr_auth *a = gr_auth_load(p, NULL, NULL, why, sizeof why);
        unlink(p);
        cr_assert(a, "case %zu: %s", i, why);
        cr_assert_eq(gr_auth_count(a), 0);
        cr_assert(!gr_auth_check(a, "", 0));
        cr_assert(!gr_auth_check(a, "short", 5));
        cr_assert(!gr_auth_check(a, "# nothing", 9));
        gr_auth_free(a);
    }
}

Test(auth, unreadable_or_endless_files_do_not_load)
{
    char why[300];
    cr_assert_null(gr_auth_load("/nonexistent/tokens", NULL, NULL, why, sizeof why));
    cr_assert(strstr(why, "No such file"), "%s", why);
    /* a file that never ends, or that is far too large to be a token list */
    cr_assert_null(gr_auth_load("/dev/zero", NULL, NULL, why, sizeof why));
    cr_assert(strstr(why, "/dev/zero: larger than 16 MiB"), "%s", why);
    /* the longest token loads, one byte more is skipped, a line far longer too */
    char *big = malloc(3 * GR_AUTH_MAX_TOKEN);
    memset(big, 'k', GR_AUTH_MAX_TOKEN);
    strcpy(big + GR_AUTH_MAX_TOKEN, "\n");
    char *p = write_tokens(big);
    gr_auth *a = gr_auth_load(p, NULL, NULL, why, sizeof why);
    unlink(p);
    cr_assert(a, "%s", why);
    cr_assert(gr_auth_check(a, big, GR_AUTH_MAX_TOKEN));
    cr_assert(!gr_auth_check(a, big, GR_AUTH_MAX_TOKEN + 1));
    gr_auth_free(a);
    for (size_t extra = 1; extra < 2 * GR_AUTH_MAX_TOKEN; extra += GR_AUTH_MAX_TOKEN) {
        memset(big, 'k', GR_AUTH_MAX_TOKEN + extra);
        strcpy(big + GR_AUTH_MAX_TOKEN + extra, "\ngood-token-000000001\n");
        p = write_tokens(big);
        reports r = { .n = 0 };
        a = gr_auth_load(p, remember, &r, why, sizeof why);
        unlink(p);
        cr_assert(a, "%s", why);
        cr_assert_eq(gr_auth_count(a), 1);
        cr_assert_eq(r.n, 1);
        cr_assert_eq(r.lines[0], 1);
        cr_assert(gr_auth_check(a, "good-token-000000001", 20), "the line after a long one");
        gr_auth_free(a);
    }
    free(big);
}
