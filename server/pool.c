/* pool.c - see pool.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "server/pool.h"

typedef struct {
    gr_task_fn fn, cancel;
    gr_batch_fn batch; /* NULL: runs alone */
    const void *key;
    void *arg;
} task;

struct gr_pool {
    pthread_mutex_t mu;
    pthread_cond_t more;
    pthread_cond_t arrived; /* a task was queued: a worker waiting to batch looks */
    task *ring;
    size_t depth, head, count, busy;
    size_t batch_max; /* tasks run together at most; 1: no batching */
    long batch_wait_us;
    int batch_waiting;                   /* workers waiting for a batch to fill */
    unsigned long long batches, batched; /* runs of two or more, and their tasks */
    int stopping, n_threads;
    size_t workers; /* asked for; set before any thread starts */
    pthread_t *threads;
};

/* Moves every queued task like t (its key and batch function) out of the
 * ring into args[*n..max), keeping the order of the rest. Under p->mu. */
static void take_alike(gr_pool *p, const task *t, void **args, size_t *n, size_t max)
{
    size_t kept = 0;
    for (size_t i = 0; i < p->count; i++) {
        task u = p->ring[(p->head + i) % p->depth];
        if (*n < max && u.key == t->key && u.batch == t->batch)
            args[(*n)++] = u.arg;
        else
            p->ring[(p->head + kept++) % p->depth] = u;
    }
    p->count = kept;
}

/* Deadline for a bounded wait of us microseconds from now (CLOCK_REALTIME,
 * as pthread_cond_timedwait reads it). */
static struct timespec deadline_in(long us)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (us % 1000000) * 1000;
    ts.tv_sec += us / 1000000 + ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    return ts;
}

/* How many tasks t's batch may hold: batch_max, or, while other workers
 * are idle, this worker's share of t and those like it queued (the idle
 * ones get the rest, rather than wait while one worker holds them all).
 * Under p->mu. */
static size_t batch_share(const gr_pool *p, const task *t)
{
    size_t alike = 1;
    for (size_t i = 0; i < p->count; i++) {
        const task *u = &p->ring[(p->head + i) % p->depth];
        alike += u->key == t->key && u->batch == t->batch;
    }
    size_t idle = p->workers > p->busy ? p->workers - p->busy : 0;
    size_t share = (alike + idle) / (idle + 1); /* rounded up */
    return share < p->batch_max ? share : p->batch_max;
}

/* t's batch: the tasks like it already queued, up to batch_share in all;
 * when there are none and batch_wait_us is set, those that arrive within
 * that wait. args[0] is t's. Under p->mu (released while waiting). */
static size_t gather(gr_pool *p, const task *t, void **args)
{
    size_t n = 1;
    args[0] = t->arg;
    if (!t->batch || p->batch_max < 2)
        return n;
    take_alike(p, t, args, &n, batch_share(p, t));
    if (n > 1 || p->batch_wait_us <= 0)
        return n;
    struct timespec until = deadline_in(p->batch_wait_us);
    p->batch_waiting++;
    while (n < p->batch_max && !p->stopping) {
        take_alike(p, t, args, &n, p->batch_max);
        if (n > 1 || pthread_cond_timedwait(&p->arrived, &p->mu, &until) == ETIMEDOUT) {
            take_alike(p, t, args, &n, p->batch_max);
            break;
        }
    }
    p->batch_waiting--;
    return n;
}

static void *worker(void *arg)
{
    gr_pool *p = arg;
    void **args = calloc(p->batch_max, sizeof *args);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->count && !p->stopping)
            pthread_cond_wait(&p->more, &p->mu);
        if (!p->count)
            break; /* stopping, and nothing left to run */
        task t = p->ring[p->head];
        p->head = (p->head + 1) % p->depth;
        p->count--;
        p->busy++;
        size_t n = args ? gather(p, &t, args) : 1;
        if (n > 1) {
            p->batches++;
            p->batched += n;
        }
        pthread_mutex_unlock(&p->mu);
        if (n > 1)
            t.batch(args, n);
        else
            t.fn(t.arg);
        pthread_mutex_lock(&p->mu);
        p->busy--;
    }
    pthread_mutex_unlock(&p->mu);
    free(args);
    return NULL;
}

gr_pool *gr_pool_new_batching(int workers, int depth, size_t batch_max, long batch_wait_us)
{
    if (workers < 1 || depth < 1)
        return NULL;
    gr_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->ring = calloc((size_t)depth, sizeof *p->ring);
    p->threads = calloc((size_t)workers, sizeof *p->threads);
    p->depth = (size_t)depth;
    p->workers = (size_t)workers;
    p->batch_max = batch_max < 1 ? 1 : batch_max;
    p->batch_wait_us = batch_wait_us < 0 ? 0 : batch_wait_us;
    if (!p->ring || !p->threads || pthread_mutex_init(&p->mu, NULL) ||
        pthread_cond_init(&p->more, NULL) || pthread_cond_init(&p->arrived, NULL)) {
        free(p->ring);
        free(p->threads);
        free(p);
        return NULL;
    }
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p)) {
            gr_pool_free(p);
            return NULL;
        }
        p->n_threads++;
    }
    return p;
}

gr_pool *gr_pool_new(int workers, int depth)
{
    return gr_pool_new_batching(workers, depth, 1, 0);
}

int gr_pool_submit_batch(gr_pool *p, gr_task_fn fn, gr_batch_fn batch, gr_task_fn cancel, void *arg,
                         const void *key)
{
    pthread_mutex_lock(&p->mu);
    if (p->stopping || p->count == p->depth) {
        pthread_mutex_unlock(&p->mu);
        return -1;
    }
    p->ring[(p->head + p->count) % p->depth] = (task){ fn, cancel, key ? batch : NULL, key, arg };
    p->count++;
    pthread_cond_signal(&p->more);
    if (p->batch_waiting)
        pthread_cond_broadcast(&p->arrived);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int gr_pool_submit(gr_pool *p, gr_task_fn fn, gr_task_fn cancel, void *arg)
{
    return gr_pool_submit_batch(p, fn, NULL, cancel, arg, NULL);
}

size_t gr_pool_cancel_queued(gr_pool *p)
{
    size_t n = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        if (!p->count) {
            pthread_mutex_unlock(&p->mu);
            return n;
        }
        task t = p->ring[p->head];
        p->head = (p->head + 1) % p->depth;
        p->count--;
        pthread_mutex_unlock(&p->mu);
        if (t.cancel) /* outside the lock: it may resume connections */
            t.cancel(t.arg);
        n++;
    }
}

size_t gr_pool_queued(gr_pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->count;
    pthread_mutex_unlock(&p->mu);
    return n;
}

size_t gr_pool_busy(gr_pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->busy;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void gr_pool_batches(gr_pool *p, unsigned long long *batches, unsigned long long *tasks)
{
    pthread_mutex_lock(&p->mu);
    *batches = p->batches;
    *tasks = p->batched;
    pthread_mutex_unlock(&p->mu);
}

void gr_pool_free(gr_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->more);
    pthread_cond_broadcast(&p->arrived);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->arrived);
    pthread_cond_destroy(&p->more);
    pthread_mutex_destroy(&p->mu);
    free(p->ring);
    free(p->threads);
    free(p);
}
