/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libbulk benchmark bodies. Both ends run in the calling thread: two domains
 * (source = TX, sink = RX) joined by one local channel, polled alternately,
 * so that a figure is the CPU cost of the library's path with hot caches and
 * no cross-core traffic. The rte_ring peer in ring_peer.c has the same shape.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>
#include <bulk/bulk_local.h>

#include "bodies.h"

#define BB_POLL_BUDGET 64u
/* Setup and teardown poll until done; a handshake needs a handful of rounds. */
#define BB_SETUP_ROUNDS 10000u

#define bb_unlikely(x) __builtin_expect(!!(x), 0)

/* Record a setup failure and leave the (void) setup function. */
#define BB_SETUP_FAIL(ctx, err, what) do { \
		bb_fail(ctx, err, what); \
		return; \
	} while (0)

static void
bb_fail(struct bb_ctx *ctx, int err, const char *what)
{
	if (ctx->err != 0)
		return; /* keep the first failure: later ones are its consequences */
	ctx->err = err < 0 ? err : -EPROTO;
	snprintf(ctx->errmsg, sizeof(ctx->errmsg), "%s: %s", what,
		 err < 0 ? bulk_strerror(err) : "unexpected result");
}

/* Cold path out of the timed loops, so that they stay small. */
static __attribute__((noinline, cold)) uint64_t
bb_run_fail(struct bb_ctx *ctx, int err, const char *what)
{
	bb_fail(ctx, err, what);
	return 0;
}

static void
bb_cont(void *arg, int err, struct bulk_channel *ch)
{
	struct bb_ctx *ctx = arg;

	(void)ch;
	ctx->cont_fired++;
	ctx->cont_err = err;
}

/* ------------------------------------------------------------- callbacks */

static void
bb_snk_move_received(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
		     const uint32_t *lens, const void *meta, unsigned n)
{
	int ret;

	/* Straight back: the sink's whole job in the round trip. */
	ret = bulk_channel_pass_burst(ch, bufs, lens, meta, n, BULK_CONT_NONE);
	if (bb_unlikely(ret != (int)n))
		bb_fail(bulk_channel_user(ch), ret, "pass_burst in move_received");
}

static void
bb_snk_copy_received(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
		     const uint32_t *lens, const void *meta, unsigned n)
{
	int ret;

	(void)lens;
	(void)meta;
	ret = bulk_channel_release_burst(ch, bufs, n, BULK_CONT_NONE);
	if (bb_unlikely(ret != (int)n))
		bb_fail(bulk_channel_user(ch), ret, "release_burst in copy_received");
}

static void
bb_src_buffer_received(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
		       const uint32_t *lens, const void *meta, unsigned n)
{
	struct bb_ctx *ctx = bulk_channel_user(ch);

	(void)bufs;
	(void)lens;
	(void)meta;
	/* The source's view has one struct per buffer, so ctx->bufs stays valid. */
	ctx->back += n;
}

static void
bb_src_copy_released(struct bulk_channel *ch, struct bulk_buffer *const *bufs, unsigned n)
{
	struct bb_ctx *ctx = bulk_channel_user(ch);

	(void)bufs;
	ctx->back += n;
}

static const struct bulk_channel_callbacks bb_snk_cb = {
	.move_received = bb_snk_move_received,
	.copy_received = bb_snk_copy_received,
};

static const struct bulk_channel_callbacks bb_src_cb = {
	.buffer_received = bb_src_buffer_received,
	.copy_released = bb_src_copy_released,
};

/* ----------------------------------------------------------- setup/teardown */

/* Poll both sides until @p done says so; setup and teardown only. */
static int
bb_poll_until(struct bb_ctx *ctx, int (*done)(const struct bb_ctx *))
{
	unsigned i;
	int ret;

	for (i = 0; i < BB_SETUP_ROUNDS; i++) {
		if (done(ctx))
			return 0;
		if (ctx->snk != NULL) {
			ret = bulk_domain_poll(ctx->snk, 0);
			if (ret < 0)
				return ret;
		}
		if (ctx->src != NULL) {
			ret = bulk_domain_poll(ctx->src, 0);
			if (ret < 0)
				return ret;
		}
	}
	return done(ctx) ? 0 : -ETIMEDOUT;
}

