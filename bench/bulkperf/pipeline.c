/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The pipeline: domains, channels and the pool; the per-domain step (poll,
 * produce, send); the round-robin and the thread-per-domain drivers; and an
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

/* Golden-ratio multiplier: consecutive sequence numbers give unrelated patterns. */
#define PERF_PATTERN_MUL      0x9E3779B97F4A7C15ull
#define PERF_SEC_NS	      1000000000ull
#define PERF_SETUP_TIMEOUT_NS (5 * PERF_SEC_NS)
/* No buffer moved for this long while some are away: something is stuck. */
#define PERF_STALL_NS	      (10 * PERF_SEC_NS)
#define PERF_MAX_REPORTS      10u

struct perf_meta {
	uint64_t seq;
	uint64_t ts; /* send time in ns, 0: no latency sample for this buffer */
};
_Static_assert(sizeof(struct perf_meta) == PERF_META_SIZE, "meta is seq + timestamp");

atomic_bool perf_interrupted;

static inline void
perf_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

static void
perf_abort(struct perf_run *r)
{
	atomic_store_explicit(&r->abort, true, memory_order_release);
}

static bool
perf_aborted(struct perf_run *r)
{
	return atomic_load_explicit(&r->abort, memory_order_acquire);
}

/* ------------------------------------------------------------ send queue */

static int
perf_txq_init(struct perf_txq *q, uint32_t n)
{
	uint32_t cap = 1;

	while (cap < n)
		cap <<= 1;
	q->bufs = calloc(cap, sizeof(*q->bufs));
	q->lens = calloc(cap, sizeof(*q->lens));
	q->meta = calloc(cap, PERF_META_SIZE);
	if (q->bufs == NULL || q->lens == NULL || q->meta == NULL)
		return -ENOMEM;
	q->mask = cap - 1;
	q->head = 0;
	q->tail = 0;
	return 0;
}

static void
perf_txq_fini(struct perf_txq *q)
{
	free(q->bufs);
	free(q->lens);
	free(q->meta);
	memset(q, 0, sizeof(*q));
}

static inline uint32_t
perf_txq_count(const struct perf_txq *q)
{
	return q->tail - q->head;
}

static void
perf_end_error(struct perf_end *e, const char *what, int rc)
{
	/* The first error of an end is worth a line; the rest only a count. */
	if (perf_ctr_get(&e->ctr.errors) == 0)
		fprintf(stderr, "bulkperf: link %u %s end: %s: %s\n", e->link,
			e->tx_side ? "TX" : "RX", what, bulk_strerror(rc));
	perf_ctr_add(&e->ctr.errors, 1);
	perf_abort(e->run);
}

/*
 * The queue holds at most every buffer of the pool, which is all there is,
 * so it can only overflow through a bug; then stop the run rather than lose
 * track of a buffer.
 */
static inline void
perf_txq_push(struct perf_end *e, struct bulk_buffer *b, uint32_t len, const void *meta)
{
	struct perf_txq *q = &e->q;
	uint32_t i;

	if (perf_txq_count(q) > q->mask) {
		perf_end_error(e, "send queue overflow", -ENOBUFS);
		return;
	}
	i = q->tail & q->mask;
	q->bufs[i] = b;
	q->lens[i] = len;
	memcpy(&q->meta[(size_t)i * PERF_META_SIZE], meta, PERF_META_SIZE);
	q->tail++;
}

/*
 * Send what the queue holds in bursts of --burst until it is empty or the
 * channel's queue is full (then the rest waits for the next step, after the
 * peer had a chance to consume).
 */
