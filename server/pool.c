/* pool.c - see pool.h. */
#include <pthread.h>
#include <stdlib.h>

#include "server/pool.h"

typedef struct {
    gr_task_fn fn, cancel;
    void *arg;
} task;

struct gr_pool {
    pthread_mutex_t mu;
    pthread_cond_t more;
    task *ring;
    size_t depth, head, count, busy;
    int stopping, n_threads;
    pthread_t *threads;
};

static void *worker(void *arg)
{
    gr_pool *p = arg;
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
        pthread_mutex_unlock(&p->mu);
        t.fn(t.arg);
        pthread_mutex_lock(&p->mu);
        p->busy--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

gr_pool *gr_pool_new(int workers, int depth)
{
    if (workers < 1 || depth < 1)
        return NULL;
    gr_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->ring = calloc((size_t)depth, sizeof *p->ring);
    p->threads = calloc((size_t)workers, sizeof *p->threads);
    p->depth = (size_t)depth;
    if (!p->ring || !p->threads || pthread_mutex_init(&p->mu, NULL) ||
        pthread_cond_init(&p->more, NULL)) {
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

int gr_pool_submit(gr_pool *p, gr_task_fn fn, gr_task_fn cancel, void *arg)
{
    pthread_mutex_lock(&p->mu);
    if (p->stopping || p->count == p->depth) {
        pthread_mutex_unlock(&p->mu);
        return -1;
    }
    p->ring[(p->head + p->count) % p->depth] = (task){ fn, cancel, arg };
    p->count++;
    pthread_cond_signal(&p->more);
    pthread_mutex_unlock(&p->mu);
    return 0;
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

void gr_pool_free(gr_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->more);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->more);
    pthread_mutex_destroy(&p->mu);
    free(p->ring);
    free(p->threads);
    free(p);
}
