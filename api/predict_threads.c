/* predict_threads.c - one job's samples on several threads: the samples
 * are cut into chunks, each chunk's samples are shared out among the
 * threads (every thread explaining its own in batches), and each chunk is
 * written when it is done, so that memory holds one chunk's results
 * whatever the sample count. The CLI and the daemon both answer a
 * one-model JSON request this way. */
#include <pthread.h>
#include <stdlib.h>

#include "api/predict_run.h"

/* Samples scored between two writes. */
#define CHUNK 256

/* One thread's share of a chunk: first, first + step, ... */
typedef struct {
    const gr_api_job *job;
    gr_buf *results;
    size_t first, step;
    gr_status st;
    gr_error err;
} share;

static void *run_share(void *arg)
{
    share *sh = arg;
    sh->st = gr_api_predict_range(sh->job, sh->first, sh->step, sh->results, &sh->err);
    return NULL;
}

/* Runs the job's window on `threads` threads (the caller's the first)
 * into results; returns the status of the first sample that failed, its
 * error in *err. */
static gr_status run_threads(const gr_api_job *job, size_t threads, gr_buf *results, gr_error *err)
{
    share *sh = calloc(threads, sizeof *sh);
    pthread_t *tids = calloc(threads, sizeof *tids);
    char *started = calloc(threads, 1);
    gr_status st = GR_OK;
    if (!sh || !tids || !started) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    for (size_t t = 0; t < threads; t++) {
        sh[t] = (share){ job, results, t, threads, GR_OK, { 0 } };
        started[t] = t > 0 && !pthread_create(&tids[t], NULL, run_share, &sh[t]);
    }
    for (size_t t = 0; t < threads; t++) {
        if (started[t])
            pthread_join(tids[t], NULL);
        else
            run_share(&sh[t]); /* the first share, or one no thread could take */
    }
    /* a thread stops at its first failure and leaves that slot empty: the
     * first empty slot of the window is the first sample that failed (or
     * the first a stop left undone) */
    for (size_t i = job->lo; i < job->hi; i++)
        if (!results[i].len) {
            share *f = &sh[(i - job->lo) % threads];
            st = f->st;
            if (st && err)
                *err = f->err;
            if (!st && !(job->stop && job->stop(job->stop_arg)))
                st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
            else if (!st)
                st = gr_error_set(err, GR_EIO, NULL, 0, NULL, "stopped");
            break;
        }

fail:
    free(sh);
    free(tids);
    free(started);
    return st;
}

gr_status gr_api_predict_write_threads(const gr_api_job *job, int pretty, int threads,
                                       json_t *extra, gr_api_write_fn write, void *arg,
                                       gr_error *err)
{
    size_t n = gr_api_job_samples(job);
    if (threads <= 1 || n <= 1)
        return gr_api_predict_write(job, pretty, extra, write, arg, err);
    gr_api_job chunk = *job;
    gr_api_writer w;
    gr_buf *results = calloc(n, sizeof *results);
    /* the imputation values (a pass over every sample under impute=cohort)
     * made once, for every chunk's threads */
    gr_api_scorer *like = gr_api_scorer_new(job, NULL);
    chunk.like = like;
    chunk.pretty = pretty; /* the results' layout: the document's */
    gr_status st = results && like ? gr_api_write_begin(&w, job, pretty, write, arg, err)
                                   : gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    for (size_t lo = 0; !st && lo < n; lo += CHUNK) {
        chunk.lo = lo;
        chunk.hi = lo + CHUNK < n ? lo + CHUNK : n;
        size_t t = (size_t)threads < chunk.hi - lo ? (size_t)threads : chunk.hi - lo;
        if (!(st = run_threads(&chunk, t, results, err)))
            st = gr_api_write_results(&w, results, lo, chunk.hi, err);
    }
    if (!st)
        st = gr_api_write_end(&w, extra, err);
    for (size_t i = 0; results && i < n; i++)
        free(results[i].s);
    free(results);
    gr_api_scorer_free(like);
    return st;
}
