/* daemon.h - helpers for the genoriskd HTTP integration tests: run the real
 * daemon as a child process on 127.0.0.1:0, talk HTTP to it with libcurl or a
 * raw socket, build temporary models directories, run the CLI.
 *
 * Everything here is bounded in time. Functions that return results (http_*,
 * raw_*) never abort the test, so they are safe in worker threads; helpers that
 * set things up (daemon_start, models_dir_*) fail the test with cr_assert on
 * error and must be called from the test's main thread.
 *
 * Paths are relative to the repository root (tests run from there). The daemon
 * binary is $GENORISKD (default build/genoriskd), the CLI $GENORISK_CLI
 * (default build/genorisk). Set ITEST_KEEP=1 to keep temp dirs and logs. */
#ifndef GR_ITEST_DAEMON_H
#define GR_ITEST_DAEMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- the daemon process ---- */

typedef struct {
    pid_t pid;
    int port;        /* from the "listening" log line */
    int health_port; /* its health_port (--health-listen), else 0 */
    char *log_path;  /* captured stderr */
    char *out_path;  /* captured stdout */
    bool exited;
    int wait_status; /* raw waitpid status once exited */
} daemon_t;

/* Starts build/genoriskd --models DIR --listen 127.0.0.1:0 ARGS... (args: a
 * NULL-terminated list of extra flags; env: NULL-terminated "NAME=VALUE" list
 * added to the environment, either may be NULL; models_dir NULL leaves out
 * --models). Waits (10 s at most) for the "listening" line and reads the port;
 * fails the test, showing the log, if the daemon exits or never listens. */
daemon_t *daemon_start_env(const char *models_dir, const char *const *args, const char *const *env);
/* Same, extra flags as NULL-terminated varargs. */
daemon_t *daemon_start(const char *models_dir, ...);

/* Sends SIGTERM and waits (timeout_ms) for exit. Returns the exit code, -signo
 * if killed by a signal, or DAEMON_TIMEOUT (then the daemon is SIGKILLed). */
#define DAEMON_TIMEOUT (-1000)
int daemon_stop(daemon_t *d, long timeout_ms);
/* Waits for the daemon to exit on its own; same return values, but on timeout
 * the daemon is left running. */
int daemon_wait_exit(daemon_t *d, long timeout_ms);
/* True while the process has not exited (reaps it if it has). */
bool daemon_alive(daemon_t *d);
void daemon_signal(daemon_t *d, int sig);
/* The captured stderr so far (new string). */
char *daemon_log(const daemon_t *d);
char *daemon_stdout(const daemon_t *d);
/* Waits until the log contains needle at least count times; false on timeout. */
bool daemon_wait_log(const daemon_t *d, const char *needle, int count, long timeout_ms);
/* Kills (SIGKILL) if still running, removes the log unless ITEST_KEEP. */
void daemon_free(daemon_t *d);

/* Runs the daemon expecting it to exit by itself (startup failure, --help).
 * Returns the exit code (or -signo / DAEMON_TIMEOUT, then killed); *log gets
 * stderr, *out stdout (either may be NULL). */
int daemon_run_to_exit(const char *models_dir, const char *const *args, const char *const *env,
                       char **out, char **log, long timeout_ms);

/* Kills every daemon still running and removes every temp dir (idempotent;
 * also registered with atexit). Use as TestSuite(.fini = itest_cleanup). */
void itest_cleanup(void);

/* Stops the daemon, which must exit 0 on SIGTERM within 15 s, and frees it
 * and its models directory. */
void itest_finish(daemon_t *d, char *models_dir);

/* The CRC-32 of gzip and BGZF trailers, for tests that write those by hand. */
uint32_t itest_crc32(const void *data, size_t n);

/* ---- temporary models directories ---- */

/* A new empty directory (removed by models_dir_free / itest_cleanup). */
char *models_dir_new(void);
/* Copies the bundle src into dir without its manifest's reference
 * population (and risk): for tests of many samples or many reloads, where
 * placing each sample (a projection, ~20 ms under ThreadSanitizer) or
 * loading the reference is not what they test. */
void models_dir_copy_unplaced(const char *dir, const char *src);
/* Adds bundle src (e.g. "models/cad-xgb-demo") to dir as NAME (NULL = the
 * basename of src): a recursive copy, which may be modified freely. */
void models_dir_copy(const char *dir, const char *src, const char *name);
/* Adds bundle src as a symlink (absolute target); never write through it. */
void models_dir_link(const char *dir, const char *src, const char *name);
/* Writes dir/relpath (refusing to write through a symlink). */
void models_dir_write(const char *dir, const char *relpath, const char *content);
/* Removes dir/name (a bundle added before). */
void models_dir_remove(const char *dir, const char *name);
void models_dir_free(char *dir);
/* A directory with copies of the given bundles (NULL-terminated list). */
char *models_dir_with(const char *first_src, ...);

/* ---- HTTP over libcurl ---- */

