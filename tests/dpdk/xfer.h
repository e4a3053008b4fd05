/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A verified stream of buffers over one channel, shared by test_dpdk_ring
 * (both ends in one process) and dpdk_xfer_peer (one end per process).
 *
 * Buffer number s (0, 1, ...) has a length drawn from (seed, s) in
 * [min, max] and content derived from (seed, s) and the byte offset; its
 * meta carries s, the length and a check word. The source moves buffers
 * from its pool as long as it has free ones; the sink verifies meta,
 * length and content, order (s must be the next expected) and exactly-once
 * (a bitmap), then passes the buffer back with length 0, so the pool is
 * reused. Either end only needs the same seed, min and max.
 */
#ifndef BULK_TEST_XFER_H
#define BULK_TEST_XFER_H

#include <stdbool.h>
#include <stdint.h>

#include <bulk/bulk.h>

struct xfer_meta {
	uint64_t seq;
	uint32_t len;
	uint32_t check;
};

#define XFER_META_SIZE ((uint32_t)sizeof(struct xfer_meta))

/** One end of the stream. */
struct xfer {
	/* configuration */
	uint64_t seed;
	uint64_t count;    /**< buffers that make the run */
	uint32_t min, max; /**< length range */
	bool log_sizes;    /**< lengths log-uniform instead of uniform */
	const char *name;
	/* source: move while next < limit (count, or more with --expect-peer-death) */
	struct bulk_channel *ch;
	struct bulk_pool *pool;
	uint64_t limit;
	uint64_t next;         /**< next sequence number to send / expected */
	struct bulk_buffer *stash; /**< filled, refused with -ENOBUFS: sent first */
	uint8_t *away;         /**< source: per buffer index, moved and not back */
	uint64_t nawy;         /**< source: buffers away now */
	uint64_t back;         /**< source: passes received */
	/* sink */
	uint8_t *seen;         /**< bitmap of received sequence numbers */
	uint64_t seen_cap;     /**< bits in seen */
	uint64_t hold_from;    /**< sink: keep buffers with seq >= this (UINT64_MAX: none) */
	struct bulk_buffer **held;
	unsigned nheld, held_cap;
	struct bulk_buffer **pend;  /**< sink: passes refused with -ENOBUFS */
	unsigned npend, pend_cap;
	/* both */
	uint64_t buffers, bytes; /**< sent or received (the first @c count) */
	uint64_t extra;        /**< received beyond count (held) */
	uint64_t verify_failures, dups, out_of_order, errors;
	int teardown_reason;   /**< teardown_received's reason */
	bool closed;           /**< teardown_received ran */
};

/** Length of buffer @p seq. */
uint32_t xfer_len(const struct xfer *x, uint64_t seq);
/** Fill @p len bytes at @p p as buffer @p seq. */
void xfer_fill(const struct xfer *x, void *p, uint32_t len, uint64_t seq);
/** @return the first wrong byte's offset, or -1 when @p p is buffer @p seq. */
long xfer_check(const struct xfer *x, const void *p, uint32_t len, uint64_t seq);

/** Set up either end (allocates its tracking arrays; pool may be NULL on the sink). */
void xfer_init(struct xfer *x, const char *name, uint64_t seed, uint64_t count, uint32_t min,
	       uint32_t max);
void xfer_fini(struct xfer *x);

/** Source: move as many buffers as the pool, the queue and the limit allow. @return moved. */
unsigned xfer_pump(struct xfer *x);
/** Sink: retry passes refused earlier. @return passed. */
unsigned xfer_flush(struct xfer *x);
/** Sink: pass back the buffers held so far. @return 0 or a negative code. */
int xfer_release_held(struct xfer *x);

/** Channel callbacks; the channel's user pointer must be the struct xfer. */
extern const struct bulk_channel_callbacks xfer_callbacks;

/** Source: after the channel closed, put back every buffer that came home. @return put. */
unsigned xfer_put_home(struct xfer *x);

/** "xfer: role=R buffers=N bytes=B verify_failures=0 dups=0 out_of_order=0 errors=0" */
void xfer_print_result(const struct xfer *x, const char *role);

#endif /* BULK_TEST_XFER_H */
