/* config.c - see config.h. */
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/model.h"
#include "server/config.h"
#include "server/log.h"

const char gr_config_usage[] =
    "usage: genoriskd --models DIR [options]\n"
    "\n"
    "Serves every model bundle under DIR over HTTP (docs/http-api.md).\n"
    "\n"
    "  --models DIR            bundles directory                  GENORISK_MODELS\n"
    "  --listen ADDR:PORT      default 127.0.0.1:8080; port 0 picks one   GENORISK_LISTEN\n"
    "  --health-listen ADDR:PORT  also serve /healthz, /readyz and /metrics (only) here,\n"
    "                          with connections of their own (none)  GENORISK_HEALTH_LISTEN\n"
    "  --workers N             inference threads (default: cores) GENORISK_WORKERS\n"
    "  --queue-depth N         waiting predicts before 503 (64)   GENORISK_QUEUE_DEPTH\n"
    "  --batch-max N           one-sample predicts of one model a worker runs\n"
    "                          together, 1 = no batching (8)     GENORISK_BATCH_MAX\n"
    "  --batch-wait-us N       how long a worker may wait for a batch to fill,\n"
    "                          microseconds (0: it takes what is queued)\n"
    "  --request-threads N     threads that score one request's samples,\n"
    "                          0 = as many as --workers (0)  GENORISK_REQUEST_THREADS\n"
    "                                                             GENORISK_BATCH_WAIT_US\n"
    "  --max-body-bytes N      JSON body ceiling (16777216)       GENORISK_MAX_BODY_BYTES\n"
    "  --max-upload-bytes N    VCF/BCF upload ceiling (4294967296) GENORISK_MAX_UPLOAD_BYTES\n"
    "  --max-body-memory-bytes N  JSON bodies in memory, all requests together;\n"
    "                          over it is 503 (268435456)    GENORISK_MAX_BODY_MEMORY_BYTES\n"
    "  --max-spool-bytes N     uploads spooled to --tmp-dir, all requests together;\n"
    "                          over it is 503 (4294967296)         GENORISK_MAX_SPOOL_BYTES\n"
    "  --tmp-dir DIR           where uploads are spooled ($TMPDIR or /tmp)  GENORISK_TMP_DIR\n"
    "  --max-samples N         samples per request (10000)        GENORISK_MAX_SAMPLES\n"
    "  --drain-timeout-s N     wait for requests on SIGTERM (30)  GENORISK_DRAIN_TIMEOUT_S\n"
    "  --max-connections N     open connections; more are closed at once (1024)\n"
    "                                                             GENORISK_MAX_CONNECTIONS\n"
    "  --connection-timeout-s N  close a connection idle this long (30)\n"
    "                                                             GENORISK_CONNECTION_TIMEOUT_S\n"
    "  --max-json-depth N      JSON nesting (32)                  GENORISK_MAX_JSON_DEPTH\n"
    "  --max-json-string-bytes N  longest JSON string (65536)     GENORISK_MAX_JSON_STRING_BYTES\n"
    "  --max-vcf-line-bytes N  longest VCF line or BCF record (67108864)\n"
    "                                                             GENORISK_MAX_VCF_LINE_BYTES\n"
    "  --max-vcf-header-bytes N  largest VCF header (16777216)    GENORISK_MAX_VCF_HEADER_BYTES\n"
    "  --max-response-bytes N  a predict's answer, 0 = no limit (268435456)\n"
    "                                                             GENORISK_MAX_RESPONSE_BYTES\n"
    "  --max-dosage-bytes N    a VCF upload's dosages: 2 bytes per sample and variant of\n"
    "                          every model scored, 0 = no limit (1073741824)\n"
    "                                                             GENORISK_MAX_DOSAGE_BYTES\n"
    "  --request-timeout-s N   a predict's work, 0 = no limit (300)  GENORISK_REQUEST_TIMEOUT_S\n"
    "  --auth-tokens FILE      bearer tokens, one per line; every route but\n"
    "                          /healthz, /readyz, /openapi.yaml (and /metrics)\n"
    "                          then needs one                     GENORISK_AUTH_TOKENS\n"
    "  --auth-metrics          /metrics needs a token too         GENORISK_AUTH_METRICS=1\n"
    "  --tls-cert FILE         PEM certificate (chain): serve HTTPS   GENORISK_TLS_CERT\n"
    "  --tls-key FILE          its PEM private key                GENORISK_TLS_KEY\n"
    "  --log-format json|text  (json)                             GENORISK_LOG_FORMAT\n"
    "  --log-level L           debug, info, warn, error (info)    GENORISK_LOG_LEVEL\n"
    "  --help, --version\n"
    "\n"
    "Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads DIR.\n";

