/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The whole chain in one process over the local backend: domains, channels
 * and the pool; the round-robin and the thread-per-domain drivers; and an
 * orderly teardown that checks every buffer came home.
 *
 * Node 0 is the source and owns the pool, nodes 1..hops are passthrough
 * hops, the last node is the sink. Link i joins node i (creator, TX) to node
 * i + 1 (binder, RX). Data goes down by move; every buffer comes back up by
 * pass, hop by hop, so only channels ever cross a domain boundary and the
 * source gets each buffer back in its own view.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>
#include <bulk/bulk_local.h>

#include "bulkperf.h"

/* -------------------------------------------------------------- callbacks */

static void
perf_on_teardown(struct bulk_channel *ch, int reason)
{
	struct perf_end *e = bulk_channel_user(ch);

	if (e->run->tearing_down)
		return;
	perf_end_error(e, "peer tore the channel down", reason);
}

static const struct bulk_channel_callbacks perf_cb_source_tx = {
	.buffer_received = perf_source_on_return,
	.move_received = perf_on_unexpected,
	.copy_received = perf_on_unexpected,
	.teardown_received = perf_on_teardown,
};

static const struct bulk_channel_callbacks perf_cb_hop_tx = {
	.buffer_received = perf_hop_on_return,
	.move_received = perf_on_unexpected,
	.copy_received = perf_on_unexpected,
	.teardown_received = perf_on_teardown,
};

static const struct bulk_channel_callbacks perf_cb_hop_rx = {
	.pool_assigned = perf_on_pool_assigned,
	.move_received = perf_hop_on_move,
	.buffer_received = perf_on_unexpected,
	.copy_received = perf_on_unexpected,
	.teardown_received = perf_on_teardown,
};

static const struct bulk_channel_callbacks perf_cb_sink_rx = {
	.pool_assigned = perf_on_pool_assigned,
	.move_received = perf_sink_on_move,
	.buffer_received = perf_on_unexpected,
	.copy_received = perf_on_unexpected,
	.teardown_received = perf_on_teardown,
};

/* ------------------------------------------------------------------ setup */

static int
perf_poll_all(struct perf_run *r)
{
	int total = 0;

	for (unsigned i = 0; i < r->nnodes; i++) {
		int rc = bulk_domain_poll(r->nodes[i].dom, 0);

		if (rc < 0) {
			fprintf(stderr, "bulkperf: poll of %s: %s\n", r->nodes[i].name,
				bulk_strerror(rc));
			r->errors++;
			return rc;
		}
		total += rc;
	}
	return total;
}

static bool
perf_links_connected(struct perf_run *r)
{
	for (unsigned i = 0; i < 2 * r->nlinks; i++)
		if (r->ends[i].ch == NULL ||
		    bulk_channel_state(r->ends[i].ch) != BULK_STATE_CONNECTED)
			return false;
	return true;
}