static int
bb_connected(const struct bb_ctx *ctx)
{
	return ctx->cont_fired > 0;
}

static int
bb_closed(const struct bb_ctx *ctx)
{
	return bulk_channel_state(ctx->src_ch) == BULK_STATE_CLOSED &&
	       bulk_channel_state(ctx->snk_ch) == BULK_STATE_CLOSED;
}

/*
 * Two domains, a local channel created by the sink (RX) and bound by the
 * source (TX), and a pool of the source's assigned to it; @p burst buffers
 * taken from the pool into ctx->bufs.
 */
static void
bb_channel_setup(struct bb_ctx *ctx, const struct bb_args *args)
{
	struct bulk_channel_params cp = {
		.direction = BULK_DIRECTION_RX,
		.queue_size = BB_QUEUE_SIZE,
		.user = ctx,
	};
	struct bulk_bind_params bp = { .user = ctx };
	struct bulk_pool_params pp = {
		.count = BB_POOL_COUNT,
		.buffer_size = BB_BUFFER_SIZE,
	};
	int ret;

	ctx->burst = args->burst;
	ret = bulk_domain_create("bb-src", &ctx->src);
	if (ret < 0)
		BB_SETUP_FAIL(ctx, ret, "bulk_domain_create (source)");
	ret = bulk_domain_create("bb-snk", &ctx->snk);
	if (ret < 0)
		BB_SETUP_FAIL(ctx, ret, "bulk_domain_create (sink)");
	ret = bulk_local_endpoint_create(ctx->snk, &ctx->ep);
	if (ret < 0)
		BB_SETUP_FAIL(ctx, ret, "bulk_local_endpoint_create");
	ret = bulk_channel_create(ctx->ep, &bb_snk_cb, &cp, &ctx->snk_ch);
	if (ret < 0)
		BB_SETUP_FAIL(ctx, ret, "bulk_channel_create");
	ctx->cont_fired = 0;
	ret = bulk_channel_bind(ctx->src, ctx->ep, &bb_src_cb, &bp,
				(struct bulk_cont){ bb_cont, ctx }, &ctx->src_ch);
	if (ret < 0)
		BB_SETUP_FAIL(ctx, ret, "bulk_channel_bind");
	ret = bb_poll_until(ctx, bb_connected);
	if (ret < 0 || ctx->cont_err < 0)
		BB_SETUP_FAIL(ctx, ret < 0 ? ret : ctx->cont_err, "bind handshake");

	ret = bulk_pool_alloc(ctx->src, &pp, &ctx->pool);
	if (ret < 0)
		BB_SETUP_FAIL(ctx, ret, "bulk_pool_alloc");
	ctx->cont_fired = 0;
	ret = bulk_channel_assign_pool(ctx->src_ch, ctx->pool, (struct bulk_cont){ bb_cont, ctx });
	if (ret < 0)
		BB_SETUP_FAIL(ctx, ret, "bulk_channel_assign_pool");
	ret = bb_poll_until(ctx, bb_connected);
	if (ret < 0 || ctx->cont_err < 0)
		BB_SETUP_FAIL(ctx, ret < 0 ? ret : ctx->cont_err, "pool assignment");

	ret = bulk_pool_get_burst(ctx->pool, ctx->bufs, ctx->burst);
	if (ret != (int)ctx->burst)
		BB_SETUP_FAIL(ctx, ret, "bulk_pool_get_burst");
}

