/* alloc_fail_test.c - allocation failure injection, as SQLite and curl do
 * it: each core operation (model loads of every bundle kind, a models
 * directory, predict with SHAP, the predict JSON and VCF requests, VCF/BCF
 * reading with and without worker threads; a PGS placed among a reference
 * population with its risk, one sample's HTML report and genorisk adjust,
 * all over tests/fixtures/ref_tiny, small enough to sweep whole) runs once
 * to count its allocations, then again failing the Nth, for every N, and
 * again failing the Nth and every later one. Each run must return an error
 * (GR_ENOMEM) or, when the failed allocation was optional, the same result
 * as a run without failures; nothing may crash, and every allocation the
 * run made must be freed once its result is.
 *
 * malloc and friends are replaced for the whole process (so htslib's,
 * jansson's and libdeflate's allocations fail too), forwarding to glibc's
 * __libc_* functions. That clashes with ASan's allocator, so this binary is
 * built without sanitizers by mk/alloc_fail.mk (`make alloc-fail-test`);
 * its name keeps it out of the Makefile's tests/unit/test_*.c wildcard.
 *
 * Only allocations made by the thread that runs the operation, and by the
 * threads it creates, are counted, so Criterion's own threads never see a
 * failure. Thread creation counts as an allocation too. Operations with
 * worker threads are swept twice: failing only the calling thread's
 * allocations (deterministic), then any thread's (the order varies from run
 * to run, so each run is only held to the same rules, not to a plan).
 *
 * Debugging: ALLOC_FAIL_ONLY="N [rest] [caller]" runs one injection in the
 * tests --filter picks; ALLOC_FAIL_TRACE=K prints a backtrace of tracked
 * allocation K (the numbers leak reports give); ALLOC_FAIL_DIFF=1 prints
 * the expected and the wrong result of a run that swallowed an error. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <htslib/hts.h>
#include <htslib/thread_pool.h>
#include <jansson.h>
#include <link.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/adjust.h"
#include "api/buffer.h"
#include "api/predict_json.h"
#include "api/predict_panel.h"
#include "api/predict_place.h"
#include "api/predict_run.h"
#include "api/predict_vcf.h"
#include "core/model.h"
#include "core/modelset.h"
#include "core/reference.h"
#include "core/vcf.h"

/* ---- the allocator ---- */

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);
extern void *__libc_valloc(size_t n);
extern void *__libc_pvalloc(size_t n);

/* 0: not counted; SCOPE_CALLER: the thread running the operation;
 * SCOPE_WORKER: a thread it created (directly or not). */
enum { SCOPE_NONE, SCOPE_CALLER, SCOPE_WORKER };
static _Thread_local int tl_scope;

static atomic_long g_count;      /* allocations that could have been failed */
static atomic_long g_failed;     /* allocations failed */
static atomic_long g_seq;        /* allocations tracked (numbers in leak reports) */
static atomic_long g_fail_at;    /* 0: none */
static atomic_int g_fail_rest;   /* also fail every one after g_fail_at */
static atomic_int g_caller_only; /* workers' allocations neither counted nor failed */
static long g_trace_at;          /* ALLOC_FAIL_TRACE */

/* Exemptions: the few places where a library below the core turns a failed
 * allocation into a crash, an exit or a wrong status, and nothing on our
 * side can stop it. Each is one call site (the return addresses of one
 * function, or of one call in it), found at start-up; the sweep either never
 * fails an allocation there (the library would crash or exit) or accepts one
 * status other than GR_ENOMEM when the first allocation failed was there. */
typedef struct {
    const char *name, *why;
    int never_fail;   /* 1: allocations here are not failed, nor counted */
    gr_status allow;  /* else: the status accepted for a failure here */
    int lexing_only;  /* only inside json_load* (see tl_lexing) */
    uintptr_t lo, hi; /* call site: return addresses in [lo, hi) */
    atomic_long hits; /* allocations kept from failing, or statuses accepted */
} exemption;

enum {
    EX_JANSSON_LEXER,
    EX_HTS_REALLOC_OR_DIE,
    EX_HTS_TPOOL_RESULT,
    EX_HTS_KGETLINE2,
    N_EXEMPTIONS
};

static exemption exemptions[N_EXEMPTIONS] = {
    [EX_JANSSON_LEXER] = { "jansson-lexer-buffer",
                           "jansson 2.14's lex_save() ignores a failed strbuffer_append_byte(): "
                           "the byte is "
                           "dropped and the parse goes on with a corrupted token, which Debian's "
                           "build, keeping "
                           "assertions, turns into an abort (assert(0) in lex_scan_string, "
                           "assert(c == d) in "
                           "lex_unget_unsave). gr_json_load and gr_api_json_loadb refuse a text "
                           "parsed while an "
                           "allocation failed, so only the abort is left: its buffer is never "
                           "failed here.",
                           1, GR_OK, 1, 0, 0, 0 },
    [EX_HTS_REALLOC_OR_DIE] = { "htslib-hts_realloc_or_die",
                                "htslib 1.16's hts_expand() (in bcf_unpack, bcf_subset_format, "
                                "bcf_update_filter and "
                                "the allele updates) grows arrays through hts_realloc_or_die(), "
                                "which calls exit(1) "
                                "when realloc fails: never failed here.",
                                1, GR_OK, 0, 0, 0, 0 },
    [EX_HTS_TPOOL_RESULT] = { "htslib-tpool-result",
                              "htslib 1.16's thread-pool worker, when it cannot allocate a job's "
                              "result "
                              "(hts_tpool_add_result), shuts the queues down and returns without "
                              "freeing the job "
                              "or dropping its reference to the queue, so both leak "
                              "(hts_tpool_process_destroy "
                              "then leaves the queue alone); gr_vcf_read fails cleanly otherwise: "
                              "never failed here.",
                              1, GR_OK, 0, 0, 0, 0 },
    [EX_HTS_KGETLINE2] = { "htslib-kgetline2",
                           "htslib 1.16's kgetline2() (hts_getline, reading a plain VCF's header) "
                           "turns a failed "
                           "allocation into an EINVAL error on the file (it calls hgetln with size "
                           "0 on purpose), "
                           "so vcf_hdr_read fails with errno EINVAL, as for a malformed header: "
                           "the core can only "
                           "report GR_EINPUT there. Accepted; never a wrong result.",
                           0, GR_EINPUT, 0, 0, 0, 0 },
};
static atomic_int g_first_failed_site; /* exemption index + 1 of the first failed allocation */
static const void *_Atomic g_first_failed_ra; /* its call site, for reports */
static _Thread_local int tl_lexing;           /* json_load* under way on this thread */
static _Thread_local int tl_probe; /* find_*_site: record the allocations (2: a worker) */
#define MAX_PROBE 64
static const void *g_probe_ra[MAX_PROBE];
static size_t g_probe_size[MAX_PROBE];
static int g_probe_worker[MAX_PROBE];
static atomic_size_t g_n_probe;

/* Live allocations made in scope: pointer -> sequence number, open
 * addressing with backward-shift deletion. */
#define TRACK_BITS 20
#define TRACK_SIZE ((size_t)1 << TRACK_BITS)
typedef struct {
    uintptr_t p;
    long seq;
} tracked;
static tracked track[TRACK_SIZE];
static atomic_size_t g_live;
static int g_track_full;
static pthread_mutex_t track_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t track_slot(uintptr_t p)
{
    return (size_t)(((uint64_t)p >> 4) * 0x9E3779B97F4A7C15ull >> (64 - TRACK_BITS));
}

