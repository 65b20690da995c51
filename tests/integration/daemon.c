/* daemon.c - see daemon.h. */
#include "daemon.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <curl/curl.h>
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* bookkeeping for cleanup                                              */

#define MAX_TRACKED 64
static pid_t tracked_pids[MAX_TRACKED];
static size_t n_tracked_pids;
static char *tracked_paths[MAX_TRACKED]; /* temp dirs and files, rm -rf'd */
static size_t n_tracked_paths;
static bool atexit_done;

static bool keep_temps(void)
{
    const char *k = getenv("ITEST_KEEP");
    return k && *k && strcmp(k, "0") != 0;
}

static void rm_rf(const char *path)
{
    if (!path || !*path || keep_temps())
        return;
    /* Only ever our own /tmp/genorisk-itest-* paths. */
    if (strncmp(path, "/tmp/genorisk-itest-", 20) != 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/rm", "rm", "-rf", "--", path, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

void itest_cleanup(void)
{
    for (size_t i = 0; i < n_tracked_pids; i++) {
        if (tracked_pids[i] > 0) {
            kill(tracked_pids[i], SIGKILL);
            waitpid(tracked_pids[i], NULL, 0);
            tracked_pids[i] = 0;
        }
    }
    n_tracked_pids = 0;
    for (size_t i = 0; i < n_tracked_paths; i++) {
        if (tracked_paths[i]) {
            rm_rf(tracked_paths[i]);
            free(tracked_paths[i]);
            tracked_paths[i] = NULL;
        }
    }
    n_tracked_paths = 0;
}

static void ensure_atexit(void)
{
    if (!atexit_done) {
        atexit(itest_cleanup);
        atexit_done = true;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        signal(SIGPIPE, SIG_IGN);
    }
}

static void track_pid(pid_t pid)
{
    ensure_atexit();
    for (size_t i = 0; i < n_tracked_pids; i++)
        if (tracked_pids[i] == 0) {
            tracked_pids[i] = pid;
            return;
        }
    if (n_tracked_pids < MAX_TRACKED)
        tracked_pids[n_tracked_pids++] = pid;
}

static void untrack_pid(pid_t pid)
{
    for (size_t i = 0; i < n_tracked_pids; i++)
        if (tracked_pids[i] == pid)
            tracked_pids[i] = 0;
}

static void track_path(const char *p)
{
    ensure_atexit();
    if (n_tracked_paths < MAX_TRACKED)
        tracked_paths[n_tracked_paths++] = strdup(p);
}

static void untrack_path_and_remove(const char *p)
{
    for (size_t i = 0; i < n_tracked_paths; i++)
        if (tracked_paths[i] && strcmp(tracked_paths[i], p) == 0) {
            rm_rf(tracked_paths[i]);
            free(tracked_paths[i]);
            tracked_paths[i] = NULL;
            return;
        }
    rm_rf(p);
}

/* ------------------------------------------------------------------ */
/* small utilities                                                      */

long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

char *slurp_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 8192, n = 0;
    char *s = malloc(cap);
    size_t r;
    while ((r = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n < 2)
            s = realloc(s, cap *= 2);
    }
    s[n] = '\0';
    fclose(f);
    return s;
}

static char *temp_path(const char *kind, bool dir)
{
    ensure_atexit();
    char tmpl[128];
    snprintf(tmpl, sizeof tmpl, "/tmp/genorisk-itest-%s-XXXXXX", kind);
    if (dir) {
        cr_assert(mkdtemp(tmpl), "mkdtemp: %s", strerror(errno));
    } else {
        int fd = mkstemp(tmpl);
        cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
        close(fd);
    }
    track_path(tmpl);
    return strdup(tmpl);
}

char *temp_file_with(const char *s)
{
    char *p = temp_path("file", false);
    FILE *f = fopen(p, "wb");
    cr_assert(f);
    fputs(s, f);
    fclose(f);
    return p;
}

bool is_uuid_v4(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

static const char *daemon_bin(void)
{
    const char *p = getenv("GENORISKD");
    return p && *p ? p : "build/genoriskd";
}

static const char *cli_bin(void)
{
    const char *p = getenv("GENORISK_CLI");
    return p && *p ? p : "build/genorisk";
}

/* ------------------------------------------------------------------ */
/* the daemon process                                                   */

static const char *const daemon_env_vars[] = { "GENORISK_MODELS",
                                               "GENORISK_LISTEN",
                                               "GENORISK_WORKERS",
                                               "GENORISK_QUEUE_DEPTH",
                                               "GENORISK_MAX_BODY_BYTES",
                                               "GENORISK_MAX_SAMPLES",
                                               "GENORISK_DRAIN_TIMEOUT_S",
                                               "GENORISK_LOG_FORMAT",
                                               "GENORISK_LOG_LEVEL",
                                               "GENORISK_BATCH_MAX",
                                               "GENORISK_BATCH_WAIT_US",
                                               "GENORISK_REQUEST_THREADS",
                                               NULL };

static pid_t spawn_daemon(const char *models_dir, const char *const *args, const char *const *env,
                          bool add_listen, const char *out_path, const char *log_path)
{
    ensure_atexit();
    const char *argv[64];
    int argc = 0;
    argv[argc++] = daemon_bin();
    if (models_dir) {
        argv[argc++] = "--models";
        argv[argc++] = models_dir;
    }
    if (add_listen) {
        argv[argc++] = "--listen";
        argv[argc++] = "127.0.0.1:0";
    }
    for (size_t i = 0; args && args[i] && argc < 62; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;

    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        signal(SIGPIPE, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (size_t i = 0; daemon_env_vars[i]; i++)
            unsetenv(daemon_env_vars[i]);
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        int in = open("/dev/null", O_RDONLY);
        int out = open(out_path, O_WRONLY | O_TRUNC);
        int err = open(log_path, O_WRONLY | O_TRUNC);
        if (in < 0 || out < 0 || err < 0)
            _exit(125);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "itest: cannot exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    track_pid(pid);
    return pid;
}

static int decode_status(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return -WTERMSIG(st);
    return -999;
}

bool daemon_alive(daemon_t *d)
{
    if (d->exited)
        return false;
    int st;
    pid_t r = waitpid(d->pid, &st, WNOHANG);
    if (r == d->pid) {
        d->exited = true;
        d->wait_status = st;
        untrack_pid(d->pid);
        return false;
    }
    return true;
}

int daemon_wait_exit(daemon_t *d, long timeout_ms)
{
    long end = now_ms() + timeout_ms;
    while (daemon_alive(d)) {
        if (now_ms() >= end)
            return DAEMON_TIMEOUT;
        sleep_ms(10);
    }
    return decode_status(d->wait_status);
}

void daemon_signal(daemon_t *d, int sig)
{
    if (!d->exited)
        kill(d->pid, sig);
}

int daemon_stop(daemon_t *d, long timeout_ms)
{
    daemon_signal(d, SIGTERM);
    int r = daemon_wait_exit(d, timeout_ms);
    if (r == DAEMON_TIMEOUT) {
        kill(d->pid, SIGKILL);
        daemon_wait_exit(d, 5000);
    }
    return r;
}

char *daemon_log(const daemon_t *d)
{
    char *s = slurp_file(d->log_path);
    return s ? s : strdup("");
}

char *daemon_stdout(const daemon_t *d)
{
    char *s = slurp_file(d->out_path);
    return s ? s : strdup("");
}

static int count_occurrences(const char *hay, const char *needle)
{
    int n = 0;
    size_t l = strlen(needle);
    for (const char *p = hay; l && (p = strstr(p, needle)); p += l)
        n++;
    return n;
}

bool daemon_wait_log(const daemon_t *d, const char *needle, int count, long timeout_ms)
{
    long end = now_ms() + timeout_ms;
    for (;;) {
        char *log = daemon_log(d);
        int n = count_occurrences(log, needle);
        free(log);
        if (n >= count)
            return true;
        if (now_ms() >= end)
            return false;
        sleep_ms(20);
    }
}

/* Port from a "listening" line: JSON {"msg":"listening",...,"port":N} or text
 * "... listening ... port=N". 0 when none yet. *health gets its health_port
 * (0 when it has none). */
static int find_listen_port(const char *log, int *health)
{
    const char *line = log;
    while (line && *line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (!nl)
            break; /* only complete lines */
        json_t *j = json_loadb(line, len, 0, NULL);
        if (j) {
            json_t *msg = json_object_get(j, "msg");
            json_t *port = json_object_get(j, "port");
            int p = 0;
            if (json_is_string(msg) && strcmp(json_string_value(msg), "listening") == 0 &&
                json_is_integer(port)) {
                p = (int)json_integer_value(port);
                *health = (int)json_integer_value(json_object_get(j, "health_port"));
            }
            json_decref(j);
            if (p > 0)
                return p;
        } else {
            char *copy = strndup(line, len);
            const char *pp = strstr(copy, " port=");
            const char *hp = strstr(copy, " health_port=");
            int p = 0;
            if (strstr(copy, "listening") && pp) {
                p = atoi(pp + 6);
                *health = hp ? atoi(hp + 13) : 0;
            }
            free(copy);
            if (p > 0)
                return p;
        }
        line = nl + 1;
    }
    return 0;
}

daemon_t *daemon_start_env(const char *models_dir, const char *const *args, const char *const *env)
{
    daemon_t *d = calloc(1, sizeof *d);
    d->log_path = temp_path("log", false);
    d->out_path = temp_path("out", false);
    cr_assert(access(daemon_bin(), X_OK) == 0, "daemon binary %s is not there (set GENORISKD)",
              daemon_bin());
    d->pid = spawn_daemon(models_dir, args, env, true, d->out_path, d->log_path);
    long end = now_ms() + 10000;
    for (;;) {
        char *log = daemon_log(d);
        int port = find_listen_port(log, &d->health_port);
        if (port > 0) {
            free(log);
            d->port = port;
            return d;
        }
        if (!daemon_alive(d)) {
            cr_assert_fail("genoriskd exited (%d) before listening; stderr:\n%s",
                           decode_status(d->wait_status), log);
        }
        if (now_ms() >= end) {
            kill(d->pid, SIGKILL);
            cr_assert_fail("genoriskd did not log \"listening\" within 10 s; stderr:\n%s", log);
        }
        free(log);
        sleep_ms(15);
    }
}

daemon_t *daemon_start(const char *models_dir, ...)
{
    const char *args[48];
    size_t n = 0;
    va_list ap;
    va_start(ap, models_dir);
    for (const char *a = va_arg(ap, const char *); a && n < 47; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return daemon_start_env(models_dir, args, NULL);
}

void daemon_free(daemon_t *d)
{
    if (!d)
        return;
    if (daemon_alive(d)) {
        kill(d->pid, SIGKILL);
        daemon_wait_exit(d, 5000);
    }
    untrack_path_and_remove(d->log_path);
    untrack_path_and_remove(d->out_path);
    free(d->log_path);
    free(d->out_path);
    free(d);
}

int daemon_run_to_exit(const char *models_dir, const char *const *args, const char *const *env,
                       char **out, char **log, long timeout_ms)
{
    daemon_t d = { 0 };
    d.log_path = temp_path("log", false);
    d.out_path = temp_path("out", false);
    cr_assert(access(daemon_bin(), X_OK) == 0, "daemon binary %s is not there", daemon_bin());
    bool listen = true;
    for (size_t i = 0; args && args[i]; i++)
        if (strcmp(args[i], "--listen") == 0 || strncmp(args[i], "--listen=", 9) == 0)
            listen = false;
    d.pid = spawn_daemon(models_dir, args, env, listen, d.out_path, d.log_path);
    int r = daemon_wait_exit(&d, timeout_ms);
    if (r == DAEMON_TIMEOUT) {
        kill(d.pid, SIGKILL);
        daemon_wait_exit(&d, 5000);
    }
    if (log)
        *log = daemon_log(&d);
    if (out)
        *out = daemon_stdout(&d);
    untrack_path_and_remove(d.log_path);
    untrack_path_and_remove(d.out_path);
    free(d.log_path);
    free(d.out_path);
    return r;
}

/* ------------------------------------------------------------------ */
/* models directories                                                   */

char *models_dir_new(void)
{
    return temp_path("models", true);
}

static int run_argv_quiet(const char *const *argv)
{
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0)
            dup2(dn, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return decode_status(st);
}

static const char *base_or(const char *src, const char *name, char *buf, size_t n)
{
    if (name)
        return name;
    snprintf(buf, n, "%s", src);
    size_t l = strlen(buf);
    while (l > 1 && buf[l - 1] == '/')
        buf[--l] = '\0';
    return basename(buf);
}

/* A bundle whose manifest names a reference population (a bundle beside
 * it) takes the reference along, once, into dir. */
static void bring_reference(const char *dir, const char *src)
{
    char path[PATH_MAX], from[PATH_MAX], to[PATH_MAX], parent[PATH_MAX];
    snprintf(path, sizeof path, "%s/manifest.json", src);
    json_t *m = json_load_file(path, 0, NULL);
    const char *ref = json_string_value(json_object_get(m, "reference"));
    if (ref) {
        snprintf(parent, sizeof parent, "%s", src);
        snprintf(from, sizeof from, "%s/%s", dirname(parent), ref);
        snprintf(to, sizeof to, "%s/%s", dir, ref);
        struct stat sb;
        if (stat(to, &sb) != 0) {
            const char *argv[] = { "/bin/cp", "-rL", "--", from, to, NULL };
            cr_assert_eq(run_argv_quiet(argv), 0, "cp -rL %s %s failed", from, to);
        }
    }
    json_decref(m);
}

void models_dir_copy(const char *dir, const char *src, const char *name)
{
    char b[PATH_MAX], dst[PATH_MAX];
    snprintf(dst, sizeof dst, "%s/%s", dir, base_or(src, name, b, sizeof b));
    const char *argv[] = { "/bin/cp", "-rL", "--", src, dst, NULL };
    cr_assert_eq(run_argv_quiet(argv), 0, "cp -rL %s %s failed", src, dst);
    bring_reference(dir, src);
}

void models_dir_copy_unplaced(const char *dir, const char *src)
{
    char b[PATH_MAX], rel[PATH_MAX * 2], path[PATH_MAX];
    models_dir_copy(dir, src, NULL);
    snprintf(path, sizeof path, "%s/manifest.json", src);
    json_t *m = json_load_file(path, 0, NULL);
    cr_assert_not_null(m, "%s", path);
    json_object_del(m, "reference");
    json_object_del(m, "reference_score");
    json_object_del(m, "risk");
    char *text = json_dumps(m, 0);
    snprintf(rel, sizeof rel, "%s/manifest.json", base_or(src, NULL, b, sizeof b));
    models_dir_write(dir, rel, text);
    free(text);
    json_decref(m);
}

void models_dir_link(const char *dir, const char *src, const char *name)
{
    char b[PATH_MAX], dst[PATH_MAX], abs[PATH_MAX];
    snprintf(dst, sizeof dst, "%s/%s", dir, base_or(src, name, b, sizeof b));
    cr_assert(realpath(src, abs), "realpath %s: %s", src, strerror(errno));
    cr_assert_eq(symlink(abs, dst), 0, "symlink %s: %s", dst, strerror(errno));
    bring_reference(dir, src);
}

void models_dir_write(const char *dir, const char *relpath, const char *content)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, relpath);
    /* refuse to follow symlinks anywhere below dir (they point into the repo) */
    char walk[PATH_MAX];
    snprintf(walk, sizeof walk, "%s", relpath);
    for (char *p = walk;; p++) {
        if (*p == '/' || *p == '\0') {
            char save = *p;
            *p = '\0';
            char sub[PATH_MAX + 8];
            snprintf(sub, sizeof sub, "%s/%s", dir, walk);
            struct stat st;
            if (lstat(sub, &st) == 0)
                cr_assert(!S_ISLNK(st.st_mode), "models_dir_write: %s is a symlink", sub);
            *p = save;
            if (!save)
                break;
        }
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
    cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
    size_t len = strlen(content);
    cr_assert_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
}

void models_dir_remove(const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert(strncmp(path, "/tmp/genorisk-itest-", 20) == 0 && !strstr(name, ".."));
    const char *argv[] = { "/bin/rm", "-rf", "--", path, NULL };
    cr_assert_eq(run_argv_quiet(argv), 0, "rm -rf %s failed", path);
}

void models_dir_free(char *dir)
{
    if (!dir)
        return;
    untrack_path_and_remove(dir);
    free(dir);
}

char *models_dir_with(const char *first_src, ...)
{
    char *dir = models_dir_new();
    va_list ap;
    va_start(ap, first_src);
    for (const char *s = first_src; s; s = va_arg(ap, const char *))
        models_dir_copy(dir, s, NULL);
    va_end(ap);
    return dir;
}

/* ------------------------------------------------------------------ */
/* HTTP over libcurl                                                    */

static void add_header(http_resp *r, const char *name, size_t nl, const char *val, size_t vl)
{
    r->header_names = realloc(r->header_names, (r->n_headers + 1) * sizeof(char *));
    r->header_values = realloc(r->header_values, (r->n_headers + 1) * sizeof(char *));
    r->header_names[r->n_headers] = strndup(name, nl);
    r->header_values[r->n_headers] = strndup(val, vl);
    r->n_headers++;
}

static void clear_headers(http_resp *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->header_names[i]);
        free(r->header_values[i]);
    }
    r->n_headers = 0;
}

/* Parses one "Name: value" line (no CRLF handling needed by caller). */
static void parse_header_line(http_resp *r, const char *line, size_t len)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        len--;
    const char *colon = memchr(line, ':', len);
    if (!colon)
        return;
    size_t nl = (size_t)(colon - line);
    const char *v = colon + 1;
    size_t vl = len - nl - 1;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    add_header(r, line, nl, v, vl);
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    http_resp *r = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0)
        clear_headers(r); /* a new response (after 1xx or a redirect) */
    else
        parse_header_line(r, buf, len);
    return len;
}