static int
perf_connect(struct perf_run *r)
{
	const struct perf_opts *o = r->o;
	uint64_t deadline;
	int rc;

	for (unsigned i = 0; i < r->nlinks; i++) {
		struct perf_end *tx = &r->ends[2 * i], *rx = &r->ends[2 * i + 1];
		struct bulk_channel_params cp;
		struct bulk_bind_params bp;

		rc = bulk_local_endpoint_create(r->nodes[i].dom, &r->eps[i]);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: endpoint for link %u: %s\n", i,
				bulk_strerror(rc));
			return rc;
		}
		memset(&cp, 0, sizeof(cp));
		cp.direction = BULK_DIRECTION_TX;
		cp.trust = o->trust;
		cp.meta_size = PERF_META_SIZE;
		cp.queue_size = o->queue_size;
		cp.user = tx;
		rc = bulk_channel_create(r->eps[i], i == 0 ? &perf_cb_source_tx : &perf_cb_hop_tx,
					 &cp, &tx->ch);
		if (rc < 0) {
			if (rc == -BULK_E_TRUST_UNSUPPORTED)
				fprintf(stderr, "bulkperf: backend %s refused trust level %s: %s\n",
					o->backend, perf_trust_name(o->trust), bulk_strerror(rc));
			else
				fprintf(stderr,
					"bulkperf: cannot create channel of link %u "
					"(%s -> %s, trust %s): %s\n",
					i, r->nodes[i].name, r->nodes[i + 1].name,
					perf_trust_name(o->trust), bulk_strerror(rc));
			tx->ch = NULL;
			return rc;
		}
		memset(&bp, 0, sizeof(bp));
		bp.user = rx;
		rc = bulk_channel_bind(r->nodes[i + 1].dom, r->eps[i],
				       i + 1 == r->nnodes - 1 ? &perf_cb_sink_rx : &perf_cb_hop_rx,
				       &bp, perf_end_cont(rx), &rx->ch);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: bind of link %u (%s -> %s): %s\n", i,
				r->nodes[i].name, r->nodes[i + 1].name, bulk_strerror(rc));
			rx->ch = NULL;
			rx->started = false;
			return rc;
		}
	}
	deadline = perf_now_ns() + PERF_SETUP_TIMEOUT_NS;
	while (!perf_links_connected(r)) {
		if (perf_poll_all(r) < 0)
			return -EIO;
		for (unsigned i = 0; i < r->nlinks; i++) {
			struct perf_end *rx = &r->ends[2 * i + 1];

			if (rx->cont_fired && rx->cont_err != 0) {
				fprintf(stderr, "bulkperf: bind of link %u failed: %s\n", i,
					bulk_strerror(rx->cont_err));
				return rx->cont_err;
			}
		}
		if (perf_now_ns() > deadline) {
			fprintf(stderr, "bulkperf: channels did not connect within 5 s\n");
			return -ETIMEDOUT;
		}
	}
	return 0;
}

/*
 * Assign the pool link by link: the source assigns its pool to link 0; each
 * hop, once its view of the pool arrived on its upstream link, assigns that
 * same view to its downstream link, so a buffer it receives can move on
 * without a copy.
 */
static int
perf_assign_pool(struct perf_run *r)
{
	uint64_t deadline;
	bool all;
	int rc;

	rc = perf_pool_alloc(r, r->nodes[0].dom, BULK_MEM_ANON);
	if (rc < 0)
		return rc;
	rc = bulk_channel_assign_pool(r->ends[0].ch, r->pool, perf_end_cont(&r->ends[0]));
	if (rc < 0) {
		fprintf(stderr, "bulkperf: assign pool to link 0: %s\n", bulk_strerror(rc));
		return rc;
	}
	deadline = perf_now_ns() + PERF_SETUP_TIMEOUT_NS;
	for (;;) {
		if (perf_poll_all(r) < 0)
			return -EIO;
		all = true;
		for (unsigned i = 0; i < r->nlinks; i++) {
			struct perf_end *tx = &r->ends[2 * i];
			struct perf_node *n = &r->nodes[i];

			if (!tx->started && n->view_assigned) {
				struct bulk_pool *view;

				view = bulk_domain_pool_lookup(n->dom, bulk_pool_get_id(r->pool));
				if (view == NULL) {
					fprintf(stderr,
						"bulkperf: %s accepted the pool but has no "
						"view of it\n",
						n->name);
					return -ENOENT;
				}
				rc = bulk_channel_assign_pool(tx->ch, view, perf_end_cont(tx));
				if (rc < 0) {
					fprintf(stderr,
						"bulkperf: %s: assign pool to link %u: %s\n",
						n->name, i, bulk_strerror(rc));
					return rc;
				}
			}
			if (tx->started && tx->cont_fired && tx->cont_err != 0) {
				fprintf(stderr, "bulkperf: pool assignment on link %u failed: %s\n",
					i, bulk_strerror(tx->cont_err));
				return tx->cont_err;
			}
			if (!tx->started || !tx->cont_fired)
				all = false;
		}
		if (all)
			break;
		if (perf_now_ns() > deadline) {
			fprintf(stderr, "bulkperf: pool assignment did not complete within 5 s\n");
			return -ETIMEDOUT;
		}
	}
	for (unsigned i = 0; i < 2 * r->nlinks; i++) {
		struct perf_end *e = &r->ends[i];
		struct bulk_pool *view;

		view = bulk_domain_pool_lookup(e->node->dom, bulk_pool_get_id(r->pool));
		if (view == NULL || !bulk_channel_has_pool(e->ch, view)) {
			fprintf(stderr,
				"bulkperf: link %u %s end: pool not assigned after "
				"assignment completed\n",
				e->link, e->tx_side ? "TX" : "RX");
			return -EPROTO;
		}
	}
	return 0;
}