static void track_add(void *p, long seq)
{
    pthread_mutex_lock(&track_lock);
    if (atomic_load(&g_live) >= TRACK_SIZE / 2) {
        g_track_full = 1;
    } else {
        size_t i = track_slot((uintptr_t)p);
        while (track[i].p)
            i = (i + 1) & (TRACK_SIZE - 1);
        track[i] = (tracked){ (uintptr_t)p, seq };
        atomic_fetch_add(&g_live, 1);
    }
    pthread_mutex_unlock(&track_lock);
}

/* Forgets p; its sequence number, or 0 when p was not tracked. */
static long track_del(void *p)
{
    if (!p || !atomic_load(&g_live))
        return 0;
    pthread_mutex_lock(&track_lock);
    size_t i = track_slot((uintptr_t)p);
    while (track[i].p && track[i].p != (uintptr_t)p)
        i = (i + 1) & (TRACK_SIZE - 1);
    long seq = track[i].seq;
    if (!track[i].p) {
        pthread_mutex_unlock(&track_lock);
        return 0;
    }
    for (size_t j = i;;) { /* close the gap so no lookup chain breaks */
        track[i].p = 0;
        size_t k;
        do {
            j = (j + 1) & (TRACK_SIZE - 1);
            if (!track[j].p)
                goto done;
            k = track_slot(track[j].p);
        } while (i <= j ? (i < k && k <= j) : (i < k || k <= j));
        track[i] = track[j];
        i = j;
    }
done:
    atomic_fetch_sub(&g_live, 1);
    pthread_mutex_unlock(&track_lock);
    return seq;
}

/* Writes up to max leaked sequence numbers into seqs, then forgets them all. */
static size_t track_drain(long *seqs, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&track_lock);
    for (size_t i = 0; i < TRACK_SIZE; i++)
        if (track[i].p) {
            if (n < max)
                seqs[n] = track[i].seq;
            n++;
            track[i].p = 0;
        }
    atomic_store(&g_live, 0);
    pthread_mutex_unlock(&track_lock);
    return n;
}

/* For an allocation in scope s from call site ra: 1 when it must fail;
 * *seq gets its number. */
static int inject(int s, long *seq, const void *ra)
{
    *seq = atomic_fetch_add(&g_seq, 1) + 1;
    if (*seq == g_trace_at) {
        void *frames[40];
        static const char head[] = "alloc_fail: backtrace of the traced allocation\n";
        int was = tl_scope;
        tl_scope = SCOPE_NONE;
        write(2, head, sizeof head - 1);
        backtrace_symbols_fd(frames, backtrace(frames, 40), 2);
        tl_scope = was;
    }
    if (s == SCOPE_WORKER && atomic_load(&g_caller_only))
        return 0;
    int site = 0;
    for (int i = 0; i < N_EXEMPTIONS; i++) {
        exemption *e = &exemptions[i];
        if ((uintptr_t)ra >= e->lo && (uintptr_t)ra < e->hi && (!e->lexing_only || tl_lexing)) {
            if (e->never_fail) {
                atomic_fetch_add(&e->hits, 1);
                return 0;
            }
            site = i + 1;
        }
    }
    long k = atomic_fetch_add(&g_count, 1) + 1, at = atomic_load(&g_fail_at);
    if (at && (k == at || (k > at && atomic_load(&g_fail_rest)))) {
        if (atomic_fetch_add(&g_failed, 1) == 0) {
            atomic_store(&g_first_failed_site, site);
            atomic_store(&g_first_failed_ra, ra);
        }
        return 1;
    }
    return 0;
}

static void *tracked_result(void *p, long seq)
{
    if (p)
        track_add(p, seq);
    else
        errno = ENOMEM;
    return p;
}

void *malloc(size_t n)
{
    long seq;
    const void *ra = __builtin_return_address(0);
    if (tl_probe) {
        size_t i = atomic_fetch_add(&g_n_probe, 1);
        if (i < MAX_PROBE) {
            g_probe_ra[i] = ra;
            g_probe_size[i] = n;
            g_probe_worker[i] = tl_probe == 2;
        }
    }
    if (!tl_scope)
        return __libc_malloc(n);
    if (inject(tl_scope, &seq, ra)) {
        errno = ENOMEM;
        return NULL;
    }
    return tracked_result(__libc_malloc(n), seq);
}