static unsigned
perf_flush(struct perf_end *e)
{
	struct perf_txq *q = &e->q;
	uint32_t burst = e->run->o->burst;
	unsigned total = 0;

	while (q->head != q->tail) {
		uint32_t start = q->head & q->mask;
		uint32_t n = perf_txq_count(q);
		uint64_t bytes = 0;
		int rc;

		if (n > q->mask + 1 - start)
			n = q->mask + 1 - start;
		if (n > burst)
			n = burst;
		if (e->tx_side)
			rc = bulk_channel_move_burst(e->ch, &q->bufs[start], &q->lens[start],
						     &q->meta[(size_t)start * PERF_META_SIZE], n,
						     BULK_CONT_NONE);
		else
			rc = bulk_channel_pass_burst(e->ch, &q->bufs[start], &q->lens[start],
						     &q->meta[(size_t)start * PERF_META_SIZE], n,
						     BULK_CONT_NONE);
		if (rc < 0) {
			perf_end_error(e, e->tx_side ? "move" : "pass", rc);
			break;
		}
		for (int i = 0; i < rc; i++)
			bytes += q->lens[start + (uint32_t)i];
		q->head += (uint32_t)rc;
		perf_ctr_add(&e->ctr.tx_bufs, (uint64_t)rc);
		perf_ctr_add(&e->ctr.tx_bytes, bytes);
		total += (unsigned)rc;
		if ((uint32_t)rc < n) {
			perf_ctr_add(&e->ctr.qfull, 1);
			break;
		}
	}
	return total;
}

/* --------------------------------------------------------- payload check */

static void
perf_fill(void *addr, uint32_t len, uint64_t seq)
{
	uint64_t base = seq * PERF_PATTERN_MUL;
	uint64_t *w = addr;
	uint32_t nw = len / 8, i;

	for (i = 0; i < nw; i++)
		w[i] = base ^ i;
	if (len & 7) {
		uint64_t x = base ^ nw;

		memcpy((uint8_t *)addr + (size_t)nw * 8, &x, len & 7);
	}
}

static void
perf_check(struct perf_node *n, const struct bulk_buffer *b, uint32_t len, const uint8_t *meta)
{
	struct perf_run *r = n->run;
	const uint64_t *w = b->addr;
	struct perf_meta m;
	uint64_t base;
	uint32_t nw = len / 8, i;
	const char *why = NULL;
	uint64_t expect = n->expect_seq;

	memcpy(&m, meta, sizeof(m));
	base = m.seq * PERF_PATTERN_MUL;
	/* Resynchronise on the received number so one gap is one failure. */
	n->expect_seq = m.seq + 1;
	if (m.seq != expect) {
		why = "sequence number out of order";
	} else if (len != r->payload_len) {
		why = "payload length differs";
	} else {
		for (i = 0; i < nw; i++)
			if (w[i] != (base ^ i))
				break;
		if (i < nw) {
			why = "payload differs";
		} else if (len & 7) {
			uint64_t x = base ^ nw;

			if (memcmp((const uint8_t *)b->addr + (size_t)nw * 8, &x, len & 7) != 0)
				why = "payload tail differs";
		}
	}
	if (why == NULL)
		return;
	perf_ctr_add(&n->verify_failures, 1);
	if (n->reported++ < PERF_MAX_REPORTS)
		fprintf(stderr,
			"bulkperf: verify failure at %s: %s (buffer %u, seq %" PRIu64
			", expected seq %" PRIu64 ", len %u)\n",
			n->name, why, b->index, m.seq, expect, len);
}

/* -------------------------------------------------------------- callbacks */

/* Source: buffers come home. Take latency samples, put them back in the pool. */
static void
perf_source_on_return(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
		      const uint32_t *lens, const void *meta, unsigned n)
{
	struct perf_end *e = bulk_channel_user(ch);
	struct perf_run *r = e->run;
	const uint8_t *mp = meta;
	uint64_t bytes = 0, now = 0;
	int rc;

	if (r->stamp)
		now = perf_now_ns();
	for (unsigned i = 0; i < n; i++) {
		bytes += lens[i];
		if (r->stamp) {
			struct perf_meta m;

			memcpy(&m, mp + (size_t)i * PERF_META_SIZE, sizeof(m));
			if (m.ts != 0 && now >= m.ts)
				perf_hist_record(&r->hist, now - m.ts);
		}
	}
	rc = bulk_pool_put_burst(r->pool, bufs, n);
	if (rc < 0)
		perf_end_error(e, "pool put", rc);
	r->returned += n;
	perf_ctr_add(&e->ctr.rx_bufs, n);
	perf_ctr_add(&e->ctr.rx_bytes, bytes);
}

