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
    /* the health listener: none by default; the same forms */
    cr_assert_eq(parse(&c, why, "--models", "m", NULL, NULL), 0);
    cr_assert_eq(c.health, 0);
    cr_assert_eq(parse(&c, why, "--models", "m", "--health-listen", "0.0.0.0:8081"), 0, "%s", why);
    cr_assert_eq(c.health, 1);
    cr_assert_str_eq(c.health_host, "0.0.0.0");
    cr_assert_eq(c.health_port, 8081);
    cr_assert_str_eq(c.host, "127.0.0.1", "--listen is untouched");
    cr_assert_eq(parse(&c, why, "--models", "m", "--health-listen", "[::1]:0"), 0, "%s", why);
    cr_assert_str_eq(c.health_host, "::1");
    cr_assert_eq(parse(&c, why, "--models", "m", "--health-listen", "8081"), -1);
    cr_assert(strstr(why, "--health-listen must be ADDR:PORT"), "%s", why);
    setenv("GENORISK_HEALTH_LISTEN", ":9090", 1);
    cr_assert_eq(parse(&c, why, "--models", "m", NULL, NULL), 0, "%s", why);
    cr_assert_eq(c.health_port, 9090);
    unsetenv("GENORISK_HEALTH_LISTEN");
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

Test(config, security_and_limit_flags)
{
    gr_config c;
    char why[256];
    cr_assert_eq(parse(&c, why, "--models", "m", NULL, NULL), 0, "%s", why);
    cr_assert_eq(c.max_connections, 1024);
    cr_assert_eq(c.connection_timeout_s, 30);
    cr_assert_eq(c.max_json_depth, 32);
    cr_assert_eq(c.max_json_string, 65536);
    cr_assert_eq(c.max_vcf_line, (size_t)64 << 20);
    cr_assert_eq(c.max_vcf_header, (size_t)16 << 20);
    cr_assert_eq(c.max_response_bytes, (size_t)256 << 20);
    cr_assert_eq(c.max_dosage_bytes, (size_t)1 << 30);
    cr_assert_eq(c.request_timeout_s, 300);
    cr_assert_eq(c.max_body_memory, (size_t)256 << 20);
    cr_assert_eq(c.max_spool_bytes, (size_t)4 << 30);
    cr_assert_null(c.auth_tokens);
    cr_assert_null(c.tls_cert);
    cr_assert_eq(c.auth_metrics, 0);

    char *argv[] = { "genoriskd",
                     "--models",
                     "m",
                     "--max-connections",
                     "5",
                     "--connection-timeout-s",
                     "2",
                     "--max-json-depth",
                     "4",
                     "--max-json-string-bytes",
                     "100",
                     "--max-vcf-line-bytes",
                     "2048",
                     "--max-vcf-header-bytes",
                     "4096",
                     "--auth-tokens",
                     "t",
                     "--auth-metrics",
                     "--tls-cert",
                     "c.pem",
                     "--tls-key",
                     "k.pem",
                     "--max-response-bytes",
                     "0",
                     "--request-timeout-s",
                     "7",
                     NULL };
    cr_assert_eq(gr_config_parse(26, argv, &c, why, sizeof why), 0, "%s", why);
    cr_assert_eq(c.max_response_bytes, 0, "0: no limit");
    cr_assert_eq(c.request_timeout_s, 7);
    cr_assert_eq(c.max_connections, 5);
    cr_assert_eq(c.connection_timeout_s, 2);
    cr_assert_eq(c.max_json_depth, 4);
    cr_assert_eq(c.max_json_string, 100);
    cr_assert_eq(c.max_vcf_line, 2048);
    cr_assert_eq(c.max_vcf_header, 4096);
    cr_assert_str_eq(c.auth_tokens, "t");
    cr_assert_eq(c.auth_metrics, 1);
    cr_assert_str_eq(c.tls_cert, "c.pem");
    cr_assert_str_eq(c.tls_key, "k.pem");

    char *budgets[] = { "genoriskd", "--models",          "m",       "--max-body-memory-bytes",
                        "65536",     "--max-spool-bytes", "1048576", NULL };
    cr_assert_eq(gr_config_parse(7, budgets, &c, why, sizeof why), 0, "%s", why);
    cr_assert_eq(c.max_body_memory, 65536);
    cr_assert_eq(c.max_spool_bytes, 1048576);
    setenv("GENORISK_MAX_SPOOL_BYTES", "2097152", 1);
    cr_assert_eq(parse(&c, why, "--models", "m", NULL, NULL), 0, "%s", why);
    cr_assert_eq(c.max_spool_bytes, 2097152);
    unsetenv("GENORISK_MAX_SPOOL_BYTES");

    setenv("GENORISK_MAX_CONNECTIONS", "77", 1);
    setenv("GENORISK_AUTH_TOKENS", "env-tokens", 1);
    setenv("GENORISK_AUTH_METRICS", "1", 1);
    cr_assert_eq(parse(&c, why, "--models", "m", NULL, NULL), 0, "%s", why);
    cr_assert_eq(c.max_connections, 77);
    cr_assert_str_eq(c.auth_tokens, "env-tokens");
    cr_assert_eq(c.auth_metrics, 1);
    setenv("GENORISK_AUTH_METRICS", "yes", 1);
    cr_assert_eq(parse(&c, why, "--models", "m", NULL, NULL), -1);
    cr_assert(strstr(why, "GENORISK_AUTH_METRICS"), "%s", why);
    unsetenv("GENORISK_MAX_CONNECTIONS");
    unsetenv("GENORISK_AUTH_TOKENS");
    unsetenv("GENORISK_AUTH_METRICS");

    struct {
        const char *a, *b, *needle;
    } bad[] = {
        { "--max-connections", "0", "max-connections must be a number from 1" },
        { "--connection-timeout-s", "0", "connection-timeout-s" },
        { "--max-json-depth", "1", "max-json-depth" },
        { "--max-vcf-line-bytes", "12", "max-vcf-line-bytes" },
        { "--max-body-memory-bytes", "4095", "max-body-memory-bytes must be a number from 4096" },
        { "--max-spool-bytes", "-1", "max-spool-bytes must be a number from 4096" },
        { "--tls-cert", "c.pem", "go together" },
        { "--tls-key", "k.pem", "go together" },
        { "--auth-metrics", NULL, "needs --auth-tokens" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(parse(&c, why, "--models", "m", bad[i].a, bad[i].b), -1, "%s", bad[i].a);
        cr_assert(strstr(why, bad[i].needle), "%s: %s", bad[i].a, why);
    }
}

Test(config, batching_flags)
{
    gr_config c;
    char why[256];
    cr_assert_eq(parse(&c, why, "--models", "m", NULL, NULL), 0, "%s", why);
    cr_assert_eq(c.batch_max, 8);
    cr_assert_eq(c.batch_wait_us, 0);
    setenv("GENORISK_MODELS", "/env/models", 1); /* Criterion runs each test in its own process */
    setenv("GENORISK_BATCH_WAIT_US", "100", 1);
    cr_assert_eq(parse(&c, why, NULL, NULL, NULL, NULL), 0, "%s", why);
    cr_assert_eq(c.batch_wait_us, 100);
    cr_assert_eq(parse(&c, why, "--batch-max", "8", "--batch-wait-us", "250"), 0, "%s", why);
    cr_assert_eq(c.batch_max, 8);
    cr_assert_eq(c.batch_wait_us, 250);
    cr_assert_eq(parse(&c, why, "--models", "m", "--batch-max", "0"), -1);
    cr_assert(strstr(why, "--batch-max must be a number from 1 to 64"), "%s", why);
    cr_assert_eq(parse(&c, why, "--models", "m", "--batch-wait-us", "100001"), -1);
    cr_assert(strstr(why, "--batch-wait-us"), "%s", why);
}

Test(config, request_threads)
{
    gr_config c;
    char why[256];
    cr_assert_eq(parse(&c, why, "--models", "m", NULL, NULL), 0, "%s", why);
    cr_assert_eq(c.request_threads, 0); /* as many as the workers */
    cr_assert_eq(parse(&c, why, "--models", "m", "--request-threads", "3"), 0, "%s", why);
    cr_assert_eq(c.request_threads, 3);
    setenv("GENORISK_REQUEST_THREADS", "2", 1);
    cr_assert_eq(parse(&c, why, "--models", "m", NULL, NULL), 0, "%s", why);
    cr_assert_eq(c.request_threads, 2);
    cr_assert_eq(parse(&c, why, "--models", "m", "--request-threads", "257"), -1);
    cr_assert(strstr(why, "--request-threads must be a number from 0 to 256"), "%s", why);
}