static int
perf_setup(struct perf_run *r, const struct perf_opts *o)
{
	int rc;

	perf_run_init(r, o);
	r->neps = r->nlinks;
	r->stamp = o->mode == PERF_MODE_ECHO || o->mode == PERF_MODE_RTT ||
		   o->mode == PERF_MODE_PASSTHROUGH;
	r->stamp_every = o->mode == PERF_MODE_RTT;
	rc = perf_ends_alloc(r, o->hops + 2, 2 * r->nlinks);
	if (rc < 0)
		return rc;
	r->source = &r->nodes[0];
	r->sink = &r->nodes[r->nnodes - 1];
	for (unsigned i = 0; i < r->nnodes; i++) {
		struct perf_node *n = &r->nodes[i];

		n->run = r;
		n->idx = i;
		n->role = i == 0 ? PERF_ROLE_SOURCE
				 : (i == r->nnodes - 1 ? PERF_ROLE_SINK : PERF_ROLE_HOP);
		perf_node_name(i, o->hops, n->name, sizeof(n->name));
		rc = bulk_domain_create(n->name, &n->dom);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: domain %s: %s\n", n->name, bulk_strerror(rc));
			n->dom = NULL;
			return rc;
		}
	}
	for (unsigned i = 0; i < 2 * r->nlinks; i++) {
		struct perf_end *e = &r->ends[i];

		e->link = i / 2;
		e->tx_side = (i & 1) == 0;
		e->node = &r->nodes[e->link + (e->tx_side ? 0 : 1)];
		if (e->tx_side)
			e->node->down = e;
		else
			e->node->up = e;
	}
	rc = perf_connect(r);
	if (rc < 0)
		return rc;
	return perf_assign_pool(r);
}

/* ---------------------------------------------------------------- running */

/*
 * One thread drives every domain. The order goes down the chain and back up
 * (source, hops, sink, hops in reverse), so a buffer makes its whole round
 * trip in one sweep and latency is not an artefact of the polling order.
 */
static int
perf_run_single(struct perf_run *r)
{
	uint64_t period = (uint64_t)(r->o->stats_period * (double)PERF_SEC_NS);
	uint64_t last = 0, last_t;
	unsigned iter = 0;

	perf_start_clock(r);
	last_t = r->t_start;
	for (;;) {
		for (unsigned i = 0; i < r->nnodes; i++)
			perf_step(r, &r->nodes[i]);
		for (unsigned i = r->nnodes - 2; i > 0; i--)
			perf_step(r, &r->nodes[i]);
		if (perf_source_done(r) || perf_aborted(r))
			break;
		/* Clock reads cost; the printer and watchdog need no finer grain. */
		if ((++iter & 63) == 0) {
			uint64_t now = perf_now_ns();

			if (period != 0 && now - r->t_last_print >= period)
				perf_stats_periodic(r, now, true);
			if (perf_watchdog(r, now, &last, &last_t))
				break;
		}
	}
	r->t_end = perf_now_ns();
	atomic_store_explicit(&r->done, true, memory_order_release);
	return perf_aborted(r) ? -EIO : 0;
}

static void *
perf_thread_main(void *arg)
{
	struct perf_node *n = arg;
	struct perf_run *r = n->run;
	unsigned idle = 0;

	while (!atomic_load_explicit(&r->done, memory_order_acquire) && !perf_aborted(r)) {
		unsigned work = perf_step(r, n);

		if (n->role == PERF_ROLE_SOURCE && perf_source_done(r)) {
			r->t_end = perf_now_ns();
			atomic_store_explicit(&r->done, true, memory_order_release);
			break;
		}
		/*
		 * Busy-poll while there is work; when idle for a while give the
		 * CPU away, because there may be more domains than cores.
		 */
		if (work != 0) {
			idle = 0;
		} else if (++idle >= 256) {
			idle = 0;
			sched_yield();
		} else {
			perf_cpu_relax();
		}
	}
	return NULL;
}

