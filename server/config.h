/* config.h - genoriskd's settings from flags and GENORISK_* environment
 * variables (a flag wins over its variable). */
#ifndef GR_CONFIG_H
#define GR_CONFIG_H

#include <stddef.h>

typedef struct {
    const char *models;
    char host[64];
    unsigned port;
    /* --health-listen: a second listener for the probes and /metrics */
    int health;
    char health_host[64];
    unsigned health_port;
    int workers, queue_depth, drain_timeout_s;
    size_t max_body_bytes, max_upload_bytes, max_samples;
    const char *tmp_dir;
    int log_json, log_level;
    /* security: NULL when unset */
    const char *auth_tokens, *tls_cert, *tls_key;
    int auth_metrics; /* /metrics needs a token too */
    /* limits on what a client controls */
    size_t max_connections, max_json_depth, max_json_string, max_vcf_line, max_vcf_header;
    size_t max_body_memory, max_spool_bytes; /* all requests' bodies together */
    int connection_timeout_s;
    size_t max_response_bytes; /* a predict's answer, 0: none */
    size_t max_dosage_bytes;   /* a VCF upload's dosage matrix, 0: none */
    size_t request_timeout_s;  /* a predict's work, seconds, 0: none */
    /* dynamic batching: one-sample predicts of one model run together, at
     * most batch_max (1: none), waiting at most batch_wait_us for them */
    size_t batch_max, batch_wait_us;
    size_t request_threads; /* threads that score one request's samples, 0: workers */
} gr_config;

/* Fills c. Returns 0 to run, 1 when --help/--version was printed (exit 0),
 * -1 on a usage error described in why. */
int gr_config_parse(int argc, char **argv, gr_config *c, char *why, size_t why_size);

extern const char gr_config_usage[];

#endif