static int parse_num(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* ADDR:PORT into host (host_size bytes) and *port_out. */
static int parse_listen(const char *s, char *host, size_t host_size, unsigned *port_out)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return 0;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { /* [::1]:8080 */
        h++;
        hl -= 2;
    }
    if (hl >= host_size)
        return 0;
    long long port;
    if (!parse_num(colon + 1, 0, 65535, &port))
        return 0;
    if (hl == 0) {
        strcpy(host, "0.0.0.0");
    } else {
        memcpy(host, h, hl);
        host[hl] = '\0';
    }
    *port_out = (unsigned)port;
    return 1;
}

enum {
    O_MODELS = 256,
    O_LISTEN,
    O_WORKERS,
    O_QUEUE,
    O_BODY,
    O_SAMPLES,
    O_DRAIN,
    O_LFMT,
    O_LLVL,
    O_UPLOAD,
    O_TMP,
    O_CONNS,
    O_CTIMEOUT,
    O_JDEPTH,
    O_JSTRING,
    O_VLINE,
    O_VHEADER,
    O_RESPONSE,
    O_DOSAGE,
    O_RTIMEOUT,
    O_AUTH,
    O_AUTH_METRICS,
    O_CERT,
    O_KEY,
    O_BODYMEM,
    O_SPOOL,
    O_HEALTH,
    O_BATCH,
    O_BATCH_WAIT,
    O_RTHREADS
};

static const struct {
    int opt;
    const char *env;
} env_of[] = { { O_MODELS, "GENORISK_MODELS" },
               { O_LISTEN, "GENORISK_LISTEN" },
               { O_WORKERS, "GENORISK_WORKERS" },
               { O_QUEUE, "GENORISK_QUEUE_DEPTH" },
               { O_BODY, "GENORISK_MAX_BODY_BYTES" },
               { O_SAMPLES, "GENORISK_MAX_SAMPLES" },
               { O_DRAIN, "GENORISK_DRAIN_TIMEOUT_S" },
               { O_LFMT, "GENORISK_LOG_FORMAT" },
               { O_LLVL, "GENORISK_LOG_LEVEL" },
               { O_UPLOAD, "GENORISK_MAX_UPLOAD_BYTES" },
               { O_TMP, "GENORISK_TMP_DIR" },
               { O_CONNS, "GENORISK_MAX_CONNECTIONS" },
               { O_CTIMEOUT, "GENORISK_CONNECTION_TIMEOUT_S" },
               { O_JDEPTH, "GENORISK_MAX_JSON_DEPTH" },
               { O_JSTRING, "GENORISK_MAX_JSON_STRING_BYTES" },
               { O_VLINE, "GENORISK_MAX_VCF_LINE_BYTES" },
               { O_VHEADER, "GENORISK_MAX_VCF_HEADER_BYTES" },
               { O_RESPONSE, "GENORISK_MAX_RESPONSE_BYTES" },
               { O_DOSAGE, "GENORISK_MAX_DOSAGE_BYTES" },
               { O_RTIMEOUT, "GENORISK_REQUEST_TIMEOUT_S" },
               { O_AUTH, "GENORISK_AUTH_TOKENS" },
               { O_AUTH_METRICS, "GENORISK_AUTH_METRICS" },
               { O_CERT, "GENORISK_TLS_CERT" },
               { O_KEY, "GENORISK_TLS_KEY" },
               { O_BODYMEM, "GENORISK_MAX_BODY_MEMORY_BYTES" },
               { O_SPOOL, "GENORISK_MAX_SPOOL_BYTES" },
               { O_HEALTH, "GENORISK_HEALTH_LISTEN" },
               { O_BATCH, "GENORISK_BATCH_MAX" },
               { O_BATCH_WAIT, "GENORISK_BATCH_WAIT_US" },
               { O_RTHREADS, "GENORISK_REQUEST_THREADS" } };

