/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rte_ring peer for the libbulk bodies: the same shapes (round trip, burst
 * there and back) over two SPSC rte_rings of the same size as the channel's
 * descriptor queue, in one thread.
 *
 * Built alone with libdpdk's compile flags (they add -march and -include
 * rte_config.h), so that the rest of bulk-gbench is compiled as the library
 * is. The rings live in plain aligned memory and are set up with
 * rte_ring_init(): enqueue and dequeue are header inlines and need no EAL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_ring.h>

#include "bodies.h"

static struct rte_ring *
bb_ring_make(const char *name, struct bb_ctx *ctx)
{
	ssize_t sz = rte_ring_get_memsize(BB_QUEUE_SIZE);
	struct rte_ring *r;
	int ret;

	if (sz < 0) {
		ctx->err = (int)sz;
		snprintf(ctx->errmsg, sizeof(ctx->errmsg), "rte_ring_get_memsize: %d", (int)sz);
		return NULL;
	}
	/* aligned_alloc wants a size that is a multiple of the alignment. */
	sz = (sz + RTE_CACHE_LINE_SIZE - 1) & ~(ssize_t)(RTE_CACHE_LINE_SIZE - 1);
	r = aligned_alloc(RTE_CACHE_LINE_SIZE, (size_t)sz);
	if (r == NULL) {
		ctx->err = -ENOMEM;
		snprintf(ctx->errmsg, sizeof(ctx->errmsg), "aligned_alloc of a ring");
		return NULL;
	}
	ret = rte_ring_init(r, name, BB_QUEUE_SIZE, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (ret < 0) {
		free(r);
		ctx->err = ret;
		snprintf(ctx->errmsg, sizeof(ctx->errmsg), "rte_ring_init: %d", ret);
		return NULL;
	}
	return r;
}

void
bb_ring_setup(struct bb_ctx *ctx, const struct bb_args *args)
{
	unsigned i;

	ctx->burst = args->burst;
	ctx->ring_a = bb_ring_make("bb_a", ctx);
	if (ctx->ring_a == NULL)
		return;
	ctx->ring_b = bb_ring_make("bb_b", ctx);
	if (ctx->ring_b == NULL)
		return;
	/* Any non-NULL pointers do: the rings carry them, nobody follows them. */
	for (i = 0; i < BB_BURST_MAX; i++)
		ctx->objs[i] = &ctx->objs[i];
}

static __attribute__((noinline, cold)) uint64_t
bb_ring_fail(struct bb_ctx *ctx, const char *what)
{
	ctx->err = -EPROTO;
	snprintf(ctx->errmsg, sizeof(ctx->errmsg), "%s came up short", what);
	return 0;
}

/*
 * Round trip of one pointer, as libbulk's move + pass of one buffer: into A,
 * out of A, into B, out of B. rte_ring_enqueue()/dequeue() dispatch on the
 * ring's SP/SC flags, as a generic application would call them.
 */
uint64_t
bb_ring_rtt_run(struct bb_ctx *ctx, uint64_t iters)
{
	struct rte_ring *a = ctx->ring_a, *b = ctx->ring_b;
	void *obj = ctx->objs[0];
	uint64_t i;

	for (i = 0; i < iters; i++) {
		if (unlikely(rte_ring_enqueue(a, obj) != 0))
			return bb_ring_fail(ctx, "enqueue A");
		if (unlikely(rte_ring_dequeue(a, &obj) != 0))
			return bb_ring_fail(ctx, "dequeue A");
		if (unlikely(rte_ring_enqueue(b, obj) != 0))
			return bb_ring_fail(ctx, "enqueue B");
		if (unlikely(rte_ring_dequeue(b, &obj) != 0))
			return bb_ring_fail(ctx, "dequeue B");
	}
	ctx->objs[0] = obj;
	return iters;
}

/* A burst there and back, with the burst (0..n) calls libbulk's semantics match. */
uint64_t
bb_ring_burst_run(struct bb_ctx *ctx, uint64_t iters)
{
	struct rte_ring *a = ctx->ring_a, *b = ctx->ring_b;
	void **objs = ctx->objs;
	const unsigned n = ctx->burst;
	uint64_t i;

	for (i = 0; i < iters; i++) {
		if (unlikely(rte_ring_enqueue_burst(a, objs, n, NULL) != n))
			return bb_ring_fail(ctx, "enqueue_burst A");
		if (unlikely(rte_ring_dequeue_burst(a, objs, n, NULL) != n))
			return bb_ring_fail(ctx, "dequeue_burst A");
		if (unlikely(rte_ring_enqueue_burst(b, objs, n, NULL) != n))
			return bb_ring_fail(ctx, "enqueue_burst B");
		if (unlikely(rte_ring_dequeue_burst(b, objs, n, NULL) != n))
			return bb_ring_fail(ctx, "dequeue_burst B");
	}
	return iters * n;
}

void
bb_ring_teardown(struct bb_ctx *ctx)
{
	free(ctx->ring_a);
	free(ctx->ring_b);
	ctx->ring_a = NULL;
	ctx->ring_b = NULL;
}
