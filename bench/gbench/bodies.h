/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark bodies for bulk-gbench, in C. The C++ shim (shim.cc) only walks
 * bb_bodies[] and hands each body to Google Benchmark; everything that
 * touches libbulk or rte_ring lives in C (STYLE.md point 11).
 *
 * This header names no libbulk or DPDK type beyond forward declarations, so
 * that ring_peer.c can be built with libdpdk's flags and bodies.c/shim.cc
 * without them.
 */
#ifndef BB_BODIES_H
#define BB_BODIES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest burst any body uses; sizes the buffer arrays in struct bb_ctx. */
#define BB_BURST_MAX 32u
/** Descriptors per channel direction and rte_ring size: the same for both. */
#define BB_QUEUE_SIZE 1024u
/** Buffers in the benchmark pool; more than a full queue can hold. */
#define BB_POOL_COUNT 2048u
/** Bytes per buffer; only reported as bytes/s, never touched. */
#define BB_BUFFER_SIZE 2048u

struct bulk_domain;
struct bulk_endpoint;
struct bulk_channel;
struct bulk_pool;
struct bulk_buffer;
struct rte_ring;

/** Arguments of one registered benchmark. */
struct bb_args {
	unsigned burst; /**< buffers per operation, 1..BB_BURST_MAX */
};

/**
 * State of one benchmark instance; the caller owns the memory and zeroes it
 * before setup. A setup that fails sets err (negative code) and errmsg; the
 * shim then skips the benchmark with that message and still calls teardown.
 */
struct bb_ctx {
	unsigned burst;
	int err;
	char errmsg[128];

	/* libbulk side: src is the TX (source) domain, snk the RX (sink) one. */
	struct bulk_domain *src;
	struct bulk_domain *snk;
	struct bulk_endpoint *ep;
	struct bulk_channel *src_ch;
	struct bulk_channel *snk_ch;
	struct bulk_pool *pool;
	struct bulk_pool *pool2;      /**< the pool the assign benchmark cycles */
	struct bulk_buffer *bufs[BB_BURST_MAX];
	unsigned back;                /**< buffers (or events) seen by the source's callback */
	unsigned cont_fired;          /**< continuations seen */
	int cont_err;                 /**< last continuation error */

	/* rte_ring side: two SPSC rings, A carries "there", B carries "back". */
	struct rte_ring *ring_a;
	struct rte_ring *ring_b;
	void *objs[BB_BURST_MAX];
};

typedef void (*bb_setup_fn)(struct bb_ctx *ctx, const struct bb_args *args);
/** Run @p iters iterations; @return items (buffers) processed, 0 on failure (err set). */
typedef uint64_t (*bb_run_fn)(struct bb_ctx *ctx, uint64_t iters);
typedef void (*bb_teardown_fn)(struct bb_ctx *ctx);

/** One registered benchmark: a body and the arguments it runs with. */
struct bb_body {
	const char *name;       /**< Google Benchmark name; also the key of the ratio table */
	bb_setup_fn setup;
	bb_run_fn run;
	bb_teardown_fn teardown;
	struct bb_args args;
	uint32_t bytes_per_item; /**< for bytes/s; 0: do not report bytes */
};

/** Every body, libbulk and (when built with DPDK) rte_ring; ends with a NULL name. */
extern const struct bb_body bb_bodies[];

/**
 * Pairs compared at the end of a run: time per buffer of the libbulk body
 * over that of the rte_ring body, against a target. Ends with a NULL label.
 */
struct bb_ratio {
	const char *label;
	const char *bulk_name;
	const char *ring_name;
	double target;
};
extern const struct bb_ratio bb_ratios[];

/** 1 if the rte_ring peer is built in. */
extern const int bb_have_ring;

/* libbulk bodies (bodies.c). */
void bb_pool_burst_setup(struct bb_ctx *ctx, const struct bb_args *args);
uint64_t bb_pool_burst_run(struct bb_ctx *ctx, uint64_t iters);
void bb_pool_burst_teardown(struct bb_ctx *ctx);

void bb_move_pass_setup(struct bb_ctx *ctx, const struct bb_args *args);
uint64_t bb_move_pass_run(struct bb_ctx *ctx, uint64_t iters);
uint64_t bb_move_rtt_run(struct bb_ctx *ctx, uint64_t iters);
void bb_move_pass_teardown(struct bb_ctx *ctx);

void bb_copy_release_setup(struct bb_ctx *ctx, const struct bb_args *args);
uint64_t bb_copy_release_run(struct bb_ctx *ctx, uint64_t iters);
void bb_copy_release_teardown(struct bb_ctx *ctx);

void bb_pool_assign_setup(struct bb_ctx *ctx, const struct bb_args *args);
uint64_t bb_pool_assign_run(struct bb_ctx *ctx, uint64_t iters);
void bb_pool_assign_teardown(struct bb_ctx *ctx);

/* rte_ring peer (ring_peer.c), only when built with DPDK. */
void bb_ring_setup(struct bb_ctx *ctx, const struct bb_args *args);
uint64_t bb_ring_rtt_run(struct bb_ctx *ctx, uint64_t iters);
uint64_t bb_ring_burst_run(struct bb_ctx *ctx, uint64_t iters);
void bb_ring_teardown(struct bb_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* BB_BODIES_H */
