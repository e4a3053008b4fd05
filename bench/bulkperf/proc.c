/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkperf: what a domain in its own process does, whichever backend joins
 * the processes (shm.c, dpdk.c): waiting, telling whether a link is up,
 * sending a pool's buffers home, and the source's own checks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>

#include "bulkperf.h"

#define PERF_HOME_BURST 256u

void
perf_sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / PERF_SEC_NS), (long)(ns % PERF_SEC_NS) };

	nanosleep(&ts, NULL);
}

bool
perf_connected(const struct perf_end *e)
{
	return e != NULL && e->ch != NULL && bulk_channel_state(e->ch) == BULK_STATE_CONNECTED;
}

/*
 * Buffers of the source's pool this process still owns. A domain cannot
 * let them vanish (bulk_domain_destroy() refuses), so with any left the
 * domain stays until the process exits.
 */
uint32_t
perf_held(struct perf_node *n)
{
	uint32_t held = 0;

	if (n->view == NULL)
		return 0;
	for (uint32_t i = 0; i < bulk_pool_buffer_count(n->view); i++)
		if (bulk_buffer_is_owner(bulk_pool_buffer(n->view, i)))
			held++;
	return held;
}

/* What only the source can check: each buffer it sent came back, in order. */
void
perf_check_source(struct perf_run *r, struct perf_node *n)
{
	struct perf_ctrs_snap c;

	if (r->peer_stopped) {
		/* The process that gave up said why; everything came home. */
		r->errors++;
	}
	if (perf_aborted(r))
		return;
	perf_ctrs_read(&n->down->ctr, &c);
	if (c.tx_bufs != r->sent || c.rx_bufs != r->sent) {
		fprintf(stderr,
			"bulkperf: %s: sent %" PRIu64 ", moved %" PRIu64 ", back %" PRIu64 "\n",
			n->name, r->sent, c.tx_bufs, c.rx_bufs);
		r->errors++;
	}
	if (r->o->verify && !r->peer_stopped && n->expect_seq != r->prepared) {
		fprintf(stderr,
			"bulkperf: %s: the last sequence number back is %" PRIu64
			", but %" PRIu64 " were sent\n",
			n->name, n->expect_seq, r->prepared);
		perf_ctr_add(&n->verify_failures, 1);
	}
}

/*
 * Send home, upstream, every buffer of the source's pool this process owns,
 * marked PERF_SEQ_STOP (no pattern to check, no latency sample).
 */
void
perf_pass_home(struct perf_run *r, struct perf_node *n)
{
	static const uint32_t lens[PERF_HOME_BURST];
	uint8_t meta[PERF_HOME_BURST * PERF_META_SIZE];
	struct bulk_buffer *bufs[PERF_HOME_BURST];
	const uint64_t stop[2] = { PERF_SEQ_STOP, 0 };
	uint64_t deadline = perf_now_ns() + PERF_SETUP_TIMEOUT_NS;
	uint32_t count, i = 0;

	if (n->view == NULL || !perf_connected(n->up))
		return;
	for (unsigned k = 0; k < PERF_HOME_BURST; k++)
		memcpy(&meta[(size_t)k * PERF_META_SIZE], stop, PERF_META_SIZE);
	count = bulk_pool_buffer_count(n->view);
	while (i < count) {
		unsigned k = 0;
		int rc;

		for (; i < count && k < PERF_HOME_BURST; i++) {
			struct bulk_buffer *b = bulk_pool_buffer(n->view, i);

			if (b->state == BULK_BUFFER_READ_WRITE)
				bufs[k++] = b;
		}
		for (unsigned sent = 0; sent < k;) {
			rc = bulk_channel_pass_burst(n->up->ch, bufs + sent, lens, meta, k - sent,
						     BULK_CONT_NONE);
			if (rc < 0) {
				fprintf(stderr, "bulkperf: %s: passing buffers home: %s\n", n->name,
					bulk_strerror(rc));
				r->errors++;
				return;
			}
			sent += (unsigned)rc;
			if (sent < k && (bulk_domain_poll(n->dom, 0) < 0 ||
					 perf_now_ns() > deadline)) {
				fprintf(stderr, "bulkperf: %s: upstream took no more buffers\n",
					n->name);
				r->errors++;
				return;
			}
		}
	}
}

/* A channel closed: how a run ends upstream, a failure downstream. */
void
perf_proc_on_teardown(struct bulk_channel *ch, int reason)
{
	struct perf_end *e = bulk_channel_user(ch);

	e->closed = true;
	e->close_reason = reason;
	if (e->run->tearing_down)
		return;
	/*
	 * Upstream closing is how a run ends for a hop or the sink (the loop
	 * sees it); downstream closing while the run goes on is a failure.
	 */
	if (!e->tx_side)
		return;
	if (reason == 0)
		perf_end_error(e, "the peer tore the channel down during the run", -BULK_E_CLOSED);
	else
		perf_end_error(e, "the peer went away", reason);
}

/* The source's pool assignment on @p e completed: did it take? */
int
perf_assign_result(struct perf_run *r, struct perf_node *n, struct perf_end *e)
{
	e->started = false;
	if (e->cont_err != 0) {
		fprintf(stderr, "bulkperf: %s: pool assignment failed: %s\n", n->name,
			bulk_strerror(e->cont_err));
		return e->cont_err;
	}
	if (!bulk_channel_has_pool(e->ch, r->pool)) {
		fprintf(stderr, "bulkperf: %s: pool not assigned after the assignment completed\n",
			n->name);
		return -EPROTO;
	}
	return 0;
}