static void body_append(http_resp *r, const char *data, size_t len)
{
    r->body = realloc(r->body, r->body_len + len + 1);
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
    body_append(ud, buf, size * n);
    return size * n;
}

static http_resp *resp_new(void)
{
    http_resp *r = calloc(1, sizeof *r);
    r->body = calloc(1, 1);
    return r;
}

void *http_handle_new(void)
{
    ensure_atexit();
    return curl_easy_init();
}

void http_handle_free(void *h)
{
    if (h)
        curl_easy_cleanup(h);
}

http_resp *http_do(int port, const http_req *rq)
{
    ensure_atexit();
    http_resp *r = resp_new();
    CURL *c = rq->curl ? rq->curl : curl_easy_init();
    if (rq->curl)
        curl_easy_reset(c);
    char url[2048];
    if (rq->cainfo) { /* the test certificate names localhost and 127.0.0.1 */
        snprintf(url, sizeof url, "https://localhost:%d%s", port, rq->path);
        curl_easy_setopt(c, CURLOPT_CAINFO, rq->cainfo);
        if (rq->tls_version)
            curl_easy_setopt(c, CURLOPT_SSLVERSION, rq->tls_version);
    } else {
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, rq->path);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, rq->timeout_ms > 0 ? rq->timeout_ms : 20000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_error);
    /* path as given: no "../" squashing */
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);

    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Expect:");
    char ct[512];
    if (rq->content_type) {
        snprintf(ct, sizeof ct, "Content-Type: %s", rq->content_type);
        h = curl_slist_append(h, ct);
    } else {
        h = curl_slist_append(h, "Content-Type:");
    }
    for (size_t i = 0; rq->headers && rq->headers[i]; i++)
        h = curl_slist_append(h, rq->headers[i]);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);

    const char *m = rq->method ? rq->method : "GET";
    size_t blen = rq->body ? (rq->body_len ? rq->body_len : strlen(rq->body)) : 0;
    if (strcmp(m, "GET") == 0 && !rq->body) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(m, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
        if (rq->body || strcmp(m, "POST") == 0) {
            curl_easy_setopt(c, CURLOPT_POST, 1L);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        }
    }
    long t0 = now_ms();
    CURLcode rc = curl_easy_perform(c);
    r->seconds = (double)(now_ms() - t0) / 1000.0;
    r->curl_code = (int)rc;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    } else {
        r->status = 0;
        if (!r->curl_error[0])
            snprintf(r->curl_error, sizeof r->curl_error, "%s", curl_easy_strerror(rc));
    }
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    if (!rq->curl)
        curl_easy_cleanup(c);
    return r;
}