void *calloc(size_t n, size_t size)
{
    long seq;
    if (!tl_scope)
        return __libc_calloc(n, size);
    if (inject(tl_scope, &seq, __builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return tracked_result(__libc_calloc(n, size), seq);
}

void *realloc(void *p, size_t n)
{
    long seq;
    if (p && n == 0) { /* glibc frees */
        track_del(p);
        return __libc_realloc(p, 0);
    }
    if (!tl_scope) {
        /* a block tracked before stays tracked under its new address */
        long old = track_del(p);
        void *q = __libc_realloc(p, n);
        if (old)
            track_add(q ? q : p, old);
        return q;
    }
    if (inject(tl_scope, &seq, __builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    long old = track_del(p);
    void *q = __libc_realloc(p, n);
    if (!q) {
        if (old)
            track_add(p, old);
        errno = ENOMEM;
        return NULL;
    }
    /* growing a block allocated before the operation began is the owner's
     * business, not a new allocation of the operation */
    if (old || !p)
        track_add(q, old ? old : seq);
    return q;
}

void free(void *p)
{
    track_del(p);
    __libc_free(p);
}

void *reallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, n * size);
}

static void *aligned(size_t align, size_t n)
{
    long seq;
    if (!tl_scope)
        return __libc_memalign(align, n);
    if (inject(tl_scope, &seq, __builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return tracked_result(__libc_memalign(align, n), seq);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (!align || (align & (align - 1)) || align % sizeof(void *))
        return EINVAL;
    void *p = aligned(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
    return aligned(align, n);
}

void *memalign(size_t align, size_t n)
{
    return aligned(align, n);
}

void *valloc(size_t n)
{
    long seq;
    if (!tl_scope)
        return __libc_valloc(n);
    if (inject(tl_scope, &seq, __builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return tracked_result(__libc_valloc(n), seq);
}

void *pvalloc(size_t n)
{
    long seq;
    if (!tl_scope)
        return __libc_pvalloc(n);
    if (inject(tl_scope, &seq, __builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return tracked_result(__libc_pvalloc(n), seq);
}

char *strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

char *strndup(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Threads started in scope inherit it; creating one counts as an allocation. */
typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static create_fn real_create;

typedef struct {
    void *(*fn)(void *);
    void *arg;
    int scope, probe;
} start;

static void *started(void *arg)
{
    start st = *(start *)arg;
    __libc_free(arg);
    tl_scope = st.scope ? SCOPE_WORKER : SCOPE_NONE;
    tl_probe = st.probe ? 2 : 0;
    return st.fn(st.arg);
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    int s = tl_scope;
    long seq;
    if (!real_create) {
        tl_scope = SCOPE_NONE;
        real_create = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
        tl_scope = s;
    }
    if (!s && !tl_probe)
        return real_create(t, attr, fn, arg);
    if (s && inject(s, &seq, __builtin_return_address(0)))
        return EAGAIN;
    start *st = __libc_malloc(sizeof *st);
    if (!st)
        return EAGAIN;
    *st = (start){ fn, arg, s, tl_probe };
    tl_scope = SCOPE_NONE; /* glibc's own bookkeeping for the thread is not ours */
    int rc = real_create(t, attr, started, st);
    tl_scope = s;
    if (rc)
        __libc_free(st);
    return rc;
}

/* The json_load* functions, marked as such for the exemption. */
typedef json_t *(*load_file_fn)(const char *, size_t, json_error_t *);
typedef json_t *(*loads_fn)(const char *, size_t, json_error_t *);
typedef json_t *(*loadb_fn)(const char *, size_t, size_t, json_error_t *);
typedef json_t *(*loadf_fn)(FILE *, size_t, json_error_t *);
typedef json_t *(*load_callback_fn)(json_load_callback_t, void *, size_t, json_error_t *);
static load_file_fn real_load_file;
static load_callback_fn real_load_callback;
static loadf_fn real_loadf;
static loads_fn real_loads;
static loadb_fn real_loadb;

static void resolve_loaders(void)
{
    int s = tl_scope;
    tl_scope = SCOPE_NONE;
    real_load_file = (load_file_fn)dlsym(RTLD_NEXT, "json_load_file");
    real_loads = (loads_fn)dlsym(RTLD_NEXT, "json_loads");
    real_loadb = (loadb_fn)dlsym(RTLD_NEXT, "json_loadb");
    real_loadf = (loadf_fn)dlsym(RTLD_NEXT, "json_loadf");
    real_load_callback = (load_callback_fn)dlsym(RTLD_NEXT, "json_load_callback");
    tl_scope = s;
    if (!real_load_file || !real_loads || !real_loadb || !real_loadf || !real_load_callback)
        abort();
}

json_t *json_load_file(const char *path, size_t flags, json_error_t *error)
{
    if (!real_load_file)
        resolve_loaders();
    tl_lexing++;
    json_t *j = real_load_file(path, flags, error);
    tl_lexing--;
    return j;
}

json_t *json_loads(const char *input, size_t flags, json_error_t *error)
{
    if (!real_loads)
        resolve_loaders();
    tl_lexing++;
    json_t *j = real_loads(input, flags, error);
    tl_lexing--;
    return j;
}

json_t *json_loadf(FILE *input, size_t flags, json_error_t *error)
{
    if (!real_loadf)
        resolve_loaders();
    tl_lexing++;
    json_t *j = real_loadf(input, flags, error);
    tl_lexing--;
    return j;
}

json_t *json_load_callback(json_load_callback_t callback, void *data, size_t flags,
                           json_error_t *error)
{
    if (!real_load_callback)
        resolve_loaders();
    tl_lexing++;
    json_t *j = real_load_callback(callback, data, flags, error);
    tl_lexing--;
    return j;
}

json_t *json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error)
{
    if (!real_loadb)
        resolve_loaders();
    tl_lexing++;
    json_t *j = real_loadb(buffer, buflen, flags, error);
    tl_lexing--;
    return j;
}

/* Finds the lexer's buffer-growing call site: the token buffer starts at
 * 16 bytes and doubles, so lexing a 40-byte string allocates 16, 32 and 64
 * bytes from it, first; the string's own copy (43 bytes with the quotes'
 * room) comes from elsewhere. */
static void find_lexer_site(void)
{
    json_error_t je;
    g_n_probe = 0;
    tl_probe = 1;
    json_t *j = json_loads("\"0123456789012345678901234567890123456789\"", JSON_DECODE_ANY, &je);
    tl_probe = 0;
    cr_assert_not_null(j);
    json_decref(j);
    const void *site32 = NULL, *site64 = NULL, *site43 = NULL;
    for (size_t i = 0; i < g_n_probe && i < MAX_PROBE; i++) {
        if (g_probe_size[i] == 32 && !site32)
            site32 = g_probe_ra[i];
        else if (g_probe_size[i] == 64 && !site64)
            site64 = g_probe_ra[i];
        else if (g_probe_size[i] == 43 && !site43)
            site43 = g_probe_ra[i];
    }
    cr_assert(site32 && site32 == site64 && site43 && site43 != site32,
              "cannot tell jansson's lexer buffer from its other allocations");
    exemptions[EX_JANSSON_LEXER].lo = (uintptr_t)site32;
    exemptions[EX_JANSSON_LEXER].hi = (uintptr_t)site32 + 1;
}

/* The return addresses inside an exported function of a loaded library. */
static void symbol_site(exemption *e, const char *symbol)
{
    void *addr = dlsym(RTLD_DEFAULT, symbol);
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    cr_assert(addr && dladdr1(addr, &info, (void **)&sym, RTLD_DL_SYMENT) && sym &&
                  sym->st_size > 0,
              "%s: cannot find %s", e->name, symbol);
    e->lo = (uintptr_t)addr;
    e->hi = (uintptr_t)addr + sym->st_size;
}

static void *probe_job(void *arg)
{
    return arg;
}

/* Finds where a thread-pool worker allocates a job's result: the one
 * allocation a worker makes for a job that allocates nothing itself. */
static void find_tpool_site(void)
{
    int x = 0;
    g_n_probe = 0;
    tl_probe = 1;
    hts_tpool *p = hts_tpool_init(1);
    hts_tpool_process *q = p ? hts_tpool_process_init(p, 2, 0) : NULL;
    cr_assert(q && hts_tpool_dispatch(p, q, probe_job, &x) == 0);
    hts_tpool_result *r = hts_tpool_next_result_wait(q);
    tl_probe = 0;
    cr_assert(r && hts_tpool_result_data(r) == &x);
    hts_tpool_delete_result(r, 0);
    hts_tpool_process_destroy(q);
    hts_tpool_destroy(p);
    const void *site = NULL;
    int n = 0;
    for (size_t i = 0; i < g_n_probe && i < MAX_PROBE; i++)
        if (g_probe_worker[i]) {
            site = g_probe_ra[i];
            n++;
        }
    cr_assert(n == 1, "a thread-pool worker made %d allocations for a job, not 1", n);
    exemptions[EX_HTS_TPOOL_RESULT].lo = (uintptr_t)site;
    exemptions[EX_HTS_TPOOL_RESULT].hi = (uintptr_t)site + 1;
}

static void find_sites(void)
{
    if (exemptions[EX_JANSSON_LEXER].lo)
        return;
    find_lexer_site();
    find_tpool_site();
    symbol_site(&exemptions[EX_HTS_REALLOC_OR_DIE], "hts_realloc_or_die");
    symbol_site(&exemptions[EX_HTS_KGETLINE2], "kgetline2");
}

/* ---- operations ---- */

typedef struct op op;
struct op {
    char name[96];
    int threaded; /* makes worker threads: sweep the caller alone, then every thread */
    /* inside the window: the operation; *out its result on success */
    gr_status (*run)(const op *o, void **out, gr_error *err);
    /* outside: a new string describing the result, to compare runs */
    char *(*describe)(const op *o, void *out);
    void (*release)(void *out);
    const char *path;
    int threads;
    const char *const *samples;
    size_t n_samples;
    long top_k;   /* -1: the request's */
    int group_by; /* a gr_api_group_by (run_json) */
    long runs;    /* 0: fail every allocation in turn; else about this many, evenly spread
                 * (bundles too big for a sweep of every one: the small fixtures of the
                 * same kind are swept whole) */
    gr_model *m;
    char *body;
    const char *scores; /* gr_api_adjust's scores (path: its PCs) */
};

/* a stream to describe results into; the text is returned by done() */
typedef struct {
    FILE *f;
    char *s;
    size_t n;
} text;

static FILE *text_open(text *t)
{
    t->s = NULL;
    t->f = open_memstream(&t->s, &t->n);
    cr_assert_not_null(t->f);
    return t->f;
}

static char *text_done(text *t)
{
    fclose(t->f);
    return t->s;
}

static void describe_prediction(FILE *f, const gr_model *m, const double *x)
{
    size_t n = gr_model_get_info(m)->n_features;
    double *phi = calloc(n ? n : 1, sizeof *phi), *used = calloc(n ? n : 1, sizeof *used);
    gr_workspace *ws = gr_workspace_new(m);
    gr_prediction p;
    gr_error err;
    cr_assert(phi && used && ws);
    gr_status st = gr_predict(m, ws, x, &p, phi, used, &err);
    if (st) /* a model of features only: nothing was predicted */
        p = (gr_prediction){ 0 };
    fprintf(f, "predict %d %.17g %.17g %.17g %zu %zu %zu %zu\n", st, p.margin, p.score,
            p.base_value, p.n_expected, p.n_observed, p.n_imputed, p.n_missing);
    for (size_t i = 0; !st && i < n; i++)
        fprintf(f, " %.17g/%.17g", phi[i], used[i]);
    fputc('\n', f);
    gr_workspace_free(ws);
    free(phi);
    free(used);
}

static void describe_model_to(FILE *f, const gr_model *m)
{
    const gr_model_info *in = gr_model_get_info(m);
    fprintf(f, "%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%d %d %d %zu %zu %zu %d %zu %.17g %.17g\n", in->name,
            in->version, in->description, in->genome_build, in->dir, in->artifact,
            in->features_file, in->algorithm, in->explain_method, in->pgs_id, (int)in->task,
            (int)in->format, (int)in->space, in->n_features, in->n_trees, in->n_leaves,
            in->max_depth, in->n_features_with_mean, in->base_margin, in->min_coverage);
    size_t n = in->n_features;
    for (size_t i = 0; i < n; i++) {
        const gr_feature *ft = gr_model_feature(m, i);
        char locus[600];
        snprintf(locus, sizeof locus, "%s:%lld:%s:%s", ft->chrom, (long long)ft->pos, ft->ref,
                 ft->alt);
        fprintf(
            f, "%s %s %lld %s %s %s %.17g -> %ld %ld %ld\n", ft->id, ft->chrom, (long long)ft->pos,
            ft->ref, ft->alt, ft->rsid, ft->mean, gr_model_find_feature(m, ft->id),
            ft->rsid[0] ? gr_model_find_feature(m, ft->rsid) : -9, gr_model_find_feature(m, locus));
    }
    long score;
    const gr_reference *ref = gr_model_reference(m, &score);
    if (ref) {
        const gr_reference_info *ri = gr_reference_get_info(ref);
        fprintf(
            f,
            "reference %s %s %zu populations %zu pcs %zu variants %zu scores, score %ld, risk %d\n",
            ri->name, ri->sha256, ri->n_populations, ri->n_pcs, ri->n_variants, ri->n_scores, score,
            gr_model_risk(m) != NULL);
        for (size_t p = 0; p < ri->n_populations && score >= 0; p++) {
            size_t np;
            const double *pct = gr_reference_percentiles(ref, (size_t)score, p, &np);
            fprintf(f, "%s: %zu, %.17g %.17g\n", ri->populations[p], np, pct[0], pct[100]);
        }
        /* the projection and the forest, through one placement */
        double *d = malloc((ri->n_variants ? ri->n_variants : 1) * sizeof *d);
        gr_reference_ws *rws = gr_reference_ws_new(ref);
        gr_ancestry a;
        gr_error err;
        cr_assert(d && rws);
        for (size_t j = 0; j < ri->n_variants; j++)
            d[j] = j % 7 == 3 ? NAN : (double)(j % 3);
        gr_status st = gr_reference_place(ref, rws, d, &a, &err);
        fprintf(f, "placed %d %zu %d:", st, a.most_similar, a.low_confidence);
        for (size_t i = 0; !st && i < a.n_pcs; i++)
            fprintf(f, " %.17g", a.pcs[i]);
        for (size_t c = 0; !st && c < ri->n_populations; c++)
            fprintf(f, " %.17g", a.prob[c]);
        fputc('\n', f);
        gr_reference_ws_free(rws);
        free(d);
    }
    double *x = malloc((n ? n : 1) * sizeof *x);
    cr_assert_not_null(x);
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < n; i++)
            x[i] = k == 0 ? NAN : k == 1 ? 1.0 : (double)(i % 3);
        describe_prediction(f, m, x);
    }
    free(x);
}

/* gr_model_load */

static gr_status run_load(const op *o, void **out, gr_error *err)
{
    gr_model *m = (gr_model *)0x1; /* must come back NULL on failure */
    gr_status st = o->threads > 1 ? gr_model_load_threads(o->path, o->threads, &m, err)
                                  : gr_model_load(o->path, &m, err);
    *out = m;
    return st;
}

/* gr_model_load_features */

static gr_status run_load_features(const op *o, void **out, gr_error *err)
{
    gr_model *m = (gr_model *)0x1; /* must come back NULL on failure */
    gr_status st = gr_model_load_features(o->path, &m, err);
    *out = m;
    return st;
}

static char *describe_model(const op *o, void *out)
{
    text t;
    describe_model_to(text_open(&t), out);
    return text_done(&t);
}

static void release_model(void *out)
{
    gr_model_free(out);
}

/* gr_modelset_load */

static gr_status run_modelset(const op *o, void **out, gr_error *err)
{
    gr_modelset *s = (gr_modelset *)0x1;
    gr_status st = gr_modelset_load(o->path, &s, err);
    *out = s;
    return st;
}

static char *describe_modelset(const op *o, void *out)
{
    text t;
    FILE *f = text_open(&t);
    fprintf(f, "%zu models\n", gr_modelset_count(out));
    for (size_t i = 0; i < gr_modelset_count(out); i++)
        describe_model_to(f, gr_modelset_at(out, i));
    return text_done(&t);
}

static void release_modelset(void *out)
{
    gr_modelset_release(out);
}

/* a workspace and gr_predict with SHAP, as each request does */

typedef struct {
    gr_prediction p;
    double *phi, *used;
    size_t n;
} predicted;

static gr_status run_predict(const op *o, void **out, gr_error *err)
{
    size_t n = gr_model_get_info(o->m)->n_features;
    gr_status st = GR_OK;
    double *x = malloc((n ? n : 1) * sizeof *x);
    predicted *r = calloc(1, sizeof *r);
    gr_workspace *ws = gr_workspace_new(o->m);
    if (!x || !r || !ws || !(r->phi = malloc((n ? n : 1) * sizeof *r->phi)) ||
        !(r->used = malloc((n ? n : 1) * sizeof *r->used))) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    r->n = n;
    for (size_t i = 0; i < n; i++)
        x[i] = i % 5 == 4 ? NAN : (double)(i % 3);
    if ((st = gr_predict(o->m, ws, x, &r->p, r->phi, r->used, err)))
        goto fail;
    *out = r;
    r = NULL;
fail:
    if (r) {
        free(r->phi);
        free(r->used);
        free(r);
    }
    gr_workspace_free(ws);
    free(x);
    return st;
}

static char *describe_predicted(const op *o, void *out)
{
    const predicted *r = out;
    text t;
    FILE *f = text_open(&t);
    fprintf(f, "%.17g %.17g %.17g %zu %zu %zu %zu\n", r->p.margin, r->p.score, r->p.base_value,
            r->p.n_expected, r->p.n_observed, r->p.n_imputed, r->p.n_missing);
    for (size_t i = 0; i < r->n; i++)
        fprintf(f, "%.17g %.17g\n", r->phi[i], r->used[i]);
    return text_done(&t);
}

static void release_predicted(void *out)
{
    predicted *r = out;
    if (r) {
        free(r->phi);
        free(r->used);
        free(r);
    }
}

/* A predict JSON request end to end, as api/http.c serves it: parse the
 * body, predict each sample, build the response and serialise it. */

static gr_status run_json(const op *o, void **out, gr_error *err)
{
    /* the model's read, and one of its reference's variant set if it
     * names one, bound as the front ends bind them (api/predict_place.h) */
    const gr_model *ms[1] = { o->m }, *all[2];
    size_t total = gr_api_read_list(ms, 1, all), len = strlen(o->body);
    gr_api_request reqs[2];
    gr_api_job jobs[2];
    uint8_t usable[2] = { 1, 1 };
    gr_status st = GR_OK;
    json_t *doc = NULL;
    memset(reqs, 0, sizeof reqs);
    if ((st = gr_api_request_read(o->m, o->body, len, NULL, &reqs[0], err)))
        goto fail;
    for (size_t k = 1; k < total && !st; k++)
        st = gr_api_place_read_json(all[k], o->body, len, NULL, &reqs[k], &usable[k], err);
    if (st)
        goto fail;
    gr_api_settings given = gr_api_settings_unset();
    given.top_k = o->top_k;
    given.group_by = o->group_by;
    for (size_t k = 0; k < total; k++)
        gr_api_job_init(&jobs[k], all[k], &reqs[k], NULL, k < 1 ? &given : NULL);
    gr_api_bind_places(jobs, all, 1, total, usable);
    if ((st = gr_api_predict_all(&jobs[0], &doc, err)))
        goto fail;
    char *s = gr_api_json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!s) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    *out = s;
fail:
    json_decref(doc);
    for (size_t k = 0; k < 2; k++)
        gr_api_request_clear(&reqs[k]);
    return st;
}

static char *describe_string(const op *o, void *out)
{
    return strdup(out);
}

static void release_string(void *out)
{
    free(out);
}

/* gr_vcf_read */

static gr_vcf_options vcf_options(const op *o)
{
    gr_vcf_options opt = { 0 };
    opt.threads = o->threads;
    opt.samples = o->samples;
    opt.n_samples = o->n_samples;
    return opt;
}

static gr_status run_vcf(const op *o, void **out, gr_error *err)
{
    gr_vcf_options opt = vcf_options(o);
    gr_vcf_result *r = (gr_vcf_result *)0x1;
    gr_status st = gr_vcf_read(o->m, o->path, -1, &opt, &r, err);
    *out = r;
    return st;
}

static char *describe_vcf(const op *o, void *out)
{
    const gr_vcf_result *r = out;
    text t;
    FILE *f = text_open(&t);
    fprintf(f, "%zu samples, %zu features, %zu records, build '%s'\n", r->n_samples, r->n_features,
            r->records, r->build);
    const gr_vcf_match *c = &r->match;
    fprintf(f, "match: %zu %zu %zu %zu %zu\n", c->matched, c->flipped, c->swapped, c->ambiguous,
            c->multiallelic);
    for (size_t s = 0; s < r->n_samples; s++) {
        fprintf(f, "%s:", r->sample_ids[s]);
        for (size_t j = 0; j < r->n_features; j++)
            fprintf(f, " %u", r->dosage[s * r->n_features + j]);
        fputc('\n', f);
    }
    for (size_t i = 0; i < r->n_warnings; i++)
        fprintf(f, "warning: %s\n", r->warnings[i]);
    return text_done(&t);
}

static void release_vcf(void *out)
{
    gr_vcf_result_free(out);
}

/* A VCF predict request end to end, as api/http.c serves it. */
static gr_status run_vcf_predict(const op *o, void **out, gr_error *err)
{
    gr_vcf_options opt = vcf_options(o);
    gr_vcf_result *v = NULL;
    json_t *doc = NULL;
    gr_status st = gr_vcf_read(o->m, o->path, -1, &opt, &v, err);
    if (st)
        goto fail;
    gr_api_settings given = gr_api_settings_unset();
    given.allow_low_coverage = 1;
    gr_api_job job;
    gr_api_job_init(&job, o->m, NULL, v, &given);
    if ((st = gr_api_predict_all(&job, &doc, err)))
        goto fail;
    char *s = gr_api_json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!s) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    *out = s;
fail:
    json_decref(doc);
    gr_vcf_result_free(v);
    return st;
}

/* The panel's second model (loaded once, outside the sweep). */
static gr_model *panel_second;

static int to_buf(void *arg, const char *bytes, size_t n)
{
    return !gr_buf_append(arg, bytes, n, 0);
}

/* A panel of two PGS read in one pass, with the projection variants of
 * the first's reference as the front ends add them (api/predict_place.h),
 * written as .sscore and tsv, with the variant log (the JSON writer has its
 * own sweeps). */
static gr_status run_vcf_panel(const op *o, void **out, gr_error *err)
{
    gr_vcf_options opt = vcf_options(o);
    opt.keep_records = 1;
    gr_vcf_result *v = NULL;
    gr_buf b = { 0 };
    const gr_model *ms[2] = { o->m, panel_second }, *all[4];
    size_t total = gr_api_read_list(ms, 2, all);
    gr_policy pol[4] = { gr_model_get_info(o->m)->policy, gr_policy_named(GR_POLICY_PLINK2) };
    gr_vcf_model vm[4];
    for (size_t k = 0; k < total; k++) {
        gr_impute unused;
        if (k >= 2)
            gr_api_resolve_policy(all[k], NULL, &pol[k], &unused);
        vm[k] = (gr_vcf_model){ all[k], &pol[k] };
    }
    gr_status st = gr_vcf_read_models(vm, total, o->path, -1, &opt, &v, err);
    if (st)
        goto fail;
    gr_api_settings given = gr_api_settings_unset();
    given.allow_low_coverage = 1;
    gr_api_job jobs[4];
    for (size_t k = 0; k < total; k++) {
        gr_api_settings g = given;
        g.policy = (int)pol[k].name;
        gr_api_job_init(&jobs[k], all[k], NULL, v, k < 2 ? &g : NULL);
        gr_api_job_set_vcf_model(&jobs[k], k);
    }
    gr_api_bind_places(jobs, all, 2, total, NULL);
    static const gr_api_format formats[] = { GR_API_FORMAT_SSCORE, GR_API_FORMAT_TSV };
    for (size_t f = 0; f < 2 && !st; f++) {
        gr_api_panel panel = { jobs, 2, formats[f], "af", 0, 0, 0, o->threads ? 2 : 1 };
        st = gr_api_panel_write(&panel, NULL, to_buf, &b, err);
        if (!st && f == 1)
            st = gr_api_variant_log_write(&panel, to_buf, &b, err);
    }
    if (st == GR_EIO) /* the buffer could not grow */
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    if (!st) {
        *out = b.s;
        b.s = NULL;
    }
fail:
    free(b.s);
    gr_vcf_result_free(v);
    return st;
}

/* One sample's HTML report from a VCF, as `genorisk report` makes it: the
 * model and its reference's projection variants read in one pass, the
 * sample placed, its answer rendered (api/report.c). */
static gr_status run_vcf_report(const op *o, void **out, gr_error *err)
{
    gr_vcf_options opt = vcf_options(o);
    gr_vcf_result *v = NULL;
    gr_buf b = { 0 };
    const gr_model *ms[1] = { o->m }, *all[2];
    size_t total = gr_api_read_list(ms, 1, all);
    gr_api_settings given = gr_api_settings_unset();
    gr_policy pol[2];
    gr_vcf_model vm[2];
    for (size_t k = 0; k < total; k++) {
        gr_impute unused;
        gr_api_resolve_policy(all[k], k < 1 ? &given : NULL, &pol[k], &unused);
        vm[k] = (gr_vcf_model){ all[k], &pol[k] };
    }
    gr_status st = gr_vcf_read_models(vm, total, o->path, -1, &opt, &v, err);
    if (st)
        goto fail;
    gr_api_job jobs[2];
    for (size_t k = 0; k < total; k++) {
        gr_api_job_init(&jobs[k], all[k], NULL, v, k < 1 ? &given : NULL);
        gr_api_job_set_vcf_model(&jobs[k], k);
    }
    gr_api_bind_places(jobs, all, 1, total, NULL);
    gr_api_panel panel = { jobs, 1, GR_API_FORMAT_HTML, NULL, 0, 0, 0, 1 };
    st = gr_api_panel_write(&panel, NULL, to_buf, &b, err);
    if (st == GR_EIO) /* the buffer could not grow */
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    if (!st) {
        *out = b.s;
        b.s = NULL;
    }
fail:
    free(b.s);
    gr_vcf_result_free(v);
    return st;
}

/* The report with its time stamp ("generated", which differs between
 * runs a second apart) blotted out. */
static char *describe_report(const op *o, void *out)
{
    char *s = strdup(out);
    cr_assert_not_null(s);
    for (char *p = s; *p; p++)
        if (p[0] >= '0' && p[0] <= '9' && strlen(p) >= 20 && p[4] == '-' && p[7] == '-' &&
            p[10] == 'T' && p[13] == ':' && p[16] == ':' && p[19] == 'Z')
            memset(p, '#', 20);
    return s;
}

/* `genorisk adjust`: PCs and scores from files read against a reference. */
static gr_status run_adjust(const op *o, void **out, gr_error *err)
{
    gr_buf b = { 0 };
    size_t rows = 0;
    gr_api_adjust_args a = {
        gr_model_reference(o->m, NULL), o->path, o->scores, NULL, to_buf, &b, to_buf, &b
    };
    gr_status st = gr_api_adjust(&a, &rows, err);
    if (st == GR_EIO) /* the buffer could not grow (the files were read once already) */
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    char n[32];
    snprintf(n, sizeof n, "%zu rows\n", rows);
    if (!st && !gr_buf_append(&b, n, strlen(n), 0))
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    if (!st) {
        *out = b.s;
        b.s = NULL;
    }
    free(b.s);
    return st;
}

/* ---- the sweep ---- */

/* What a crash report names: the operation and the allocation being failed. */
static const char *volatile crash_op = "";
static volatile long crash_n;
static volatile int crash_rest, crash_caller;

static void on_crash(int sig)
{
    char msg[300];
    int n = snprintf(msg, sizeof msg, "alloc_fail: %s %d in %s failing allocation %ld%s%s\n",
                     sig ? "signal" : "exit() called, signal", sig, crash_op, crash_n,
                     crash_rest ? " and every later one" : "",
                     crash_caller ? " (calling thread only)" : "");
    write(2, msg, (size_t)n);
    void *frames[40];
    tl_scope = SCOPE_NONE;
    backtrace_symbols_fd(frames, backtrace(frames, 40), 2);
    if (sig) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

/* A library that exits under the operation: say where, as for a crash. */
static void on_exit_in_run(void)
{
    if (tl_scope)
        on_crash(0);
}

/* The exemption that accepts status st for this run's first failed
 * allocation, or NULL. */
static exemption *accepts(gr_status st)
{
    int site = atomic_load(&g_first_failed_site);
    exemption *e = site ? &exemptions[site - 1] : NULL;
    return e && !e->never_fail && e->allow == st ? e : NULL;
}

typedef struct {
    long runs, failed_allocs, errors, optional, problems;
    long by_status[8];
} tally;

#define MAX_PROBLEMS 25

static void problem(tally *t, const op *o, long n, int rest, int caller, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void problem(tally *t, const op *o, long n, int rest, int caller, const char *fmt, ...)
{
    if (t->problems++ >= MAX_PROBLEMS)
        return;
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    cr_log_error("%s, failing allocation %ld%s%s: %s", o->name, n,
                 rest ? " and every later one" : "", caller ? " (calling thread only)" : "", what);
}

/* "; the first failed allocation was called from lib(symbol+off)" */
static const char *first_failed(char *buf, size_t size)
{
    Dl_info di;
    const void *ra = atomic_load(&g_first_failed_ra);
    if (!ra || !dladdr(ra, &di) || !di.dli_fname) {
        buf[0] = '\0';
        return buf;
    }
    const void *base = di.dli_sname ? di.dli_saddr : di.dli_fbase;
    snprintf(buf, size, "; the first failed allocation was called from %s(%s+%#lx)", di.dli_fname,
             di.dli_sname ? di.dli_sname : "",
             (unsigned long)((const char *)ra - (const char *)base));
    return buf;
}

/* One run failing allocation n (0: none). Returns the allocations counted. */
static long run_once(const op *o, const char *want, long n, int rest, int caller, tally *t)
{
    void *out = NULL;
    gr_error err;
    memset(&err, 0, sizeof err);
    crash_n = n;
    crash_rest = rest;
    crash_caller = caller;
    atomic_store(&g_count, 0);
    atomic_store(&g_failed, 0);
    atomic_store(&g_first_failed_site, 0);
    atomic_store(&g_first_failed_ra, NULL);
    atomic_store(&g_seq, 0);
    atomic_store(&g_fail_at, n);
    atomic_store(&g_fail_rest, rest);
    atomic_store(&g_caller_only, caller);
    alarm(60); /* a run takes milliseconds: a hang is a bug, reported by on_crash */
    tl_scope = SCOPE_CALLER;
    gr_status st = o->run(o, &out, &err);
    tl_scope = SCOPE_NONE;
    alarm(0);
    long count = atomic_load(&g_count), failed = atomic_load(&g_failed);
    atomic_store(&g_fail_at, 0);
    t->runs++;
    t->failed_allocs += failed;
    if (st == GR_OK) {
        char *got = o->describe(o, out);
        if (strcmp(got, want)) {
            problem(t, o, n, rest, caller,
                    "succeeded with a wrong result (an error was swallowed)");
            if (getenv("ALLOC_FAIL_DIFF"))
                fprintf(stderr, "--- want\n%s\n--- got\n%s\n--- end\n", want, got);
        }
        t->optional += failed > 0;
        free(got);
    } else {
        t->errors++;
        t->by_status[(unsigned)st < 8 ? st : 0]++;
        if (!failed)
            problem(t, o, n, rest, caller, "failed (%s: %s) though no allocation failed",
                    gr_strerror(st), err.text);
        else if (st != GR_ENOMEM && accepts(st))
            atomic_fetch_add(&accepts(st)->hits, 1);
        else if (st != GR_ENOMEM) {
            char where[300];
            problem(t, o, n, rest, caller, "returned %s (%s), not GR_ENOMEM%s", gr_strerror(st),
                    err.text, first_failed(where, sizeof where));
        }
        if (out) {
            problem(t, o, n, rest, caller, "failed but set its result");
            out = NULL; /* maybe garbage: leak it rather than free it */
        }
    }
    o->release(out);
    if (atomic_load(&g_live)) {
        long seqs[8];
        size_t k = track_drain(seqs, 8);
        char list[200] = "";
        for (size_t i = 0; i < k && i < 8; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), " #%ld", seqs[i]);
        char where[300];
        problem(t, o, n, rest, caller, "%zu allocation%s leaked (tracked%s%s)%s", k,
                k == 1 ? "" : "s", list, k > 8 ? " ..." : "", first_failed(where, sizeof where));
    }
    cr_assert(!g_track_full, "%s: more live allocations than the tracker holds", o->name);
    return count;
}

static void sweep(op *o)
{
    hts_set_log_level(HTS_LOG_OFF);
    find_sites();
    crash_op = o->name;
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGABRT, on_crash);
    signal(SIGFPE, on_crash);
    signal(SIGILL, on_crash);
    signal(SIGALRM, on_crash);
    atexit(on_exit_in_run);
    const char *tr = getenv("ALLOC_FAIL_TRACE");
    g_trace_at = tr ? atol(tr) : 0;
    void *frame; /* the first backtrace() loads libgcc_s: not in a run */
    backtrace(&frame, 1);

    /* a run outside the window: the reference result, and one-time library
     * set-up (htslib's plugin table) out of the way */
    void *out = NULL;
    gr_error err;
    gr_status st = o->run(o, &out, &err);
    cr_assert_eq(st, GR_OK, "%s: %s", o->name, err.text);
    char *want = o->describe(o, out);
    o->release(out);

    tally t;
    memset(&t, 0, sizeof t);
    const char *only = getenv("ALLOC_FAIL_ONLY");
    if (only) { /* one injection, in whichever test --filter picks */
        long n = atol(only);
        run_once(o, want, n, strstr(only, "rest") != NULL, strstr(only, "caller") != NULL, &t);
        fprintf(stderr, "alloc_fail: %s, allocation %ld: %ld problems\n", o->name, n, t.problems);
        free(want);
        cr_assert_eq(t.problems, 0);
        return;
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long counts[2] = { 0, 0 };
    for (int caller = o->threaded; caller >= 0; caller--) {
        long count = run_once(o, want, 0, 0, caller, &t);
        cr_assert(count > 0, "%s: no allocation to fail", o->name);
        counts[caller] = count;
        /* runs with workers do not always allocate the same number of times */
        long upto = !caller && o->threaded ? count + count / 4 + 8 : count;
        long step = o->runs && upto > o->runs ? upto / o->runs : 1;
        for (int rest = 0; rest <= 1; rest++)
            for (long n = 1 + rest * step / 2; n <= upto && t.problems < MAX_PROBLEMS; n += step)
                run_once(o, want, n, rest, caller, &t);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    char statuses[200] = "";
    for (int s = 1; s < 8; s++)
        if (t.by_status[s])
            snprintf(statuses + strlen(statuses), sizeof statuses - strlen(statuses), " %s %ld",
                     gr_strerror((gr_status)s), t.by_status[s]);
    char exempted[300] = "";
    for (int i = 0; i < N_EXEMPTIONS; i++)
        if (atomic_load(&exemptions[i].hits))
            snprintf(exempted + strlen(exempted), sizeof exempted - strlen(exempted),
                     "; exemption %s: %ld %s", exemptions[i].name, atomic_load(&exemptions[i].hits),
                     exemptions[i].never_fail ? "allocations not failed" : "statuses accepted");
    fprintf(stderr,
            "alloc_fail: %-32s %6ld allocations%s%s, %6ld runs, %6ld failed allocations, "
            "%6ld errors (%s ), %ld succeeded past a failure, %.1f s%s\n",
            o->name, counts[0], o->threaded ? " (all threads)" : "", o->runs ? " (sampled)" : "",
            t.runs, t.failed_allocs, t.errors, statuses, t.optional, secs, exempted);
    free(want);
    cr_assert_eq(t.problems, 0, "%s: %ld problems (first %d logged above)", o->name, t.problems,
                 MAX_PROBLEMS);
}

/* ---- the operations, one test each ---- */

static char *read_whole(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char *s = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&s, &n);
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, k, m);
    fclose(m);
    fclose(f);
    return s;
}

static gr_model *load(const char *dir)
{
    gr_model *m = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load(dir, &m, &err), GR_OK, "%s: %s", dir, err.text);
    return m;
}

static void load_op(const char *dir, long runs)
{
    op o = { .run = run_load,
             .describe = describe_model,
             .release = release_model,
             .path = dir,
             .runs = runs };
    snprintf(o.name, sizeof o.name, "load %s", dir);
    sweep(&o);
}

#define LOAD_TEST(id, dir, runs)                                                                   \
    Test(alloc_fail, load_##id, .timeout = 1800)                                                   \
    {                                                                                              \
        load_op(dir, runs);                                                                        \
    }

LOAD_TEST(xgboost, "tests/fixtures/xgb_logitraw", 0)
LOAD_TEST(trees_dt, "tests/fixtures/sk_dt_clf", 0)
LOAD_TEST(trees_gb, "tests/fixtures/sk_gb_reg", 0)
LOAD_TEST(linear, "tests/fixtures/lin_lasso", 0)
LOAD_TEST(linear_demo, "models/cad-logit-demo", 0)
LOAD_TEST(pgs_plain, "tests/fixtures/pgs000001", 0)
LOAD_TEST(pgs_gzip, "tests/fixtures/pgs_synth", 0)
/* a PGS whose manifest names a reference population and a risk block:
 * models/cad-pgs-demo's (demo-reference) is 1.3 MB of JSON, too big to fail
 * every allocation of; this one's is 40 kB */
LOAD_TEST(pgs_reference, "tests/fixtures/pgs_tiny_ref", 0)
LOAD_TEST(xgboost_demo, "models/cad-xgb-demo", 400)

/* the number arrays read on three threads, and a bundle's features alone */
Test(alloc_fail, load_xgboost_threads, .timeout = 1800)
{
    op o = { .run = run_load,
             .describe = describe_model,
             .release = release_model,
             .path = "tests/fixtures/xgb_logitraw",
             .threaded = 1,
             .threads = 3 };
    snprintf(o.name, sizeof o.name, "load %s on 3 threads", o.path);
    sweep(&o);
}

Test(alloc_fail, load_features, .timeout = 1800)
{
    op o = { .run = run_load_features,
             .describe = describe_model,
             .release = release_model,
             .path = "tests/fixtures/xgb_logitraw" };
    snprintf(o.name, sizeof o.name, "load the features of %s", o.path);
    sweep(&o);
}
LOAD_TEST(trees_demo, "models/cad-rf-demo", 400)

Test(alloc_fail, modelset, .timeout = 1800)
{
    char tmpl[] = "/tmp/genorisk-allocfail-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    /* small bundles: the loaders are swept on their own above */
    static const char *const bundles[] = { "tests/fixtures/sk_dt_clf", "tests/fixtures/lin_lasso",
                                           "tests/fixtures/pgs_synth", "tests/fixtures/pgs000001" };
    char cwd[512], from[1100], to[700];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    for (size_t i = 0; i < 4; i++) {
        snprintf(from, sizeof from, "%s/%s", cwd, bundles[i]);
        snprintf(to, sizeof to, "%s/b%zu", tmpl, i);
        cr_assert_eq(symlink(from, to), 0);
    }
    snprintf(to, sizeof to, "%s/not-a-bundle", tmpl);
    cr_assert_eq(symlink(cwd, to), 0);
    op o = { .run = run_modelset,
             .describe = describe_modelset,
             .release = release_modelset,
             .path = tmpl };
    snprintf(o.name, sizeof o.name, "modelset");
    sweep(&o);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    cr_assert_eq(system(cmd), 0);
}

static void predict_op(const char *dir)
{
    op o = { .run = run_predict,
             .describe = describe_predicted,
             .release = release_predicted,
             .m = load(dir) };
    snprintf(o.name, sizeof o.name, "predict %s", dir);
    sweep(&o);
    gr_model_free(o.m);
}

#define PREDICT_TEST(id, dir)                                                                      \
    Test(alloc_fail, predict_##id, .timeout = 600)                                                 \
    {                                                                                              \
        predict_op(dir);                                                                           \
    }

PREDICT_TEST(xgboost, "tests/fixtures/xgb_logitraw")
PREDICT_TEST(trees, "tests/fixtures/sk_gb_reg")
PREDICT_TEST(linear, "tests/fixtures/lin_lasso")
PREDICT_TEST(pgs, "tests/fixtures/pgs_synth")

static void json_op(const char *dir, long top_k)
{
    char path[300];
    snprintf(path, sizeof path, "%s/example.json", dir);
    op o = { .run = run_json,
             .describe = describe_string,
             .release = release_string,
             .m = load(dir),
             .body = read_whole(path),
             .top_k = top_k };
    snprintf(o.name, sizeof o.name, "json %s top_k %ld", dir, top_k);
    sweep(&o);
    gr_model_free(o.m);
    free(o.body);
}

#define JSON_TEST(id, dir, top_k)                                                                  \
    Test(alloc_fail, json_##id, .timeout = 1800)                                                   \
    {                                                                                              \
        json_op(dir, top_k);                                                                       \
    }

JSON_TEST(xgboost, "models/cad-xgb-demo", -1)
JSON_TEST(xgboost_all, "models/cad-xgb-demo", 0)
JSON_TEST(xgboost_sorted, "models/cad-xgb-demo", 100)
JSON_TEST(trees, "models/cad-rf-demo", -1)
JSON_TEST(linear, "models/cad-logit-demo", -1)
JSON_TEST(pgs, "tests/fixtures/pgs_tiny_ref", -1) /* placed among ref_tiny, with risk */

/* group_by=locus: the groups of PGS000001's loci, made at the first
 * explanation of each scratch. */
Test(alloc_fail, json_group_by_locus, .timeout = 1800)
{
    op o = { .run = run_json,
             .describe = describe_string,
             .release = release_string,
             .m = load("tests/fixtures/pgs000001"),
             .top_k = 5,
             .group_by = GR_API_GROUP_LOCUS };
    size_t nf = gr_model_get_info(o.m)->n_features, len = 0;
    o.body = malloc(64 + 4 * nf);
    cr_assert_not_null(o.body);
    len += (size_t)sprintf(o.body, "{\"samples\":[{\"dosages\":[");
    for (size_t j = 0; j < nf; j++)
        len += (size_t)sprintf(o.body + len, "%s%zu", j ? "," : "", j % 3);
    sprintf(o.body + len, "]}]}");
    snprintf(o.name, sizeof o.name, "json group_by locus");
    sweep(&o);
    gr_model_free(o.m);
    free(o.body);
}

static const char *const some_samples[] = { "S3", "S1" };

static void vcf_op(const char *file, int threads, int predict, int some)
{
    char path[300];
    if (file[0] == '/')
        snprintf(path, sizeof path, "%s", file);
    else
        snprintf(path, sizeof path, "tests/fixtures/vcf/%s", file);
    op o = { .run = predict ? run_vcf_predict : run_vcf,
             .describe = predict ? describe_string : describe_vcf,
             .release = predict ? release_string : release_vcf,
             .path = path,
             .threads = threads,
             .threaded = threads > 0,
             .samples = some ? some_samples : NULL,
             .n_samples = some ? 2 : 0,
             .m = load("tests/fixtures/vcf/model") };
    snprintf(o.name, sizeof o.name, "%s %s threads %d%s", predict ? "vcf-predict" : "vcf",
             file[0] == '/' ? "gzip" : file, threads, some ? " samples S3,S1" : "");
    sweep(&o);
    gr_model_free(o.m);
}

#define VCF_TEST(id, file, threads)                                                                \
    Test(alloc_fail, vcf_##id, .timeout = 1800)                                                    \
    {                                                                                              \
        vcf_op(file, threads, 0, 0);                                                               \
    }

VCF_TEST(plain, "a.vcf", 0)
VCF_TEST(plain_threads, "a.vcf", 2)
VCF_TEST(bgzf, "b.vcf.gz", 0)
VCF_TEST(bgzf_threads, "b.vcf.gz", 2)
VCF_TEST(bcf, "c.bcf", 0)
VCF_TEST(bcf_threads, "c.bcf", 2)
VCF_TEST(ds, "ds.vcf.gz", 0)
VCF_TEST(gvcf, "gvcf.vcf", 0)

Test(alloc_fail, vcf_samples, .timeout = 1800)
{
    vcf_op("a.vcf", 0, 0, 1);
}

Test(alloc_fail, vcf_bcf_samples, .timeout = 1800)
{
    vcf_op("c.bcf", 0, 0, 1);
}

/* plain gzip (not BGZF): one deflate stream, inflated on the caller */
static void gzip_op(int threads)
{
    char tmpl[] = "/tmp/genorisk-allocfail-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    char path[300], cmd[700];
    snprintf(path, sizeof path, "%s/a.vcf.gz", tmpl);
    snprintf(cmd, sizeof cmd, "gzip -c tests/fixtures/vcf/a.vcf > '%s'", path);
    cr_assert_eq(system(cmd), 0);
    vcf_op(path, threads, 0, 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    cr_assert_eq(system(cmd), 0);
}

Test(alloc_fail, vcf_gzip, .timeout = 1800)
{
    gzip_op(0);
}

Test(alloc_fail, vcf_gzip_threads, .timeout = 1800)
{
    gzip_op(2);
}

Test(alloc_fail, vcf_predict, .timeout = 1800)
{
    vcf_op("a.vcf", 0, 1, 0);
}

/* pgs_tiny_ref (and its reference's projection variants) with pgs_synth,
 * over tiny.vcf's 30 records: every allocation of the read and the tables
 * is failed in turn, so the input is kept small. */
static void panel_op(int threads)
{
    op o = { .run = run_vcf_panel,
             .describe = describe_string,
             .release = release_string,
             .path = "tests/fixtures/pgs_tiny_ref/tiny.vcf",
             .threads = threads,
             .threaded = threads > 0,
             .m = load("tests/fixtures/pgs_tiny_ref") };
    panel_second = load("tests/fixtures/pgs_synth");
    snprintf(o.name, sizeof o.name, "vcf-panel tiny.vcf threads %d", threads);
    sweep(&o);
    gr_model_free(panel_second);
    gr_model_free(o.m);
}

Test(alloc_fail, vcf_panel, .timeout = 1800)
{
    panel_op(2); /* the reader and the table on two threads */
}

static const char *const report_sample[] = { "TINY-002" };

Test(alloc_fail, vcf_report, .timeout = 1800)
{
    op o = { .run = run_vcf_report,
             .describe = describe_report,
             .release = release_string,
             .path = "tests/fixtures/pgs_tiny_ref/tiny.vcf",
             .samples = report_sample,
             .n_samples = 1,
             .m = load("tests/fixtures/pgs_tiny_ref") };
    snprintf(o.name, sizeof o.name, "vcf-report tiny.vcf sample TINY-002 html");
    sweep(&o);
    gr_model_free(o.m);
}

Test(alloc_fail, adjust, .timeout = 1800)
{
    op o = { .run = run_adjust,
             .describe = describe_string,
             .release = release_string,
             .path = "tests/fixtures/pgs_tiny_ref/adjust.pcs",
             .scores = "tests/fixtures/pgs_tiny_ref/adjust_scores.txt",
             .m = load("tests/fixtures/pgs_tiny_ref") };
    snprintf(o.name, sizeof o.name, "adjust pgs_tiny_ref against ref_tiny");
    sweep(&o);
    gr_model_free(o.m);
}