typedef struct {
    long status;   /* 0 when the transfer failed */
    int curl_code; /* CURLE_OK = 0 */
    char curl_error[256];
    size_t n_headers; /* of the final response */
    char **header_names;
    char **header_values;
    char *body; /* NUL-terminated (body_len excludes the NUL) */
    size_t body_len;
    double seconds; /* total time */
} http_resp;

typedef struct {
    const char *method;         /* NULL = GET; "HEAD" sends no body */
    const char *path;           /* with query string */
    const char *content_type;   /* NULL: none sent (curl's default removed) */
    const char *body;           /* NULL: no body */
    size_t body_len;            /* 0 with body set: strlen(body) */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated */
    long timeout_ms;            /* 0 = 20 s */
    void *curl;                 /* a CURL * to reuse (keep-alive); NULL = fresh */
    const char *cainfo;         /* set: https://localhost, trusting this PEM file */
    long tls_version;           /* with cainfo: CURLOPT_SSLVERSION (min | max); 0 = curl's */
} http_req;

http_resp *http_do(int port, const http_req *rq);
http_resp *http_get(const daemon_t *d, const char *path);
http_resp *http_method(const daemon_t *d, const char *method, const char *path);
http_resp *http_post(const daemon_t *d, const char *path, const char *content_type,
                     const char *body, size_t len);
/* POST with Content-Type application/json. */
http_resp *http_post_json(const daemon_t *d, const char *path, const char *body);
/* Header value (case-insensitive name), NULL when absent. */
const char *http_header(const http_resp *r, const char *name);
/* Body parsed as JSON (fails the test when it is not); caller json_decref. */
json_t *http_json(const http_resp *r);
void http_free(http_resp *r);
/* "status 200 (curl: ...) body: ..." for assertion messages; static buffer. */
const char *http_describe(const http_resp *r);

void *http_handle_new(void); /* a CURL * for http_req.curl */
void http_handle_free(void *h);

/* Asserts status, Content-Type application/problem+json, the RFC 9457 fields
 * (type urn:genorisk:problem:SLUG, title, status, detail, instance == the
 * request path, request_id == the X-Request-ID header). Returns the body. */
json_t *expect_problem(const http_resp *r, long status, const char *slug, const char *instance);
#define expect_status(r, code)                                                                     \
    cr_assert_eq((r)->status, (long)(code), "expected HTTP %d, got %s", (int)(code),               \
                 http_describe(r))

/* ---- raw sockets ---- */

/* Connects to 127.0.0.1:port; returns the fd or -1 with errno set. */
int raw_connect(int port);
/* Sends everything (MSG_NOSIGNAL); 0 or -1 with errno. */
int raw_send(int fd, const void *data, size_t len);
int raw_send_str(int fd, const char *s);
/* Reads one HTTP response (skipping 1xx); head: the request was HEAD, so no
 * body follows. Decodes chunked bodies. Returns NULL status 0 on failure. */
http_resp *raw_read_response(int fd, bool head, long timeout_ms);
/* Reads until EOF or timeout; returns the byte count (-1 on timeout with no
 * EOF when none were read); *data (may be NULL) gets them. */
long raw_read_rest(int fd, long timeout_ms, char **data);
/* 1 when the server closed fd (EOF or reset) within timeout_ms. */
int raw_closed_by_server(int fd, long timeout_ms);
/* connect + send + read one response + close. */
http_resp *raw_request(int port, const char *req, size_t len, bool head, long timeout_ms);

/* ---- Prometheus text ---- */

/* Value of the sample NAME whose labels include every "k=v" in the
 * NULL-terminated list (other labels ignored); with several matches, their
 * sum. NAN when none match. */
double metric_value(const char *text, const char *name, ...);
/* Polls /metrics until metric_value(...) >= want; returns the last value. */
double metric_wait(const daemon_t *d, double want, long timeout_ms, const char *name, ...);

/* ---- requests, CLI ---- */

/* A predict request with n samples of nfeat random dosages in 0..2 (seeded),
 * ids "<id_prefix><i>" (NULL prefix: no ids). top_k < 0 leaves it out. */
char *make_dosage_request(size_t n, size_t nfeat, unsigned seed, bool explain, int top_k,
                          const char *id_prefix);
/* Runs argv (argv[0] a path) capturing stdout and stderr; returns the exit
 * code (-1 when it did not exit normally / timed out after timeout_ms). */
int run_cmd(const char *const *argv, char **out, char **err, long timeout_ms);
/* build/genorisk predict --model DIR --input FILE --compact; asserts exit 0
 * and returns the parsed response. */
json_t *cli_predict(const char *bundle_dir, const char *input_path);
/* Writes s to a new temp file (removed by itest_cleanup); returns its path. */
char *temp_file_with(const char *s);
/* Whole file as a new string (NULL when it cannot be read). */
char *slurp_file(const char *path);
/* Current monotonic time in ms. */
long now_ms(void);
void sleep_ms(long ms);
/* UUID v4, lowercase, 36 chars. */
bool is_uuid_v4(const char *s);

#endif
