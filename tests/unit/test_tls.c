/* test_tls.c - --tls-cert/--tls-key are read and checked at start: a pair
 * that belongs together loads; a key of another certificate, a missing or
 * empty file, or text that is not PEM is refused with the file named. */
#include <criterion/criterion.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/http.h"
#include "server/tls.h"

static char dir[] = "/tmp/gr_tls_XXXXXX";

static void setup(void)
{
    cr_assert(mkdtemp(dir));
    for (int i = 0; i < 2; i++) {
        char cmd[600];
        snprintf(cmd, sizeof cmd,
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                 "-keyout %s/%d.key -out %s/%d.pem -days 2 -subj /CN=localhost >/dev/null 2>&1",
                 dir, i, dir, i);
        cr_assert_eq(system(cmd), 0, "openssl could not make a test certificate (make deps)");
    }
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(tls, .init = setup, .fini = teardown);

static char *in_dir(const char *name)
{
    static char p[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

Test(tls, a_matching_pair_loads)
{
    char *cert = NULL, *key = NULL, why[400] = "";
    cr_assert_eq(gr_tls_load(in_dir("0.pem"), in_dir("0.key"), &cert, &key, why, sizeof why), 0,
                 "%s", why);
    cr_assert(strstr(cert, "BEGIN CERTIFICATE"));
    cr_assert(strstr(key, "PRIVATE KEY"));
    free(cert);
    gr_tls_free_key(key);
    gr_tls_free_key(NULL);
}

Test(tls, wrong_or_missing_files_are_refused)
{
    FILE *f = fopen(in_dir("junk.pem"), "w");
    fputs("not a certificate\n", f);
    fclose(f);
    fclose(fopen(in_dir("empty.pem"), "w"));
    struct {
        const char *cert, *key, *needle;
    } cases[] = {
        { "0.pem", "1.key", "--tls-key" }, /* another certificate's key */
        { "0.pem", "missing.key", "No such file" },
        { "missing.pem", "0.key", "No such file" },
        { "junk.pem", "0.key", "--tls-cert" },
        { "0.pem", "junk.pem", "--tls-key" },
        { "empty.pem", "0.key", "empty" },
        { "0.key", "0.pem", "--tls-cert" }, /* swapped */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *cert = (char *)1, *key = (char *)1, why[400] = "";
        char c[128], k[128];
        snprintf(c, sizeof c, "%s", in_dir(cases[i].cert));
        snprintf(k, sizeof k, "%s", in_dir(cases[i].key));
        cr_assert_eq(gr_tls_load(c, k, &cert, &key, why, sizeof why), -1, "case %zu loaded", i);
        cr_assert_null(cert);
        cr_assert_null(key);
        cr_assert(strstr(why, cases[i].needle), "case %zu: %s", i, why);
        cr_assert_null(strstr(why, "BEGIN"), "case %zu quotes the PEM: %s", i, why);
    }
}

Test(tls_priorities, gnutls_takes_them_and_they_allow_tls_1_2_and_1_3_only)
{
    gnutls_priority_t p;
    const char *where = NULL;
    int rc = gnutls_priority_init(&p, GR_HTTP_TLS_PRIORITIES, &where);
    cr_assert_eq(rc, 0, "%s at '%s'", gnutls_strerror(rc), where ? where : "");
    const unsigned *list;
    int n = gnutls_priority_protocol_list(p, &list);
    cr_assert_eq(n, 2);
    cr_assert_eq(list[0], GNUTLS_TLS1_3);
    cr_assert_eq(list[1], GNUTLS_TLS1_2);
    gnutls_priority_deinit(p);
}