/*
 * One thread per domain; the main thread only prints and watches. Each
 * domain is touched by its own thread alone: setup happened before the
 * threads started and teardown happens after they are joined.
 */
static int
perf_run_threads(struct perf_run *r)
{
	uint64_t period = (uint64_t)(r->o->stats_period * (double)PERF_SEC_NS);
	uint64_t last = 0, last_t;
	int rc, ret = 0;

	perf_start_clock(r);
	last_t = r->t_start;
	for (unsigned i = 0; i < r->nnodes; i++) {
		struct perf_node *n = &r->nodes[i];

		rc = pthread_create(&n->thread, NULL, perf_thread_main, n);
		if (rc != 0) {
			fprintf(stderr, "bulkperf: pthread_create: %s\n", strerror(rc));
			r->errors++;
			perf_abort(r);
			ret = -rc;
			break;
		}
		n->thread_started = true;
	}
	while (!atomic_load_explicit(&r->done, memory_order_acquire) && !perf_aborted(r)) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		uint64_t now;

		nanosleep(&ts, NULL);
		now = perf_now_ns();
		if (period != 0 && now - r->t_last_print >= period)
			perf_stats_periodic(r, now, false);
		if (perf_watchdog(r, now, &last, &last_t))
			break;
	}
	for (unsigned i = 0; i < r->nnodes; i++)
		if (r->nodes[i].thread_started) {
			pthread_join(r->nodes[i].thread, NULL);
			r->nodes[i].thread_started = false;
		}
	if (r->t_end == 0)
		r->t_end = perf_now_ns();
	atomic_store_explicit(&r->done, true, memory_order_release);
	return perf_aborted(r) ? -EIO : ret;
}

/* --------------------------------------------------------------- teardown */

static bool
perf_all_closed(struct perf_run *r)
{
	for (unsigned i = 0; i < 2 * r->nlinks; i++) {
		struct bulk_channel *ch = r->ends[i].ch;

		if (ch != NULL && bulk_channel_state(ch) != BULK_STATE_CLOSED &&
		    bulk_channel_state(ch) != BULK_STATE_INITIALIZED)
			return false;
		/* A channel can only be freed once its destroy continuation ran. */
		if ((i & 1) == 0 && r->ends[i].started && !r->ends[i].cont_fired)
			return false;
	}
	return true;
}

/*
 * After a run that was not aborted every queue is empty and every buffer is
 * home, so each buffer the source sent crossed every link both ways, and
 * with --verify the sink and the source saw every sequence number up to the
 * last one (their in-order checks alone miss buffers lost at the very end).
 */
static void
perf_check_accounting(struct perf_run *r)
{
	if (r->ends == NULL || perf_aborted(r))
		return;
	for (unsigned i = 0; i < r->nlinks; i++) {
		struct perf_ctrs_snap tx, rx;

		perf_ctrs_read(&r->ends[2 * i].ctr, &tx);
		perf_ctrs_read(&r->ends[2 * i + 1].ctr, &rx);
		if (tx.tx_bufs != r->sent || rx.rx_bufs != r->sent || rx.tx_bufs != r->sent ||
		    tx.rx_bufs != r->sent) {
			fprintf(stderr,
				"bulkperf: link %u: source sent %" PRIu64 ", moved %" PRIu64
				"/%" PRIu64 ", passed back %" PRIu64 "/%" PRIu64 " (TX/RX)\n",
				i, r->sent, tx.tx_bufs, rx.rx_bufs, rx.tx_bufs, tx.rx_bufs);
			r->errors++;
		}
	}
	/* Both check the sequence in order: the source what came back. */
	for (unsigned i = 0; r->o->verify && i < r->nnodes; i += r->nnodes - 1) {
		struct perf_node *n = &r->nodes[i];

		if (n->expect_seq != r->prepared) {
			fprintf(stderr,
				"bulkperf: %s expects sequence number %" PRIu64
				" next, but the source sent %" PRIu64 "\n",
				n->name, n->expect_seq, r->prepared);
			perf_ctr_add(&n->verify_failures, 1);
		}
	}
}