/* Sink: check, count, pass straight back. */
static void
perf_sink_on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
		  const void *meta, unsigned n)
{
	struct perf_end *e = bulk_channel_user(ch);
	const uint8_t *mp = meta;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n; i++) {
		const uint8_t *m = mp + (size_t)i * PERF_META_SIZE;

		bytes += lens[i];
		if (e->run->o->verify)
			perf_check(e->node, bufs[i], lens[i], m);
		perf_txq_push(e, bufs[i], lens[i], m);
	}
	perf_ctr_add(&e->ctr.rx_bufs, n);
	perf_ctr_add(&e->ctr.rx_bytes, bytes);
}

/* Hop, upstream link: a moved buffer is ours READ_WRITE; move the same one on. */
static void
perf_hop_on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
		 const void *meta, unsigned n)
{
	struct perf_end *e = bulk_channel_user(ch);
	struct perf_end *down = e->node->down;
	const uint8_t *mp = meta;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n; i++) {
		bytes += lens[i];
		perf_txq_push(down, bufs[i], lens[i], mp + (size_t)i * PERF_META_SIZE);
	}
	perf_ctr_add(&e->ctr.rx_bufs, n);
	perf_ctr_add(&e->ctr.rx_bytes, bytes);
}

/* Hop, downstream link: a buffer passed back; pass it on towards its owner. */
static void
perf_hop_on_return(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
		   const void *meta, unsigned n)
{
	struct perf_end *e = bulk_channel_user(ch);
	struct perf_end *up = e->node->up;
	const uint8_t *mp = meta;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n; i++) {
		bytes += lens[i];
		perf_txq_push(up, bufs[i], lens[i], mp + (size_t)i * PERF_META_SIZE);
	}
	perf_ctr_add(&e->ctr.rx_bufs, n);
	perf_ctr_add(&e->ctr.rx_bytes, bytes);
}

static int
perf_on_pool_assigned(struct bulk_channel *ch, struct bulk_pool *pool)
{
	struct perf_end *e = bulk_channel_user(ch);

	(void)pool;
	/*
	 * A hop passes the pool on to its downstream channel, but only after
	 * this poll returned: the assignment on this channel is then complete.
	 */
	if (e->node->role == PERF_ROLE_HOP)
		e->node->view_assigned = true;
	return 0;
}

static void
perf_on_teardown(struct bulk_channel *ch, int reason)
{
	struct perf_end *e = bulk_channel_user(ch);

	if (e->run->tearing_down)
		return;
	perf_end_error(e, "peer tore the channel down", reason);
}

