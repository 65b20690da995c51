/* pool.h - a fixed set of worker threads fed by a bounded queue. Submitting
 * to a full queue fails at once, so callers can answer 503 instead of
 * waiting. */
#ifndef GR_POOL_H
#define GR_POOL_H

#include <stddef.h>

typedef struct gr_pool gr_pool;
typedef void (*gr_task_fn)(void *arg);

/* Returns a new pool with `workers` threads and room for `depth` queued
 * tasks, or NULL when threads or memory cannot be had. */
gr_pool *gr_pool_new(int workers, int depth);

/* Queues fn(arg); cancel(arg) runs instead if the task is dropped by
 * gr_pool_cancel_queued. Returns 0, or -1 when the queue is full or the pool
 * stopping. */
int gr_pool_submit(gr_pool *p, gr_task_fn fn, gr_task_fn cancel, void *arg);

/* Drops every task not yet started, calling its cancel function. Returns how
 * many were dropped. Tasks already running carry on. */
size_t gr_pool_cancel_queued(gr_pool *p);

/* Gauges for /metrics. */
size_t gr_pool_queued(gr_pool *p);
size_t gr_pool_busy(gr_pool *p);

/* Runs every queued task, joins the threads and frees the pool. NULL is allowed. */
void gr_pool_free(gr_pool *p);

#endif
