/* test_pool.c - the worker pool: tasks run, a full queue refuses at once,
 * and freeing runs what was queued. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
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