static void
perf_on_unexpected(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
		   const void *meta, unsigned n)
{
	struct perf_end *e = bulk_channel_user(ch);

	(void)bufs;
	(void)lens;
	(void)meta;
	(void)n;
	perf_end_error(e, "unexpected delivery", -EPROTO);
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

static void
perf_cont(void *arg, int err, struct bulk_channel *ch)
{
	struct perf_end *e = arg;

	(void)ch;
	e->cont_fired++;
	e->cont_err = err;
}

static struct bulk_cont
perf_end_cont(struct perf_end *e)
{
	struct bulk_cont k = { perf_cont, e };

	e->started = true;
	e->cont_fired = 0;
	e->cont_err = 0;
	return k;
}

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
	const struct perf_opts *o = r->o;
	struct bulk_pool_params pp;
	uint64_t deadline;
	bool all;
	int rc;

	memset(&pp, 0, sizeof(pp));
	pp.count = o->buffers;
	pp.buffer_size = (o->buffer_size + PERF_ALIGN - 1) & ~(PERF_ALIGN - 1);
	pp.align = PERF_ALIGN;
	rc = bulk_pool_alloc(r->nodes[0].dom, &pp, &r->pool);
	if (rc < 0) {
		fprintf(stderr, "bulkperf: pool of %u x %u bytes: %s\n", pp.count, pp.buffer_size,
			bulk_strerror(rc));
		r->pool = NULL;
		return rc;
	}
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

int
perf_setup(struct perf_run *r, const struct perf_opts *o)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->o = o;
	r->nnodes = o->hops + 2;
	r->nlinks = o->hops + 1;
	r->payload_len = o->buffer_size;
	/* Poll at least a burst per channel, and the library default otherwise. */
	r->budget = o->burst > 64 ? o->burst : 64;
	r->inflight_max = o->inflight;
	r->stamp = o->mode == PERF_MODE_ECHO || o->mode == PERF_MODE_RTT ||
		   o->mode == PERF_MODE_PASSTHROUGH;
	r->stamp_every = o->mode == PERF_MODE_RTT;
	perf_hist_init(&r->hist);
	atomic_init(&r->done, false);
	atomic_init(&r->abort, false);

	r->nodes = calloc(r->nnodes, sizeof(*r->nodes));
	r->ends = calloc(2 * r->nlinks, sizeof(*r->ends));
	r->eps = calloc(r->nlinks, sizeof(*r->eps));
	if (r->nodes == NULL || r->ends == NULL || r->eps == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < r->nnodes; i++) {
		struct perf_node *n = &r->nodes[i];

		n->run = r;
		n->idx = i;
		if (i == 0) {
			n->role = PERF_ROLE_SOURCE;
			snprintf(n->name, sizeof(n->name), "source");
		} else if (i == r->nnodes - 1) {
			n->role = PERF_ROLE_SINK;
			snprintf(n->name, sizeof(n->name), "sink");
		} else {
			n->role = PERF_ROLE_HOP;
			snprintf(n->name, sizeof(n->name), "hop%u", i);
		}
		rc = bulk_domain_create(n->name, &n->dom);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: domain %s: %s\n", n->name, bulk_strerror(rc));
			n->dom = NULL;
			return rc;
		}
	}
	for (unsigned i = 0; i < 2 * r->nlinks; i++) {
		struct perf_end *e = &r->ends[i];

		e->run = r;
		e->link = i / 2;
		e->tx_side = (i & 1) == 0;
		e->node = &r->nodes[e->link + (e->tx_side ? 0 : 1)];
		if (e->tx_side)
			e->node->down = e;
		else
			e->node->up = e;
		if (perf_txq_init(&e->q, o->buffers) < 0)
			return -ENOMEM;
	}
	rc = perf_connect(r);
	if (rc < 0)
		return rc;
	return perf_assign_pool(r);
}

/* ---------------------------------------------------------------- running */

/* Source: take buffers from the pool, stamp and fill them, queue them. */
static unsigned
perf_source_produce(struct perf_run *r, struct perf_node *n)
{
	const struct perf_opts *o = r->o;
	struct perf_end *e = n->down;
	struct bulk_buffer *bufs[PERF_MAX_BURST];
	uint64_t want, away, ts = 0;
	int got;

	if (r->stop_sending)
		return 0;
	if (atomic_load_explicit(&perf_interrupted, memory_order_relaxed) ||
	    (o->count == 0 && perf_now_ns() >= r->deadline)) {
		/* What is queued still goes out: those sequence numbers are taken. */
		r->stop_sending = true;
		return 0;
	}
	if (perf_txq_count(&e->q) >= o->burst)
		return 0;
	want = o->burst - perf_txq_count(&e->q);
	away = r->prepared - r->returned;
	if (away >= r->inflight_max)
		return 0;
	if (want > r->inflight_max - away)
		want = r->inflight_max - away;
	if (o->count != 0 && want > o->count - r->prepared)
		want = o->count - r->prepared;
	got = bulk_pool_get_burst(r->pool, bufs, (unsigned)want);
	if (got < 0) {
		perf_end_error(e, "pool get", got);
		return 0;
	}
	if (r->stamp && got > 0)
		ts = perf_now_ns();
	for (int i = 0; i < got; i++) {
		struct perf_meta m;

		m.seq = r->prepared++;
		/* echo/passthrough: one sample per burst; rtt: every buffer. */
		m.ts = (i == 0 || r->stamp_every) ? ts : 0;
		if (o->verify)
			perf_fill(bufs[i]->addr, r->payload_len, m.seq);
		perf_txq_push(e, bufs[i], r->payload_len, &m);
	}
	if (o->count != 0 && r->prepared == o->count)
		r->stop_sending = true;
	return (unsigned)got;
}

