/* predict_threads.c - one job's samples on several threads: the samples
 * are cut into chunks of CHUNK; the threads claim a chunk's samples GROUP
 * at a time (each group explained in one batched pass), and while the
 * helpers start on a chunk the caller writes the one before, then claims
 * groups too. Memory holds two chunks' results whatever the sample count,
 * and writing costs no thread time. Each thread's part keeps one working
 * memory (a scratch) for every group it claims, in every chunk: made per
 * group, it was 400 kB allocated and faulted in for each eight samples.
 * The CLI and the daemon both answer a one-model JSON request this way. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "api/predict_internal.h"

/* Samples scored between two writes, and claimed at a time. */
#define CHUNK 256
#define GROUP GR_BATCH_MAX
#define MAX_THREADS 64 /* more than this would only wait on each other's claims */

/* A chunk being scored: [lo, hi) of the job, the next unclaimed sample. */
typedef struct {
    const gr_api_job *job;
    gr_buf *results;
    size_t lo, hi;
    atomic_size_t next;
} chunk;

/* One thread's part of a chunk: the first sample it failed on (SIZE_MAX:
 * none); its scratch lasts from chunk to chunk. */
typedef struct {
    chunk *c;
    size_t failed;
    gr_status st;
    gr_error err;
    scratch sc;
    int ready; /* sc is initialised */
} share;

static void *claim(void *arg)
{
    share *sh = arg;
    chunk *c = sh->c;
    size_t b;
    while ((b = atomic_fetch_add(&c->next, GROUP)) < c->hi) {
        gr_api_job w = *c->job;
        w.lo = b;
        w.hi = b + GROUP < c->hi ? b + GROUP : c->hi;
        gr_error e;
        if (!sh->ready)
            sh->ready = gr_api_scratch_init(&sh->sc, c->job, c->job->like->sc, 1);
        gr_status st = sh->ready ? gr_api_predict_range_in(&w, &sh->sc, 0, 1, c->results, &e)
                                 : gr_error_set(&e, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        for (size_t i = b; st && i < w.hi; i++)
            if (!c->results[i].len) { /* the range stops at its failing sample */
                sh->failed = i;
                sh->st = st;
                sh->err = e;
                break;
            }
        if (st || (c->job->stop && c->job->stop(c->job->stop_arg)))
            break;
    }
    return NULL;
}

/* The chunk's outcome once every thread is done: the status of its first
 * sample left empty (failed, or left by a stop), its error in *err. */
static gr_status outcome(const chunk *c, const share *sh, size_t threads, gr_error *err)
{
    for (size_t i = c->lo; i < c->hi; i++) {
        if (c->results[i].len)
            continue;
        for (size_t t = 0; t < threads; t++)
            if (sh[t].failed == i) {
                if (err)
                    *err = sh[t].err;
                return sh[t].st;
            }
        if (c->job->stop && c->job->stop(c->job->stop_arg))
            return gr_error_set(err, GR_EIO, NULL, 0, NULL, "stopped");
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    }
    return GR_OK;
}

/* Scores chunk c on `threads` threads, the caller among them once it has
 * written results [wlo, whi) of the chunk before (whi == wlo: none; a
 * failed write is *wst). */
static gr_status score_chunk(chunk *c, share *sh, size_t threads, gr_api_writer *w, size_t wlo,
                             size_t whi, gr_status *wst, gr_error *err)
{
    pthread_t tids[MAX_THREADS];
    char started[MAX_THREADS] = { 0 };
    for (size_t t = 0; t < threads; t++) {
        sh[t].c = c;
        sh[t].failed = SIZE_MAX;
        sh[t].st = GR_OK;
        started[t] = t > 0 && !pthread_create(&tids[t], NULL, claim, &sh[t]);
    }
    if (whi > wlo)
        *wst = gr_api_write_results(w, c->results, wlo, whi, err);
    for (size_t t = 0; t < threads; t++)
        if (!started[t])
            claim(&sh[t]); /* the caller's part, or one no thread could take */
    for (size_t t = 1; t < threads; t++)
        if (started[t])
            pthread_join(tids[t], NULL);
    return outcome(c, sh, threads, *wst ? NULL : err);
}

gr_status gr_api_predict_write_threads(const gr_api_job *job, int pretty, int threads,
                                       json_t *extra, gr_api_write_fn write, void *arg,
                                       gr_error *err)
{
    size_t n = gr_api_job_samples(job);
    if (threads <= 1 || n <= 1)
        return gr_api_predict_write(job, pretty, extra, write, arg, err);
    gr_api_job base = *job;
    gr_api_writer w;
    size_t nt = threads < MAX_THREADS ? (size_t)threads : MAX_THREADS;
    gr_buf *results = calloc(n, sizeof *results);
    share *sh = calloc(nt, sizeof *sh);
    /* the imputation values (a pass over every sample under impute=cohort)
     * made once, for every group */
    gr_api_scorer *like = gr_api_scorer_new(job, NULL);
    base.like = like;
    base.pretty = pretty; /* the results' layout: the document's */
    gr_status st = results && like && sh
                       ? gr_api_write_begin(&w, job, pretty, write, arg, err)
                       : gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    gr_status wst = GR_OK;
    size_t done = 0; /* results [0, done) are written */
    for (size_t lo = 0; !st && !wst && lo < n; lo += CHUNK) {
        chunk c;
        c.job = &base;
        c.results = results;
        c.lo = lo;
        c.hi = lo + CHUNK < n ? lo + CHUNK : n;
        atomic_init(&c.next, lo);
        st = score_chunk(&c, sh, nt, &w, done, lo, &wst, err);
        done = lo; /* written (and freed) while this chunk was scored */
        if (!st && !wst && c.hi == n)
            wst = gr_api_write_results(&w, results, lo, n, err);
    }
    if (!st)
        st = wst;
    if (!st)
        st = gr_api_write_end(&w, extra, err);
    for (size_t i = 0; results && i < n; i++)
        free(results[i].s);
    free(results);
    for (size_t t = 0; sh && t < nt; t++)
        gr_api_scratch_free(&sh[t].sc);
    free(sh);
    gr_api_scorer_free(like);
    return st;
}