http_resp *http_get(const daemon_t *d, const char *path)
{
    http_req rq = { .method = "GET", .path = path };
    return http_do(d->port, &rq);
}

http_resp *http_method(const daemon_t *d, const char *method, const char *path)
{
    http_req rq = { .method = method, .path = path };
    return http_do(d->port, &rq);
}

http_resp *http_post(const daemon_t *d, const char *path, const char *content_type,
                     const char *body, size_t len)
{
    http_req rq = {
        .method = "POST", .path = path, .content_type = content_type, .body = body, .body_len = len
    };
    return http_do(d->port, &rq);
}

http_resp *http_post_json(const daemon_t *d, const char *path, const char *body)
{
    return http_post(d, path, "application/json", body, body ? strlen(body) : 0);
}

const char *http_header(const http_resp *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->header_names[i], name) == 0)
            return r->header_values[i];
    return NULL;
}

json_t *http_json(const http_resp *r)
{
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, 0, &je);
    cr_assert(j, "response body is not JSON (%s at line %d col %d); %s", je.text, je.line,
              je.column, http_describe(r));
    return j;
}

void http_free(http_resp *r)
{
    if (!r)
        return;
    clear_headers(r);
    free(r->header_names);
    free(r->header_values);
    free(r->body);
    free(r);
}