static void
perf_teardown(struct perf_run *r)
{
	uint64_t deadline;
	int rc;

	if (r->nodes == NULL)
		return;
	r->tearing_down = true;
	for (unsigned i = 0; r->ends != NULL && i < 2 * r->nlinks; i++)
		if (r->ends[i].ch != NULL)
			bulk_channel_stats_get(r->ends[i].ch, &r->ends[i].lib);

	perf_pool_home(r);
	perf_check_accounting(r);

	/* The creator (TX end) tears each connected link down. */
	for (unsigned i = 0; r->ends != NULL && i < r->nlinks; i++) {
		struct perf_end *tx = &r->ends[2 * i];

		if (tx->ch == NULL || bulk_channel_state(tx->ch) != BULK_STATE_CONNECTED) {
			tx->started = false;
			continue;
		}
		rc = bulk_channel_destroy(tx->ch, perf_end_cont(tx));
		if (rc < 0) {
			fprintf(stderr, "bulkperf: destroy link %u: %s\n", i, bulk_strerror(rc));
			r->errors++;
			tx->started = false;
		}
	}
	deadline = perf_now_ns() + PERF_SETUP_TIMEOUT_NS;
	while (r->ends != NULL && !perf_all_closed(r)) {
		if (perf_poll_all(r) < 0)
			break;
		if (perf_now_ns() > deadline) {
			fprintf(stderr, "bulkperf: channels did not close within 5 s\n");
			r->errors++;
			break;
		}
	}
	for (unsigned i = 0; r->ends != NULL && i < r->nlinks; i++) {
		struct perf_end *tx = &r->ends[2 * i];

		if (tx->started && tx->cont_fired && tx->cont_err != 0) {
			fprintf(stderr, "bulkperf: teardown of link %u: %s\n", i,
				bulk_strerror(tx->cont_err));
			r->errors++;
		}
	}
	/* Binder first, then creator, then the endpoint the creator made. */
	for (unsigned i = 0; r->ends != NULL && i < r->nlinks; i++) {
		struct perf_end *tx = &r->ends[2 * i], *rx = &r->ends[2 * i + 1];

		if (rx->ch != NULL) {
			rc = bulk_channel_free(rx->ch);
			if (rc < 0) {
				fprintf(stderr, "bulkperf: free link %u RX channel: %s\n", i,
					bulk_strerror(rc));
				r->errors++;
			} else {
				rx->ch = NULL;
			}
		}
		if (tx->ch != NULL) {
			rc = bulk_channel_free(tx->ch);
			if (rc < 0) {
				fprintf(stderr, "bulkperf: free link %u TX channel: %s\n", i,
					bulk_strerror(rc));
				r->errors++;
			} else {
				tx->ch = NULL;
			}
		}
		if (r->eps[i] != NULL && tx->ch == NULL) {
			rc = bulk_endpoint_free(r->eps[i]);
			if (rc < 0) {
				fprintf(stderr, "bulkperf: free endpoint of link %u: %s\n", i,
					bulk_strerror(rc));
				r->errors++;
			} else {
				r->eps[i] = NULL;
			}
		}
	}
	if (r->pool != NULL) {
		rc = bulk_pool_free(r->pool);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: free pool: %s\n", bulk_strerror(rc));
			r->errors++;
		} else {
			r->pool = NULL;
		}
	}
	for (unsigned i = 0; i < r->nnodes; i++) {
		struct perf_node *n = &r->nodes[i];

		if (n->dom == NULL)
			continue;
		rc = bulk_domain_destroy(n->dom);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: destroy domain %s: %s\n", n->name,
				bulk_strerror(rc));
			r->errors++;
		} else {
			n->dom = NULL;
		}
	}
}


int
perf_local_main(const struct perf_opts *o)
{
	struct perf_run r;
	int rc;

	rc = perf_setup(&r, o);
	if (rc < 0 || perf_csv_open(&r) < 0) {
		perf_teardown(&r);
		perf_run_free(&r);
		return PERF_EXIT_FAIL;
	}
	if (o->threads)
		perf_run_threads(&r);
	else
		perf_run_single(&r);
	perf_teardown(&r);
	rc = perf_report(&r, true);
	perf_run_free(&r);
	return rc;
}
