/* test_pool.c - the worker pool: tasks run, a full queue refuses at once,
 * and freeing runs what was queued. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "server/pool.h"

static atomic_int ran;
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void count(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void blocked(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate); /* held by the test until it lets go */
    pthread_mutex_unlock(&gate);
    atomic_fetch_add(&ran, 1);
}

Test(pool, runs_every_task)
{
    atomic_store(&ran, 0);
    gr_pool *p = gr_pool_new(3, 100);
    cr_assert_not_null(p);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(gr_pool_submit(p, count, NULL, NULL), 0);
    gr_pool_free(p);
    cr_assert_eq(atomic_load(&ran), 100);
}

Test(pool, full_queue_refuses_immediately)
{
    atomic_store(&ran, 0);
    pthread_mutex_lock(&gate);
    gr_pool *p = gr_pool_new(1, 2);
    cr_assert_eq(gr_pool_submit(p, blocked, NULL, NULL), 0);
    for (int i = 0; i < 200 && gr_pool_busy(p) != 1; i++)
        usleep(1000); /* until the worker holds the first task */
    cr_assert_eq(gr_pool_busy(p), 1);
    cr_assert_eq(gr_pool_submit(p, blocked, NULL, NULL), 0);
    cr_assert_eq(gr_pool_submit(p, blocked, NULL, NULL), 0);
    cr_assert_eq(gr_pool_queued(p), 2);
    cr_assert_eq(gr_pool_submit(p, blocked, NULL, NULL), -1);
    pthread_mutex_unlock(&gate);
    gr_pool_free(p);
    cr_assert_eq(atomic_load(&ran), 3);
}

Test(pool, bad_sizes)
{
    cr_assert_null(gr_pool_new(0, 1));
    cr_assert_null(gr_pool_new(1, 0));
    gr_pool_free(NULL);
}

static atomic_int cancelled;
static void on_cancel(void *arg)
{
    (void)arg;
    atomic_fetch_add(&cancelled, 1);
}

Test(pool, cancel_queued_runs_cancel_instead)
{
    atomic_store(&ran, 0);
    atomic_store(&cancelled, 0);
    pthread_mutex_lock(&gate);
    gr_pool *p = gr_pool_new(1, 4);
    cr_assert_eq(gr_pool_submit(p, blocked, on_cancel, NULL), 0);
    for (int i = 0; i < 200 && gr_pool_busy(p) != 1; i++)
        usleep(1000);
    cr_assert_eq(gr_pool_submit(p, blocked, on_cancel, NULL), 0);
    cr_assert_eq(gr_pool_submit(p, blocked, on_cancel, NULL), 0);
    cr_assert_eq(gr_pool_cancel_queued(p), 2);
    cr_assert_eq(gr_pool_queued(p), 0);
    pthread_mutex_unlock(&gate);
    gr_pool_free(p);
    cr_assert_eq(atomic_load(&ran), 1);
    cr_assert_eq(atomic_load(&cancelled), 2);
}

/* Dynamic batching: what each run got, in order. */
static pthread_mutex_t runs_mu = PTHREAD_MUTEX_INITIALIZER;
static int runs[32][9]; /* runs[i][0]: how many; then the args (ints) */
static int n_runs;

static void record(void **args, size_t n)
{
    pthread_mutex_lock(&runs_mu);
    runs[n_runs][0] = (int)n;
    for (size_t i = 0; i < n; i++)
        runs[n_runs][i + 1] = (int)(intptr_t)args[i];
    n_runs++;
    pthread_mutex_unlock(&runs_mu);
}

static void record_one(void *arg)
{
    record(&arg, 1);
}

static void record_batch(void **args, size_t n)
{
    cr_assert(n >= 2, "a batch of %zu", n);
    record(args, n);
}

