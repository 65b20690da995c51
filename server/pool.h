/* pool.h - a fixed set of worker threads fed by a bounded queue. Submitting
 * to a full queue fails at once, so callers can answer 503 instead of
 * waiting. Tasks submitted under one batch key may be run together (dynamic
 * batching): a worker that takes one also takes the others like it already
 * queued, up to a maximum, and optionally waits a bounded time for more. */
#ifndef GR_POOL_H
#define GR_POOL_H

#include <stddef.h>

typedef struct gr_pool gr_pool;
typedef void (*gr_task_fn)(void *arg);
/* Runs the tasks of args[0..n), n >= 2, together: each arg as its own task
 * function would have, in one call. */
typedef void (*gr_batch_fn)(void **args, size_t n);

/* Returns a new pool with `workers` threads and room for `depth` queued
 * tasks, or NULL when threads or memory cannot be had. */
gr_pool *gr_pool_new(int workers, int depth);
/* gr_pool_new with batching: at most batch_max tasks run together (1: never
 * batched), and a worker that takes a batchable task with none like it
 * queued waits up to batch_wait_us microseconds for some (0: no wait). */
gr_pool *gr_pool_new_batching(int workers, int depth, size_t batch_max, long batch_wait_us);

/* Queues fn(arg); cancel(arg) runs instead if the task is dropped by
 * gr_pool_cancel_queued. Returns 0, or -1 when the queue is full or the pool
 * stopping. */
int gr_pool_submit(gr_pool *p, gr_task_fn fn, gr_task_fn cancel, void *arg);
/* gr_pool_submit for a task that may run with others queued under the same
 * key (non-NULL; NULL: alone) and batch function: batch(args, n) on them
 * all, or fn(arg) when the worker finds none. Each counts in the queue's
 * depth; cancel is per task. */
int gr_pool_submit_batch(gr_pool *p, gr_task_fn fn, gr_batch_fn batch, gr_task_fn cancel, void *arg,
                         const void *key);

/* Drops every task not yet started, calling its cancel function. Returns how
 * many were dropped. Tasks already running carry on. */
size_t gr_pool_cancel_queued(gr_pool *p);

/* Gauges for /metrics. */
size_t gr_pool_queued(gr_pool *p);
size_t gr_pool_busy(gr_pool *p);
/* Batches run (two tasks or more together) and the tasks in them. */
void gr_pool_batches(gr_pool *p, unsigned long long *batches, unsigned long long *tasks);

/* Runs every queued task, joins the threads and frees the pool. NULL is allowed. */
void gr_pool_free(gr_pool *p);

#endif