/* The numeric limits: option, name, range, where it goes. */
static const struct {
    int opt;
    const char *name;
    long long lo, hi;
    size_t off;
} limits[] = {
    { O_CONNS, "max-connections", 1, 1000000, offsetof(gr_config, max_connections) },
    { O_JDEPTH, "max-json-depth", 2, 10000, offsetof(gr_config, max_json_depth) },
    { O_JSTRING, "max-json-string-bytes", 16, (long long)1 << 40,
      offsetof(gr_config, max_json_string) },
    { O_VLINE, "max-vcf-line-bytes", 1024, (long long)1 << 40, offsetof(gr_config, max_vcf_line) },
    { O_VHEADER, "max-vcf-header-bytes", 1024, (long long)1 << 40,
      offsetof(gr_config, max_vcf_header) },
    { O_RESPONSE, "max-response-bytes", 0, (long long)1 << 50,
      offsetof(gr_config, max_response_bytes) },
    { O_DOSAGE, "max-dosage-bytes", 0, (long long)1 << 50, offsetof(gr_config, max_dosage_bytes) },
    { O_RTIMEOUT, "request-timeout-s", 0, 86400, offsetof(gr_config, request_timeout_s) },
    { O_BODYMEM, "max-body-memory-bytes", 4096, (long long)1 << 50,
      offsetof(gr_config, max_body_memory) },
    { O_SPOOL, "max-spool-bytes", 4096, (long long)1 << 50, offsetof(gr_config, max_spool_bytes) },
    { O_BATCH, "batch-max", 1, 64, offsetof(gr_config, batch_max) },
    { O_BATCH_WAIT, "batch-wait-us", 0, 100000, offsetof(gr_config, batch_wait_us) },
    { O_RTHREADS, "request-threads", 0, 256, offsetof(gr_config, request_threads) },
};