Test(pool, batches_take_queued_tasks_of_one_key_in_order)
{
    static const int key_a, key_b;
    n_runs = 0;
    atomic_store(&ran, 0);
    pthread_mutex_lock(&gate);
    gr_pool *p = gr_pool_new_batching(1, 16, 3, 0);
    cr_assert_eq(gr_pool_submit(p, blocked, NULL, NULL), 0); /* holds the one worker */
    for (int i = 0; i < 200 && gr_pool_busy(p) != 1; i++)
        usleep(1000);
    /* queued: a1 b2 a3 a4 a5 (plain 6) a7 */
    const void *keys[] = { &key_a, &key_b, &key_a, &key_a, &key_a, NULL, &key_a };
    for (int i = 0; i < 7; i++)
        cr_assert_eq(gr_pool_submit_batch(p, record_one, record_batch, NULL,
                                          (void *)(intptr_t)(i + 1), keys[i]),
                     0);
    pthread_mutex_unlock(&gate);
    gr_pool_free(p);
    /* a1 a3 a4 (at most 3), then b2 alone, a5 a7 together, 6 alone */
    int want[][4] = { { 3, 1, 3, 4 }, { 1, 2 }, { 2, 5, 7 }, { 1, 6 } };
    cr_assert_eq(n_runs, 4);
    for (int r = 0; r < 4; r++)
        for (int i = 0; i <= want[r][0]; i++)
            cr_assert_eq(runs[r][i], want[r][i], "run %d, slot %d", r, i);
    cr_assert_eq(atomic_load(&ran), 1);
}

Test(pool, batching_off_runs_each_alone_and_counts_no_batch)
{
    static const int key;
    n_runs = 0;
    pthread_mutex_lock(&gate);
    gr_pool *p = gr_pool_new_batching(1, 16, 1, 0);
    cr_assert_eq(gr_pool_submit(p, blocked, NULL, NULL), 0);
    for (int i = 0; i < 200 && gr_pool_busy(p) != 1; i++)
        usleep(1000);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(
            gr_pool_submit_batch(p, record_one, record_batch, NULL, (void *)(intptr_t)i, &key), 0);
    pthread_mutex_unlock(&gate);
    for (int i = 0; i < 2000 && gr_pool_queued(p) + gr_pool_busy(p) > 0; i++)
        usleep(1000);
    unsigned long long batches = 9, tasks = 9;
    gr_pool_batches(p, &batches, &tasks);
    gr_pool_free(p);
    cr_assert_eq(n_runs, 4);
    cr_assert_eq(batches, 0);
    cr_assert_eq(tasks, 0);
}

/* A worker that takes a lone batchable task waits up to batch_wait_us for
 * another; one submitted meanwhile joins its batch. */
static gr_pool *wait_pool;
static const int wait_key = 0;
static void *second_task(void *arg)
{
    (void)arg;
    usleep(20000); /* well inside the 2 s wait */
    gr_pool_submit_batch(wait_pool, record_one, record_batch, NULL, (void *)(intptr_t)2, &wait_key);
    return NULL;
}

Test(pool, a_bounded_wait_lets_a_batch_fill)
{
    n_runs = 0;
    wait_pool = gr_pool_new_batching(1, 16, 4, 2000000);
    pthread_t t;
    pthread_create(&t, NULL, second_task, NULL);
    cr_assert_eq(gr_pool_submit_batch(wait_pool, record_one, record_batch, NULL,
                                      (void *)(intptr_t)1, &wait_key),
                 0);
    pthread_join(t, NULL);
    for (int i = 0; i < 5000 && n_runs == 0; i++)
        usleep(1000);
    unsigned long long batches, tasks;
    gr_pool_batches(wait_pool, &batches, &tasks);
    gr_pool_free(wait_pool);
    cr_assert_eq(n_runs, 1);
    cr_assert_eq(runs[0][0], 2);
    cr_assert_eq(runs[0][1], 1);
    cr_assert_eq(runs[0][2], 2);
    cr_assert_eq(batches, 1);
    cr_assert_eq(tasks, 2);
}