const char *http_describe(const http_resp *r)
{
    static __thread char buf[1400];
    int n = snprintf(buf, sizeof buf, "status %ld", r->status);
    if (r->curl_code)
        n += snprintf(buf + n, sizeof buf - (size_t)n, " (curl %d: %s)", r->curl_code,
                      r->curl_error);
    const char *ct = http_header(r, "Content-Type");
    n += snprintf(buf + n, sizeof buf - (size_t)n, ", Content-Type %s, body (%zu bytes): %.900s",
                  ct ? ct : "(none)", r->body_len, r->body ? r->body : "");
    return buf;
}

json_t *expect_problem(const http_resp *r, long status, const char *slug, const char *instance)
{
    expect_status(r, status);
    const char *ct = http_header(r, "Content-Type");
    cr_assert(ct && strncasecmp(ct, "application/problem+json", 24) == 0,
              "problem Content-Type should be application/problem+json; %s", http_describe(r));
    json_t *j = http_json(r);
    char want_type[200];
    snprintf(want_type, sizeof want_type, "urn:genorisk:problem:%s", slug);
    json_t *t = json_object_get(j, "type");
    cr_assert(json_is_string(t) && strcmp(json_string_value(t), want_type) == 0,
              "problem type should be %s; %s", want_type, http_describe(r));
    json_t *title = json_object_get(j, "title");
    cr_assert(json_is_string(title) && json_string_length(title) > 0, "problem title missing; %s",
              http_describe(r));
    json_t *st = json_object_get(j, "status");
    cr_assert(json_is_integer(st) && json_integer_value(st) == status,
              "problem status should be %ld; %s", status, http_describe(r));
    json_t *detail = json_object_get(j, "detail");
    cr_assert(json_is_string(detail), "problem detail missing; %s", http_describe(r));
    json_t *inst = json_object_get(j, "instance");
    cr_assert(json_is_string(inst) && strcmp(json_string_value(inst), instance) == 0,
              "problem instance should be \"%s\"; %s", instance, http_describe(r));
    const char *rid = http_header(r, "X-Request-ID");
    cr_assert(rid, "X-Request-ID header missing; %s", http_describe(r));
    json_t *jr = json_object_get(j, "request_id");
    cr_assert(json_is_string(jr) && strcmp(json_string_value(jr), rid) == 0,
              "problem request_id should equal the X-Request-ID header %s; %s", rid,
              http_describe(r));
    return j;
}