static unsigned
perf_step(struct perf_run *r, struct perf_node *n)
{
	unsigned work = 0;
	int rc;

	rc = bulk_domain_poll(n->dom, r->budget);
	if (rc < 0)
		perf_end_error(n->down ? n->down : n->up, "poll", rc);
	else
		work += (unsigned)rc;
	if (n->role == PERF_ROLE_SOURCE)
		work += perf_source_produce(r, n);
	if (n->down != NULL) {
		unsigned k = perf_flush(n->down);

		if (n->role == PERF_ROLE_SOURCE)
			r->sent += k;
		work += k;
	}
	if (n->up != NULL)
		work += perf_flush(n->up);
	return work;
}

static bool
perf_source_done(const struct perf_run *r)
{
	const struct perf_txq *q = &r->nodes[0].down->q;

	return r->stop_sending && q->head == q->tail && r->returned == r->sent;
}

static uint64_t
perf_progress(const struct perf_run *r)
{
	return perf_ctr_get(&r->ends[0].ctr.tx_bufs) + perf_ctr_get(&r->ends[0].ctr.rx_bufs);
}

/* Called by the printer: abort when nothing moved for PERF_STALL_NS. */
static bool
perf_watchdog(struct perf_run *r, uint64_t now, uint64_t *last, uint64_t *last_t)
{
	uint64_t p = perf_progress(r);

	if (p != *last) {
		*last = p;
		*last_t = now;
		return false;
	}
	if (now - *last_t < PERF_STALL_NS)
		return false;
	fprintf(stderr,
		"bulkperf: no progress for %llu s (sent %" PRIu64 ", back %" PRIu64
		"), giving up\n",
		PERF_STALL_NS / PERF_SEC_NS, perf_ctr_get(&r->ends[0].ctr.tx_bufs),
		perf_ctr_get(&r->ends[0].ctr.rx_bufs));
	r->errors++;
	perf_abort(r);
	return true;
}

static void
perf_start_clock(struct perf_run *r)
{
	const struct perf_opts *o = r->o;

	r->t_start = perf_now_ns();
	r->t_last_print = r->t_start;
	r->deadline = r->t_start + (uint64_t)(o->duration * (double)PERF_SEC_NS);
}

/*
 * One thread drives every domain. The order goes down the chain and back up
 * (source, hops, sink, hops in reverse), so a buffer makes its whole round
 * trip in one sweep and latency is not an artefact of the polling order.
 */
int
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
int
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
 * with --verify the sink saw every sequence number up to the last one (its
 * in-order check alone misses buffers lost at the very end).
 */
static void
perf_check_accounting(struct perf_run *r)
{
	struct perf_node *sink;

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
	sink = &r->nodes[r->nnodes - 1];
	if (r->o->verify && sink->expect_seq != r->prepared) {
		fprintf(stderr,
			"bulkperf: sink expects sequence number %" PRIu64 " next, but the source "
			"sent %" PRIu64 "\n",
			sink->expect_seq, r->prepared);
		perf_ctr_add(&sink->verify_failures, 1);
	}
}

void
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

	/* Every buffer must be home: in the source's free list. */
	if (r->pool != NULL) {
		uint32_t home = bulk_pool_free_count(r->pool);

		if (home < r->o->buffers) {
			fprintf(stderr, "bulkperf: %u of %u buffers did not come home\n",
				r->o->buffers - home, r->o->buffers);
			r->errors += r->o->buffers - home;
		} else if (home > r->o->buffers) {
			fprintf(stderr, "bulkperf: %u buffers in a pool of %u\n", home,
				r->o->buffers);
			r->errors++;
		}
	}
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

void
perf_run_free(struct perf_run *r)
{
	for (unsigned i = 0; r->ends != NULL && i < 2 * r->nlinks; i++)
		perf_txq_fini(&r->ends[i].q);
	free(r->ends);
	free(r->nodes);
	free(r->eps);
	r->ends = NULL;
	r->nodes = NULL;
	r->eps = NULL;
}
