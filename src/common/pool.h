/*
 * A fixed thread pool that runs one parallel task at a time: every worker
 * (and the caller) runs fn(ctx, ith, nth) for its own ith in [0, nth).
 * Kernels split their work with dr = (nr + nth - 1) / nth.
 * One pool per session; jalad_pool_run() must not be called concurrently
 * on the same pool.
 */
#ifndef JALAD_POOL_H
#define JALAD_POOL_H

#include "common_impl.h"

struct jalad_pool;
typedef void (*jalad_task_fn)(void *ctx, int ith, int nth);

/* nthreads >= 1 (1 means the caller only, no threads are started). */
enum jalad_status jalad_pool_create(int nthreads, struct jalad_pool **out);
void jalad_pool_free(struct jalad_pool *pool);
int jalad_pool_size(const struct jalad_pool *pool);
/* Runs fn on all threads and returns when all are done. pool may be NULL
 * (runs fn(ctx, 0, 1) on the caller). */
void jalad_pool_run(struct jalad_pool *pool, jalad_task_fn fn, void *ctx);

#endif /* JALAD_POOL_H */
