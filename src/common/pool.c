/* Thread pool: workers sleep on a condition variable between tasks. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>

#include "pool.h"

struct jalad_pool {
	int n;                 /* threads including the caller */
	pthread_t *threads;    /* (n - 1) workers */
	pthread_mutex_t mu;
	pthread_cond_t start, done;
	jalad_task_fn fn;
	void *ctx;
	uint64_t generation;   /* bumped for each task */
	int pending;           /* workers still running the current task */
	int quit;
};

struct worker_arg {
	struct jalad_pool *pool;
	int ith;
};

static void *worker_main(void *p)
{
	struct worker_arg *wa = p;
	struct jalad_pool *pool = wa->pool;
	int ith = wa->ith;
	uint64_t seen = 0;
	free(wa);
	pthread_mutex_lock(&pool->mu);
	for (;;) {
		while (!pool->quit && pool->generation == seen)
			pthread_cond_wait(&pool->start, &pool->mu);
		if (pool->quit)
			break;
		seen = pool->generation;
		jalad_task_fn fn = pool->fn;
		void *ctx = pool->ctx;
		pthread_mutex_unlock(&pool->mu);
		fn(ctx, ith, pool->n);
		pthread_mutex_lock(&pool->mu);
		if (--pool->pending == 0)
			pthread_cond_signal(&pool->done);
	}
	pthread_mutex_unlock(&pool->mu);
	return NULL;
}

enum jalad_status jalad_pool_create(int nthreads, struct jalad_pool **out)
{
	struct jalad_pool *pool;
	int started = 0;
	*out = NULL;
	JALAD_RETURN_IF(nthreads < 1 || nthreads > 1024, JALAD_ERR_INVALID_ARG,
			"thread count %d out of range 1..1024", nthreads);
	pool = calloc(1, sizeof *pool);
	JALAD_RETURN_IF(!pool, JALAD_ERR_NOMEM, "thread pool");
	pool->n = nthreads;
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->start, NULL);
	pthread_cond_init(&pool->done, NULL);
	if (nthreads > 1) {
		pool->threads = calloc((size_t)nthreads - 1, sizeof *pool->threads);
		if (!pool->threads)
			goto fail;
		for (int i = 1; i < nthreads; i++) {
			struct worker_arg *wa = malloc(sizeof *wa);
			if (!wa)
				goto fail;
			wa->pool = pool;
			wa->ith = i;
			if (pthread_create(&pool->threads[i - 1], NULL, worker_main, wa) != 0) {
				free(wa);
				goto fail;
			}
			started++;
		}
	}
	*out = pool;
	return JALAD_OK;
fail:
	pthread_mutex_lock(&pool->mu);
	pool->quit = 1;
	pthread_cond_broadcast(&pool->start);
	pthread_mutex_unlock(&pool->mu);
	for (int i = 0; i < started; i++)
		pthread_join(pool->threads[i], NULL);
	free(pool->threads);
	free(pool);
	return jalad_fail(JALAD_ERR_NOMEM, "cannot start %d threads", nthreads);
}

void jalad_pool_free(struct jalad_pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&pool->mu);
	pool->quit = 1;
	pthread_cond_broadcast(&pool->start);
	pthread_mutex_unlock(&pool->mu);
	for (int i = 0; i + 1 < pool->n; i++)
		pthread_join(pool->threads[i], NULL);
	free(pool->threads);
	pthread_mutex_destroy(&pool->mu);
	pthread_cond_destroy(&pool->start);
	pthread_cond_destroy(&pool->done);
	free(pool);
}

int jalad_pool_size(const struct jalad_pool *pool)
{
	return pool ? pool->n : 1;
}

void jalad_pool_run(struct jalad_pool *pool, jalad_task_fn fn, void *ctx)
{
	if (!pool || pool->n == 1) {
		fn(ctx, 0, 1);
		return;
	}
	pthread_mutex_lock(&pool->mu);
	pool->fn = fn;
	pool->ctx = ctx;
	pool->pending = pool->n - 1;
	pool->generation++;
	pthread_cond_broadcast(&pool->start);
	pthread_mutex_unlock(&pool->mu);
	fn(ctx, 0, pool->n);
	pthread_mutex_lock(&pool->mu);
	while (pool->pending > 0)
		pthread_cond_wait(&pool->done, &pool->mu);
	pthread_mutex_unlock(&pool->mu);
}
