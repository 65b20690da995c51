/* test_auth.c - --auth-tokens files: what loads, what is refused (naming the
 * line, never the token), and that only the file's tokens pass. */
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
    gr_auth *a = gr_auth_load(p, why, sizeof why);
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
    char *p = write_tokens("\xEF\xBB\xBF" "alpha-token-0123456789\n");
    char why[300] = "";
    gr_auth *a = gr_auth_load(p, why, sizeof why);
    unlink(p);
    cr_assert(a, "%s", why);
    cr_assert(gr_auth_check(a, "alpha-token-0123456789", 22));
    gr_auth_free(a);
}

Test(auth, bad_files_are_refused_by_line)
{
    struct {
        const char *content, *needle;
    } cases[] = {
        { "", "holds no tokens" },
        { "# nothing\n   \n", "holds no tokens" },
        { "good-token-000000001\nshort\n", "line 2: a token must be 16 to 4096" },
        { "good-token-000000001\ntwo words-but-long-enough\n", "line 2" },
        { "tab\tinside-the-token-x\n", "line 1" },
        { "caf\xc3\xa9-not-ascii-token\n", "line 1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *p = write_tokens(cases[i].content);
        char why[300] = "";
        gr_auth *a = gr_auth_load(p, why, sizeof why);
        unlink(p);
        cr_assert_null(a, "case %zu loaded", i);
        cr_assert(strstr(why, cases[i].needle), "case %zu: %s", i, why);
        cr_assert_null(strstr(why, "short"), "the token is quoted: %s", why);
        cr_assert_null(strstr(why, "words"), "the token is quoted: %s", why);
    }
    char why[300];
    cr_assert_null(gr_auth_load("/nonexistent/tokens", why, sizeof why));
    cr_assert(strstr(why, "No such file"), "%s", why);
    /* the longest token loads, one byte more does not */
    char *big = malloc(GR_AUTH_MAX_TOKEN + 3);
    memset(big, 'k', GR_AUTH_MAX_TOKEN);
    strcpy(big + GR_AUTH_MAX_TOKEN, "\n");
    char *p = write_tokens(big);
    gr_auth *a = gr_auth_load(p, why, sizeof why);
    unlink(p);
    cr_assert(a, "%s", why);
    cr_assert(gr_auth_check(a, big, GR_AUTH_MAX_TOKEN));
    cr_assert(!gr_auth_check(a, big, GR_AUTH_MAX_TOKEN + 1));
    gr_auth_free(a);
    strcpy(big + GR_AUTH_MAX_TOKEN, "k\n");
    p = write_tokens(big);
    cr_assert_null(gr_auth_load(p, why, sizeof why));
    unlink(p);
    free(big);
}
