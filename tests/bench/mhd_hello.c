/* mhd_hello - the bare libmicrohttpd baseline for tools/bench_http.sh.
 *
 * Answers every request, whatever its method or path, with 200 and the
 * constant body {"status":"ok"} (Content-Type application/json), using the
 * setup a well-tuned MHD server would: an internal epoll polling thread pool.
 * genoriskd's GET /healthz throughput is measured against this.
 *
 * Usage: mhd_hello [--port N] [--threads N]
 *   --port N     TCP port on 127.0.0.1 (default 0: an ephemeral port)
 *   --threads N  MHD_OPTION_THREAD_POOL_SIZE (default 2)
 * Prints "port N" on stdout once listening; runs until SIGINT/SIGTERM.
 *
 * Build: cc -O2 -std=c11 -D_GNU_SOURCE -o build/bench/mhd_hello \
 *            tests/bench/mhd_hello.c -lmicrohttpd
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#if MHD_VERSION < 0x00097002
typedef int MHD_Result_t;
#else
typedef enum MHD_Result MHD_Result_t;
#endif

static const char BODY[] = "{\"status\":\"ok\"}";
static struct MHD_Response *g_response;

static MHD_Result_t handle(void *cls, struct MHD_Connection *conn,
                           const char *url, const char *method,
                           const char *version, const char *upload_data,
                           size_t *upload_data_size, void **req_cls)
{
    (void)cls; (void)url; (void)method; (void)version; (void)upload_data;
    /* The first call for a request only announces it; answering then would
     * leave a request body unread, so wait for the next one. Any upload is
     * consumed and dropped. */
    if (*req_cls == NULL) {
        *req_cls = (void *)1;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(conn, MHD_HTTP_OK, g_response);
}

static int parse_uint(const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

static void usage(FILE *f)
{
    fputs("usage: mhd_hello [--port N] [--threads N]\n", f);
}

int main(int argc, char **argv)
{
    long port = 0, threads = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 < argc && strcmp(argv[i], "--port") == 0) {
            if (parse_uint(argv[++i], 65535, &port) != 0) {
                fprintf(stderr, "mhd_hello: --port: expected 0..65535\n");
                return 2;
            }
        } else if (i + 1 < argc && strcmp(argv[i], "--threads") == 0) {
            if (parse_uint(argv[++i], 1024, &threads) != 0 || threads < 1) {
                fprintf(stderr, "mhd_hello: --threads: expected 1..1024\n");
                return 2;
            }
        } else {
            usage(stderr);
            return 2;
        }
    }

    g_response = MHD_create_response_from_buffer(sizeof BODY - 1,
                                                 (void *)BODY,
                                                 MHD_RESPMEM_PERSISTENT);
    if (g_response == NULL ||
        MHD_add_response_header(g_response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json") != MHD_YES) {
        fprintf(stderr, "mhd_hello: cannot create the response\n");
        return 1;
    }

    /* Block the stop signals before MHD starts its threads (they inherit
     * the mask), so that only sigwait() below ever receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                         MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4096,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "mhd_hello: MHD_start_daemon failed (port %ld)\n",
                port);
        return 1;
    }

    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0) {
        fprintf(stderr, "mhd_hello: cannot read the bound port\n");
        MHD_stop_daemon(d);
        return 1;
    }
    printf("port %u\n", (unsigned int)info->port);
    fflush(stdout);

    int sig;
    while (sigwait(&stop, &sig) != 0)
        ;

    MHD_stop_daemon(d);
    MHD_destroy_response(g_response);
    return 0;
}