/* Best effort and noisy: a teardown failure is a library bug worth seeing. */
static void
bb_channel_teardown(struct bb_ctx *ctx)
{
	int ret;

	if (ctx->pool != NULL && ctx->bufs[0] != NULL && ctx->err == 0) {
		ret = bulk_pool_put_burst(ctx->pool, ctx->bufs, ctx->burst);
		if (ret < 0)
			fprintf(stderr, "bb teardown: put_burst: %s\n", bulk_strerror(ret));
	}
	if (ctx->src_ch != NULL && ctx->snk_ch != NULL &&
	    bulk_channel_state(ctx->src_ch) == BULK_STATE_CONNECTED) {
		ret = bulk_channel_destroy(ctx->src_ch, BULK_CONT_NONE);
		if (ret == 0)
			ret = bb_poll_until(ctx, bb_closed);
		if (ret < 0)
			fprintf(stderr, "bb teardown: channel destroy: %s\n", bulk_strerror(ret));
	}
	if (ctx->src_ch != NULL && (ret = bulk_channel_free(ctx->src_ch)) < 0)
		fprintf(stderr, "bb teardown: free src channel: %s\n", bulk_strerror(ret));
	if (ctx->snk_ch != NULL && (ret = bulk_channel_free(ctx->snk_ch)) < 0)
		fprintf(stderr, "bb teardown: free snk channel: %s\n", bulk_strerror(ret));
	if (ctx->ep != NULL && (ret = bulk_endpoint_free(ctx->ep)) < 0)
		fprintf(stderr, "bb teardown: free endpoint: %s\n", bulk_strerror(ret));
	if (ctx->pool2 != NULL && (ret = bulk_pool_free(ctx->pool2)) < 0)
		fprintf(stderr, "bb teardown: free pool2: %s\n", bulk_strerror(ret));
	if (ctx->pool != NULL && (ret = bulk_pool_free(ctx->pool)) < 0)
		fprintf(stderr, "bb teardown: free pool: %s\n", bulk_strerror(ret));
	if (ctx->snk != NULL && (ret = bulk_domain_destroy(ctx->snk)) < 0)
		fprintf(stderr, "bb teardown: destroy sink domain: %s\n", bulk_strerror(ret));
	if (ctx->src != NULL && (ret = bulk_domain_destroy(ctx->src)) < 0)
		fprintf(stderr, "bb teardown: destroy source domain: %s\n", bulk_strerror(ret));
}

/* ------------------------------------------------ 1. pool get/put burst */

void
bb_pool_burst_setup(struct bb_ctx *ctx, const struct bb_args *args)
{
	struct bulk_pool_params pp = {
		.count = BB_POOL_COUNT,
		.buffer_size = BB_BUFFER_SIZE,
	};
	int ret;

	ctx->burst = args->burst;
	ret = bulk_domain_create("bb-pool", &ctx->src);
	if (ret < 0)
		BB_SETUP_FAIL(ctx, ret, "bulk_domain_create");
	ret = bulk_pool_alloc(ctx->src, &pp, &ctx->pool);
	if (ret < 0)
		BB_SETUP_FAIL(ctx, ret, "bulk_pool_alloc");
}

uint64_t
bb_pool_burst_run(struct bb_ctx *ctx, uint64_t iters)
{
	const unsigned n = ctx->burst;
	uint64_t i;
	int ret;

	for (i = 0; i < iters; i++) {
		ret = bulk_pool_get_burst(ctx->pool, ctx->bufs, n);
		if (bb_unlikely(ret != (int)n))
			return bb_run_fail(ctx, ret, "bulk_pool_get_burst");
		ret = bulk_pool_put_burst(ctx->pool, ctx->bufs, n);
		if (bb_unlikely(ret != (int)n))
			return bb_run_fail(ctx, ret, "bulk_pool_put_burst");
	}
	return iters * n;
}

void
bb_pool_burst_teardown(struct bb_ctx *ctx)
{
	int ret;

	if (ctx->pool != NULL && (ret = bulk_pool_free(ctx->pool)) < 0)
		fprintf(stderr, "bb teardown: free pool: %s\n", bulk_strerror(ret));
	if (ctx->src != NULL && (ret = bulk_domain_destroy(ctx->src)) < 0)
		fprintf(stderr, "bb teardown: destroy domain: %s\n", bulk_strerror(ret));
}

/* Sink then source, as one round; a failure is recorded in ctx. */
static inline int
bb_poll_pair(struct bb_ctx *ctx)
{
	int ret = bulk_channel_poll(ctx->snk_ch, BB_POLL_BUDGET);

	if (bb_unlikely(ret < 0)) {
		bb_run_fail(ctx, ret, "bulk_channel_poll (sink)");
		return ret;
	}
	ret = bulk_channel_poll(ctx->src_ch, BB_POLL_BUDGET);
	if (bb_unlikely(ret < 0)) {
		bb_run_fail(ctx, ret, "bulk_channel_poll (source)");
		return ret;
	}
	return 0;
}

/* --------------------------------- 2./3. move + pass round trip / burst */

void
bb_move_pass_setup(struct bb_ctx *ctx, const struct bb_args *args)
{
	bb_channel_setup(ctx, args);
}

