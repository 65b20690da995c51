/* test_config.c - genoriskd's flags and GENORISK_* variables. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"
#include "server/log.h"

static int parse(gr_config *c, char *why, const char *a1, const char *a2, const char *a3,
                 const char *a4)
{
    char *argv[] = { "genoriskd", (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL };
    int argc = 1;
    while (argc < 5 && argv[argc])
        argc++;
    return gr_config_parse(argc, argv, c, why, 256);
}

Test(config, defaults)
{
    gr_config c;
    char why[256];
    unsetenv("GENORISK_LISTEN");
    cr_assert_eq(parse(&c, why, "--models", "m", NULL, NULL), 0, "%s", why);
    cr_assert_str_eq(c.models, "m");
    cr_assert_str_eq(c.host, "127.0.0.1");
    cr_assert_eq(c.port, 8080);
    cr_assert(c.workers >= 1);
    cr_assert_eq(c.queue_depth, 64);
    cr_assert_eq(c.max_body_bytes, 16u << 20);
    cr_assert_eq(c.max_samples, 10000);
    cr_assert_eq(c.drain_timeout_s, 30);
    cr_assert_eq(c.log_json, 1);
    cr_assert_eq(c.log_level, GR_LOG_INFO);
}

Test(config, environment_and_flags_override_it)
{
    gr_config c;
    char why[256];
    setenv("GENORISK_MODELS", "/env/models", 1);
    setenv("GENORISK_WORKERS", "3", 1);
    setenv("GENORISK_LOG_FORMAT", "text", 1);
    cr_assert_eq(parse(&c, why, "--workers", "5", NULL, NULL), 0, "%s", why);
    cr_assert_str_eq(c.models, "/env/models");
    cr_assert_eq(c.workers, 5);
    cr_assert_eq(c.log_json, 0);
    setenv("GENORISK_MAX_SAMPLES", "zero", 1);
    cr_assert_eq(parse(&c, why, NULL, NULL, NULL, NULL), -1);
    cr_assert(strstr(why, "GENORISK_MAX_SAMPLES"), "%s", why);
}

Test(config, listen_forms)
{
    gr_config c;
    char why[256];
    cr_assert_eq(parse(&c, why, "--models", "m", "--listen", "0.0.0.0:0"), 0);
    cr_assert_str_eq(c.host, "0.0.0.0");
    cr_assert_eq(c.port, 0);
    cr_assert_eq(parse(&c, why, "--models", "m", "--listen", "[::1]:9000"), 0);
    cr_assert_str_eq(c.host, "::1");
    cr_assert_eq(c.port, 9000);
    cr_assert_eq(parse(&c, why, "--models", "m", "--listen", ":81"), 0);
    cr_assert_str_eq(c.host, "0.0.0.0");
    cr_assert_eq(parse(&c, why, "--models", "m", "--listen", "localhost"), -1);
    cr_assert_eq(parse(&c, why, "--models", "m", "--listen", "1.2.3.4:70000"), -1);
}

Test(config, usage_errors)
{
    gr_config c;
    char why[256];
    unsetenv("GENORISK_MODELS");
    cr_assert_eq(parse(&c, why, NULL, NULL, NULL, NULL), -1);
    cr_assert(strstr(why, "--models"));
    cr_assert_eq(parse(&c, why, "--models", "m", "--workers", "0"), -1);
    cr_assert_eq(parse(&c, why, "--models", "m", "--log-level", "loud"), -1);
    cr_assert_eq(parse(&c, why, "--models", "m", "--bogus", NULL), -1);
    cr_assert(strstr(why, "--bogus"), "%s", why);
    cr_assert_eq(parse(&c, why, "--models", "m", "extra", NULL), -1);
}

Test(config, help_and_version)
{
    gr_config c;
    char why[256];
    cr_assert_eq(parse(&c, why, "--version", NULL, NULL, NULL), 1);
    cr_assert_eq(parse(&c, why, "--help", NULL, NULL, NULL), 1);
}