/* ------------------------------------------------------------------ */
/* raw sockets                                                          */

int raw_connect(int port)
{
    ensure_atexit();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int raw_send(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int raw_send_str(int fd, const char *s)
{
    return raw_send(fd, s, strlen(s));
}

/* Reads more bytes into buf (growing); returns bytes read, 0 on EOF, -1 on
 * error or deadline. */
static ssize_t read_more(int fd, char **buf, size_t *len, size_t *cap, long deadline)
{
    long left = deadline - now_ms();
    if (left <= 0)
        return -1;
    struct pollfd p = { fd, POLLIN, 0 };
    int pr = poll(&p, 1, (int)left);
    if (pr <= 0)
        return -1;
    if (*cap - *len < 4096) {
        *cap = *cap * 2 + 8192;
        *buf = realloc(*buf, *cap);
    }
    ssize_t r = recv(fd, *buf + *len, *cap - *len - 1, 0);
    if (r < 0)
        return errno == EINTR ? read_more(fd, buf, len, cap, deadline) : -1;
    *len += (size_t)r;
    (*buf)[*len] = '\0';
    return r;
}

http_resp *raw_read_response(int fd, bool head, long timeout_ms)
{
    http_resp *r = resp_new();
    long deadline = now_ms() + timeout_ms;
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap);
    buf[0] = '\0';
    size_t pos = 0; /* start of the current response */
    for (;;) {
        char *end;
        while (!(end = strstr(buf + pos, "\r\n\r\n"))) {
            ssize_t n = read_more(fd, &buf, &len, &cap, deadline);
            if (n <= 0) {
                snprintf(r->curl_error, sizeof r->curl_error, "%s before the end of headers",
                         n == 0 ? "EOF" : "timeout/error");
                r->curl_code = -1;
                free(buf);
                return r;
            }
        }
        size_t hdr_end = (size_t)(end - buf) + 4;
        long status = 0;
        if (sscanf(buf + pos, "HTTP/%*d.%*d %ld", &status) != 1) {
            snprintf(r->curl_error, sizeof r->curl_error, "bad status line");
            r->curl_code = -1;
            free(buf);
            return r;
        }
        clear_headers(r);
        const char *line = strstr(buf + pos, "\r\n") + 2;
        while (line < buf + hdr_end - 2) {
            const char *eol = strstr(line, "\r\n");
            parse_header_line(r, line, (size_t)(eol - line));
            line = eol + 2;
        }
        pos = hdr_end;
        if (status >= 100 && status < 200)
            continue;
        r->status = status;
        break;
    }
    if (head || r->status == 204 || r->status == 304) {
        free(buf);
        return r;
    }
    const char *te = http_header(r, "Transfer-Encoding");
    const char *cl = http_header(r, "Content-Length");
    if (te && strcasestr(te, "chunked")) {
        for (;;) {
            char *eol;
            while (!(eol = strstr(buf + pos, "\r\n"))) {
                if (read_more(fd, &buf, &len, &cap, deadline) <= 0)
                    goto truncated;
            }
            unsigned long sz = strtoul(buf + pos, NULL, 16);
            size_t data = (size_t)(eol - buf) + 2;
            while (len < data + sz + 2) {
                if (read_more(fd, &buf, &len, &cap, deadline) <= 0)
                    goto truncated;
            }
            if (sz == 0) {
                /* trailers end with an empty line; we stop here */
                break;
            }
            body_append(r, buf + data, sz);
            pos = data + sz + 2;
        }
    } else if (cl) {
        size_t want = (size_t)strtoull(cl, NULL, 10);
        while (len - pos < want) {
            if (read_more(fd, &buf, &len, &cap, deadline) <= 0)
                goto truncated;
        }
        body_append(r, buf + pos, want);
    } else {
        for (;;) {
            ssize_t n = read_more(fd, &buf, &len, &cap, deadline);
            if (n == 0)
                break;
            if (n < 0)
                goto truncated;
        }
        body_append(r, buf + pos, len - pos);
    }
    free(buf);
    return r;
truncated:
    body_append(r, buf + pos, len - pos);
    snprintf(r->curl_error, sizeof r->curl_error, "body truncated (EOF/timeout)");
    r->curl_code = -2;
    free(buf);
    return r;
}

int raw_closed_by_server(int fd, long timeout_ms)
{
    struct pollfd p = { fd, POLLIN, 0 };
    if (poll(&p, 1, (int)timeout_ms) <= 0)
        return 0;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

long raw_read_rest(int fd, long timeout_ms, char **data)
{
    long deadline = now_ms() + timeout_ms;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    buf[0] = '\0';
    bool eof = false;
    for (;;) {
        ssize_t n = read_more(fd, &buf, &len, &cap, deadline);
        if (n == 0) {
            eof = true;
            break;
        }
        if (n < 0)
            break;
    }
    if (data)
        *data = buf;
    else
        free(buf);
    if (!eof && len == 0)
        return -1;
    return (long)len;
}

http_resp *raw_request(int port, const char *req, size_t len, bool head, long timeout_ms)
{
    int fd = raw_connect(port);
    if (fd < 0) {
        http_resp *r = resp_new();
        r->curl_code = -1;
        snprintf(r->curl_error, sizeof r->curl_error, "connect: %s", strerror(errno));
        return r;
    }
    raw_send(fd, req, len); /* the server may answer early and close; read anyway */
    http_resp *r = raw_read_response(fd, head, timeout_ms);
    close(fd);
    return r;
}

/* ------------------------------------------------------------------ */
/* Prometheus text                                                      */

static bool labels_match(const char *lab, size_t lablen, const char *const *want, size_t nwant)
{
    /* parse k="v",k="v" into a small table */
    char keys[32][128], vals[32][512];
    size_t n = 0;
    size_t i = 0;
    while (i < lablen && n < 32) {
        while (i < lablen && (lab[i] == ',' || lab[i] == ' '))
            i++;
        size_t k0 = i;
        while (i < lablen && lab[i] != '=')
            i++;
        if (i >= lablen)
            break;
        snprintf(keys[n], sizeof keys[n], "%.*s", (int)(i - k0), lab + k0);
        i++; /* = */
        if (i >= lablen || lab[i] != '"')
            return false;
        i++;
        size_t vl = 0;
        while (i < lablen && lab[i] != '"') {
            char c = lab[i];
            if (c == '\\' && i + 1 < lablen) {
                i++;
                c = lab[i] == 'n' ? '\n' : lab[i];
            }
            if (vl < sizeof vals[n] - 1)
                vals[n][vl++] = c;
            i++;
        }
        vals[n][vl] = '\0';
        i++; /* closing quote */
        n++;
    }
    for (size_t w = 0; w < nwant; w++) {
        const char *eq = strchr(want[w], '=');
        if (!eq)
            return false;
        size_t kl = (size_t)(eq - want[w]);
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found = strlen(keys[j]) == kl && strncmp(keys[j], want[w], kl) == 0 &&
                    strcmp(vals[j], eq + 1) == 0;
        if (!found)
            return false;
    }
    return true;
}

static double metric_value_a(const char *text, const char *name, const char *const *want,
                             size_t nwant)
{
    double sum = NAN;
    size_t nl = strlen(name);
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > nl && line[0] != '#' && strncmp(line, name, nl) == 0 &&
            (line[nl] == '{' || line[nl] == ' ')) {
            const char *v = line + nl;
            bool ok = true;
            if (*v == '{') {
                const char *close = v + 1;
                /* find the closing brace outside quotes */
                bool inq = false;
                while (close < line + len) {
                    if (*close == '\\' && inq)
                        close++;
                    else if (*close == '"')
                        inq = !inq;
                    else if (*close == '}' && !inq)
                        break;
                    close++;
                }
                ok =
                    close < line + len && labels_match(v + 1, (size_t)(close - v - 1), want, nwant);
                v = close + 1;
            } else {
                ok = nwant == 0;
            }
            if (ok) {
                double x = strtod(v, NULL);
                sum = isnan(sum) ? x : sum + x;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return sum;
}

double metric_value(const char *text, const char *name, ...)
{
    const char *want[16];
    size_t n = 0;
    va_list ap;
    va_start(ap, name);
    for (const char *w = va_arg(ap, const char *); w && n < 16; w = va_arg(ap, const char *))
        want[n++] = w;
    va_end(ap);
    return metric_value_a(text, name, want, n);
}

double metric_wait(const daemon_t *d, double want_v, long timeout_ms, const char *name, ...)
{
    const char *want[16];
    size_t n = 0;
    va_list ap;
    va_start(ap, name);
    for (const char *w = va_arg(ap, const char *); w && n < 16; w = va_arg(ap, const char *))
        want[n++] = w;
    va_end(ap);
    long end = now_ms() + timeout_ms;
    double v = NAN;
    for (;;) {
        http_resp *r = http_get(d, "/metrics");
        if (r->status == 200)
            v = metric_value_a(r->body, name, want, n);
        http_free(r);
        if ((!isnan(v) && v >= want_v) || now_ms() >= end)
            return v;
        sleep_ms(30);
    }
}

/* ------------------------------------------------------------------ */
/* requests, CLI                                                        */

char *make_dosage_request(size_t n, size_t nfeat, unsigned seed, bool explain, int top_k,
                          const char *id_prefix)
{
    /* built by hand: jansson is slow for 10^6 numbers and this is simple */
    size_t cap = n * (nfeat * 2 + 64) + 256, len = 0;
    char *s = malloc(cap);
    unsigned long long x = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    len += (size_t)sprintf(s + len, "{\"samples\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            s[len++] = ',';
        if (id_prefix)
            len += (size_t)sprintf(s + len, "{\"id\":\"%s%zu\",\"dosages\":[", id_prefix, i);
        else
            len += (size_t)sprintf(s + len, "{\"dosages\":[");
        for (size_t j = 0; j < nfeat; j++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            int d = (int)((x >> 33) % 3);
            if (j)
                s[len++] = ',';
            s[len++] = (char)('0' + d);
        }
        len += (size_t)sprintf(s + len, "]}");
    }
    len += (size_t)sprintf(s + len, "],\"explain\":%s", explain ? "true" : "false");
    if (top_k >= 0)
        len += (size_t)sprintf(s + len, ",\"top_k\":%d", top_k);
    len += (size_t)sprintf(s + len, "}");
    return s;
}

int run_cmd(const char *const *argv, char **out, char **err, long timeout_ms)
{
    char *op = temp_path("cmdout", false), *ep = temp_path("cmderr", false);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int in = open("/dev/null", O_RDONLY), o = open(op, O_WRONLY | O_TRUNC),
            e = open(ep, O_WRONLY | O_TRUNC);
        if (in < 0 || o < 0 || e < 0)
            _exit(125);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    long end = now_ms() + timeout_ms;
    int st = 0, rc = -1;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            break;
        }
        if (now_ms() >= end) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        sleep_ms(5);
    }
    if (out)
        *out = slurp_file(op);
    if (err)
        *err = slurp_file(ep);
    untrack_path_and_remove(op);
    untrack_path_and_remove(ep);
    free(op);
    free(ep);
    return rc;
}

json_t *cli_predict(const char *bundle_dir, const char *input_path)
{
    const char *argv[] = { cli_bin(), "predict",  "--model",   bundle_dir,
                           "--input", input_path, "--compact", NULL };
    char *out = NULL, *err = NULL;
    int rc = run_cmd(argv, &out, &err, 20000);
    cr_assert_eq(rc, 0, "%s predict --model %s --input %s exited %d: %s", cli_bin(), bundle_dir,
                 input_path, rc, err ? err : "");
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    cr_assert(j, "CLI output is not JSON: %s", je.text);
    free(out);
    free(err);
    return j;
}

void itest_finish(daemon_t *d, char *models_dir)
{
    cr_assert_eq(daemon_stop(d, 15000), 0, "daemon should exit 0 on SIGTERM");
    daemon_free(d);
    models_dir_free(models_dir);
}

uint32_t itest_crc32(const void *data, size_t n)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    uint32_t c = 0xFFFFFFFFu;
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}