/*
 * One iteration: the source moves a burst, the sink's poll runs
 * move_received which passes it back, the source's poll runs
 * buffer_received. Burst 1 is the round trip; larger bursts the throughput.
 */
uint64_t
bb_move_pass_run(struct bb_ctx *ctx, uint64_t iters)
{
	const unsigned n = ctx->burst;
	uint64_t i;
	int ret;

	ctx->back = 0;
	for (i = 0; i < iters; i++) {
		ret = bulk_channel_move_burst(ctx->src_ch, ctx->bufs, NULL, NULL, n,
					      BULK_CONT_NONE);
		if (bb_unlikely(ret != (int)n))
			return bb_run_fail(ctx, ret, "bulk_channel_move_burst");
		if (bb_unlikely(bb_poll_pair(ctx) < 0))
			return 0;
	}
	if (ctx->err != 0)
		return 0;
	if (ctx->back != iters * n)
		return bb_run_fail(ctx, 0, "buffers passed back != buffers moved");
	return iters * n;
}

/*
 * The round trip of one buffer with the single-buffer call a latency-bound
 * application would use; the sink still passes back with pass_burst.
 */
uint64_t
bb_move_rtt_run(struct bb_ctx *ctx, uint64_t iters)
{
	struct bulk_buffer *const buf = ctx->bufs[0];
	uint64_t i;
	int ret;

	ctx->back = 0;
	for (i = 0; i < iters; i++) {
		ret = bulk_channel_move(ctx->src_ch, buf, BB_BUFFER_SIZE, NULL, BULK_CONT_NONE);
		if (bb_unlikely(ret != 0))
			return bb_run_fail(ctx, ret, "bulk_channel_move");
		if (bb_unlikely(bb_poll_pair(ctx) < 0))
			return 0;
	}
	if (ctx->err != 0)
		return 0;
	if (ctx->back != iters)
		return bb_run_fail(ctx, 0, "buffers passed back != buffers moved");
	return iters;
}

void
bb_move_pass_teardown(struct bb_ctx *ctx)
{
	bb_channel_teardown(ctx);
}

/* --------------------------------------------- 4. copy + release round trip */

void
bb_copy_release_setup(struct bb_ctx *ctx, const struct bb_args *args)
{
	bb_channel_setup(ctx, args);
}

/*
 * One iteration: the source copies (buffer goes RO_OWNED), the sink's
 * copy_received releases, the source's copy_released sees it READ_WRITE.
 */
uint64_t
bb_copy_release_run(struct bb_ctx *ctx, uint64_t iters)
{
	const unsigned n = ctx->burst;
	uint64_t i;
	int ret;

	ctx->back = 0;
	for (i = 0; i < iters; i++) {
		ret = bulk_channel_copy_burst(ctx->src_ch, ctx->bufs, NULL, NULL, n,
					      BULK_CONT_NONE);
		if (bb_unlikely(ret != (int)n))
			return bb_run_fail(ctx, ret, "bulk_channel_copy_burst");
		if (bb_unlikely(bb_poll_pair(ctx) < 0))
			return 0;
	}
	if (ctx->err != 0)
		return 0;
	if (ctx->back != iters * n)
		return bb_run_fail(ctx, 0, "copies released != copies sent");
	if (ctx->bufs[0]->state != BULK_BUFFER_READ_WRITE)
		return bb_run_fail(ctx, 0, "buffer not READ_WRITE after the last release");
	return iters * n;
}

void
bb_copy_release_teardown(struct bb_ctx *ctx)
{
	bb_channel_teardown(ctx);
}

/* ------------------------------------------- 5. pool assign + remove cycle */

void
bb_pool_assign_setup(struct bb_ctx *ctx, const struct bb_args *args)
{
	/* Small pool: the cost measured is the handshake, not the pool's size. */
	struct bulk_pool_params pp = { .count = 64, .buffer_size = BB_BUFFER_SIZE };
	int ret;

	bb_channel_setup(ctx, args);
	if (ctx->err != 0)
		return;
	ret = bulk_pool_alloc(ctx->src, &pp, &ctx->pool2);
	if (ret < 0)
		BB_SETUP_FAIL(ctx, ret, "bulk_pool_alloc (pool2)");
}

/*
 * One iteration: assign pool2 (sink's pool_assigned accepts by default, the
 * continuation fires in the source's poll), then remove it again the same
 * way. Items = assign+remove cycles.
 */