static int apply(gr_config *c, int opt, const char *v, char *why, size_t n)
{
    long long x;
    switch (opt) {
    case O_MODELS: c->models = v; return 1;
    case O_LISTEN:
        if (parse_listen(v, c->host, sizeof c->host, &c->port))
            return 1;
        snprintf(why, n, "--listen must be ADDR:PORT (e.g. 127.0.0.1:8080, [::1]:0)");
        return 0;
    case O_HEALTH:
        if ((c->health = parse_listen(v, c->health_host, sizeof c->health_host, &c->health_port)))
            return 1;
        snprintf(why, n, "--health-listen must be ADDR:PORT (e.g. 0.0.0.0:8081, [::1]:0)");
        return 0;
    case O_WORKERS:
    case O_QUEUE:
    case O_DRAIN:
        if (!parse_num(v, opt == O_DRAIN ? 0 : 1, opt == O_QUEUE ? 1000000 : 3600, &x)) {
            snprintf(why, n, "--%s must be a number in range",
                     opt == O_WORKERS ? "workers"
                     : opt == O_QUEUE ? "queue-depth"
                                      : "drain-timeout-s");
            return 0;
        }
        if (opt == O_WORKERS)
            c->workers = (int)x;
        else if (opt == O_QUEUE)
            c->queue_depth = (int)x;
        else
            c->drain_timeout_s = (int)x;
        return 1;
    case O_BODY:
    case O_SAMPLES:
    case O_UPLOAD:
        if (!parse_num(v, 1, (long long)1 << 50, &x)) {
            snprintf(why, n, "--%s must be a positive number",
                     opt == O_BODY     ? "max-body-bytes"
                     : opt == O_UPLOAD ? "max-upload-bytes"
                                       : "max-samples");
            return 0;
        }
        if (opt == O_BODY)
            c->max_body_bytes = (size_t)x;
        else if (opt == O_UPLOAD)
            c->max_upload_bytes = (size_t)x;
        else
            c->max_samples = (size_t)x;
        return 1;
    case O_TMP: c->tmp_dir = v; return 1;
    case O_AUTH: c->auth_tokens = v; return 1;
    case O_CERT: c->tls_cert = v; return 1;
    case O_KEY: c->tls_key = v; return 1;
    case O_AUTH_METRICS:
        /* a flag; its variable takes 1 or 0 */
        if (v && strcmp(v, "1") && strcmp(v, "0")) {
            snprintf(why, n, "GENORISK_AUTH_METRICS must be 1 or 0");
            return 0;
        }
        c->auth_metrics = !v || !strcmp(v, "1");
        return 1;
    case O_CTIMEOUT:
        if (!parse_num(v, 1, 86400, &x)) {
            snprintf(why, n, "--connection-timeout-s must be a number from 1 to 86400");
            return 0;
        }
        c->connection_timeout_s = (int)x;
        return 1;
    case O_CONNS:
    case O_JDEPTH:
    case O_JSTRING:
    case O_VLINE:
    case O_VHEADER:
    case O_RESPONSE:
    case O_DOSAGE:
    case O_RTIMEOUT:
    case O_BODYMEM:
    case O_SPOOL:
    case O_BATCH:
    case O_BATCH_WAIT:
    case O_RTHREADS:
        for (size_t i = 0; i < sizeof limits / sizeof *limits; i++)
            if (limits[i].opt == opt) {
                if (!parse_num(v, limits[i].lo, limits[i].hi, &x)) {
                    snprintf(why, n, "--%s must be a number from %lld to %lld", limits[i].name,
                             limits[i].lo, limits[i].hi);
                    return 0;
                }
                *(size_t *)((char *)c + limits[i].off) = (size_t)x;
            }
        return 1;
    case O_LFMT:
        if (strcmp(v, "json") && strcmp(v, "text")) {
            snprintf(why, n, "--log-format must be json or text");
            return 0;
        }
        c->log_json = !strcmp(v, "json");
        return 1;
    case O_LLVL:
        if ((c->log_level = gr_log_parse_level(v)) < 0) {
            snprintf(why, n, "--log-level must be debug, info, warn or error");
            return 0;
        }
        return 1;
    }
    snprintf(why, n, "an option this build does not handle (%d)", opt); /* a table missed it */
    return 0;
}