uint64_t
bb_pool_assign_run(struct bb_ctx *ctx, uint64_t iters)
{
	const struct bulk_cont cont = { bb_cont, ctx };
	uint64_t i;
	int ret;

	ctx->cont_fired = 0;
	ctx->cont_err = 0;
	for (i = 0; i < iters; i++) {
		ret = bulk_channel_assign_pool(ctx->src_ch, ctx->pool2, cont);
		if (bb_unlikely(ret < 0))
			return bb_run_fail(ctx, ret, "bulk_channel_assign_pool");
		bulk_channel_poll(ctx->snk_ch, BB_POLL_BUDGET);
		bulk_channel_poll(ctx->src_ch, BB_POLL_BUDGET);
		ret = bulk_channel_remove_pool(ctx->src_ch, ctx->pool2, cont);
		if (bb_unlikely(ret < 0))
			return bb_run_fail(ctx, ret, "bulk_channel_remove_pool");
		bulk_channel_poll(ctx->snk_ch, BB_POLL_BUDGET);
		bulk_channel_poll(ctx->src_ch, BB_POLL_BUDGET);
	}
	if (ctx->cont_err < 0)
		return bb_run_fail(ctx, ctx->cont_err, "assign/remove continuation");
	if (ctx->cont_fired != 2 * iters)
		return bb_run_fail(ctx, 0, "continuations fired != 2 * cycles");
	return iters;
}

void
bb_pool_assign_teardown(struct bb_ctx *ctx)
{
	bb_channel_teardown(ctx);
}

/* --------------------------------------------------------------- tables */

#ifdef BB_HAVE_RTE_RING
const int bb_have_ring = 1;
#else
const int bb_have_ring = 0;
#endif

#define BB_BULK(nm, body, b, bytes) \
	{ nm, bb_##body##_setup, bb_##body##_run, bb_##body##_teardown, { b }, bytes }
#define BB_BULK_RUN(nm, body, runfn, b, bytes) \
	{ nm, bb_##body##_setup, bb_##runfn##_run, bb_##body##_teardown, { b }, bytes }
#define BB_RING(nm, runfn, b) \
	{ nm, bb_ring_setup, bb_ring_##runfn##_run, bb_ring_teardown, { b }, BB_BUFFER_SIZE }

const struct bb_body bb_bodies[] = {
	BB_BULK("bulk/pool_get_put/burst:32", pool_burst, 32, 0),
	BB_BULK_RUN("bulk/move_pass_rtt/burst:1", move_pass, move_rtt, 1, BB_BUFFER_SIZE),
#ifdef BB_HAVE_RTE_RING
	BB_RING("ring/rtt/burst:1", rtt, 1),
#endif
	BB_BULK("bulk/move_pass_burst/burst:1", move_pass, 1, BB_BUFFER_SIZE),
	BB_BULK("bulk/move_pass_burst/burst:8", move_pass, 8, BB_BUFFER_SIZE),
	BB_BULK("bulk/move_pass_burst/burst:32", move_pass, 32, BB_BUFFER_SIZE),
#ifdef BB_HAVE_RTE_RING
	BB_RING("ring/burst/burst:1", burst, 1),
	BB_RING("ring/burst/burst:8", burst, 8),
	BB_RING("ring/burst/burst:32", burst, 32),
#endif
	BB_BULK("bulk/copy_release_rtt/burst:1", copy_release, 1, BB_BUFFER_SIZE),
	BB_BULK("bulk/pool_assign_remove_rtt", pool_assign, 1, 0),
	{ NULL, NULL, NULL, NULL, { 0 }, 0 },
};

const struct bb_ratio bb_ratios[] = {
	{ "move+pass rtt burst1", "bulk/move_pass_rtt/burst:1", "ring/rtt/burst:1", 1.50 },
	{ "burst1 throughput", "bulk/move_pass_burst/burst:1", "ring/burst/burst:1", 1.25 },
	{ "burst8 throughput", "bulk/move_pass_burst/burst:8", "ring/burst/burst:8", 1.25 },
	{ "burst32 throughput", "bulk/move_pass_burst/burst:32", "ring/burst/burst:32", 1.25 },
	{ NULL, NULL, NULL, 0 },
};