int gr_config_parse(int argc, char **argv, gr_config *c, char *why, size_t n)
{
    static const struct option opts[] = {
        { "models", required_argument, NULL, O_MODELS },
        { "listen", required_argument, NULL, O_LISTEN },
        { "health-listen", required_argument, NULL, O_HEALTH },
        { "workers", required_argument, NULL, O_WORKERS },
        { "queue-depth", required_argument, NULL, O_QUEUE },
        { "max-body-bytes", required_argument, NULL, O_BODY },
        { "max-samples", required_argument, NULL, O_SAMPLES },
        { "max-upload-bytes", required_argument, NULL, O_UPLOAD },
        { "tmp-dir", required_argument, NULL, O_TMP },
        { "drain-timeout-s", required_argument, NULL, O_DRAIN },
        { "log-format", required_argument, NULL, O_LFMT },
        { "log-level", required_argument, NULL, O_LLVL },
        { "max-connections", required_argument, NULL, O_CONNS },
        { "connection-timeout-s", required_argument, NULL, O_CTIMEOUT },
        { "max-json-depth", required_argument, NULL, O_JDEPTH },
        { "max-json-string-bytes", required_argument, NULL, O_JSTRING },
        { "max-vcf-line-bytes", required_argument, NULL, O_VLINE },
        { "max-vcf-header-bytes", required_argument, NULL, O_VHEADER },
        { "max-response-bytes", required_argument, NULL, O_RESPONSE },
        { "max-dosage-bytes", required_argument, NULL, O_DOSAGE },
        { "request-timeout-s", required_argument, NULL, O_RTIMEOUT },
        { "auth-tokens", required_argument, NULL, O_AUTH },
        { "auth-metrics", no_argument, NULL, O_AUTH_METRICS },
        { "tls-cert", required_argument, NULL, O_CERT },
        { "tls-key", required_argument, NULL, O_KEY },
        { "max-body-memory-bytes", required_argument, NULL, O_BODYMEM },
        { "max-spool-bytes", required_argument, NULL, O_SPOOL },
        { "batch-max", required_argument, NULL, O_BATCH },
        { "batch-wait-us", required_argument, NULL, O_BATCH_WAIT },
        { "request-threads", required_argument, NULL, O_RTHREADS },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    memset(c, 0, sizeof *c);
    strcpy(c->host, "127.0.0.1");
    c->port = 8080;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c->workers = cores > 0 ? (int)cores : 1;
    c->queue_depth = 64;
    /* the core's eight lanes: measured faster than none (docs/http-api.md) */
    c->batch_max = 8;
    c->max_body_bytes = 16u << 20;
    c->max_samples = 10000;
    c->max_upload_bytes = (size_t)4 << 30;
    c->tmp_dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    c->drain_timeout_s = 30;
    c->log_json = 1;
    c->log_level = GR_LOG_INFO;
    c->max_connections = 1024;
    c->connection_timeout_s = 30;
    c->max_json_depth = 32;
    c->max_json_string = 65536;
    c->max_vcf_line = (size_t)64 << 20;
    c->max_vcf_header = (size_t)16 << 20;
    c->max_response_bytes = (size_t)256 << 20;
    c->max_dosage_bytes = (size_t)1 << 30;
    c->request_timeout_s = 300;
    /* 16 bodies of the largest size; one upload of the largest size */
    c->max_body_memory = (size_t)256 << 20;
    c->max_spool_bytes = (size_t)4 << 30;
    /* the environment first, so flags override it */
    for (size_t i = 0; i < sizeof env_of / sizeof *env_of; i++) {
        const char *v = getenv(env_of[i].env);
        if (v && *v && !apply(c, env_of[i].opt, v, why, n)) {
            size_t k = strlen(why);
            snprintf(why + k, n - k, " (from %s)", env_of[i].env);
            return -1;
        }
    }
    int o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'h') {
            fputs(gr_config_usage, stdout);
            return 1;
        }
        if (o == 'V') {
            printf("genoriskd %s\n", GR_VERSION);
            return 1;
        }
        if (o == '?') {
            snprintf(why, n, "unknown or incomplete option '%s'", argv[optind - 1]);
            return -1;
        }
        if (!apply(c, o, optarg, why, n))
            return -1;
    }
    if (optind != argc) {
        snprintf(why, n, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (!c->models) {
        snprintf(why, n, "--models DIR (or GENORISK_MODELS) is required");
        return -1;
    }
    if (!c->tls_cert != !c->tls_key) {
        snprintf(why, n, "--tls-cert and --tls-key go together");
        return -1;
    }
    if (c->auth_metrics && !c->auth_tokens) {
        snprintf(why, n, "--auth-metrics needs --auth-tokens");
        return -1;
    }
    return 0;
}
