/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every domain of the chain does, whichever backend links it to the
 * next: the payload pattern and its check, the callbacks of the source and
 * the sink (a hop is lib/app's forwarder), the source's production, one
 * step of a domain, the watchdog, and the end-of-run checks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bulkperf.h"

/* Golden-ratio multiplier: consecutive sequence numbers give unrelated patterns. */
#define PERF_PATTERN_MUL 0x9E3779B97F4A7C15ull
/* No buffer moved for this long while some are away: something is stuck. */
#define PERF_STALL_NS	 (10 * APP_SEC_NS)
#define PERF_MAX_REPORTS 10u

struct perf_meta {
	uint64_t seq; /* | PERF_SEQ_VERIFY when the payload carries the pattern */
	uint64_t ts;  /* send time in ns, 0: no latency sample for this buffer */
};
_Static_assert(sizeof(struct perf_meta) == PERF_META_SIZE, "meta is seq + timestamp");

const uint64_t perf_meta_stop[2] = { PERF_SEQ_STOP, 0 };

void
perf_abort(struct perf_run *r)
{
	atomic_store_explicit(&r->abort, true, memory_order_release);
}

bool
perf_aborted(struct perf_run *r)
{
	return atomic_load_explicit(&r->abort, memory_order_acquire);
}

void
perf_node_name(unsigned idx, unsigned hops, char *buf, size_t len)
{
	if (idx == 0)
		snprintf(buf, len, "source");
	else if (idx == hops + 1)
		snprintf(buf, len, "sink");
	else
		snprintf(buf, len, "hop%u", idx);
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

/* Count a failure; say what it was for the first PERF_MAX_REPORTS. */
static void
perf_verify_failed(struct perf_node *n, const char *what)
{
	app_ctr_add(&n->verify_failures, 1);
	if (n->reported++ < PERF_MAX_REPORTS)
		app_err("verify failure at %s: %s", n->name, what);
}

/*
 * Check one buffer against the pattern of its sequence number, and the
 * sequence against the one expected: every channel is FIFO, so the sink
 * and the source (for what comes back) see the numbers in order.
 */
static void
perf_check(struct perf_node *n, const struct bulk_buffer *b, uint32_t len, uint64_t seq)
{
	struct perf_run *r = n->run;
	const uint64_t *w = b->addr;
	uint64_t base = seq * PERF_PATTERN_MUL, expect = n->expect_seq;
	uint32_t nw = len / 8, i;
	const char *why = NULL;

	app_ctr_add(&n->checked, 1);
	/* Resynchronise on the received number so one gap is one failure. */
	n->expect_seq = seq + 1;
	if (seq != expect) {
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
	if (why != NULL) {
		char what[160];

		snprintf(what, sizeof(what),
			 "%s (buffer %u, seq %" PRIu64 ", expected seq %" PRIu64 ", len %u)", why,
			 b->index, seq, expect, len);
		perf_verify_failed(n, what);
	}
}

/* -------------------------------------------------------------- callbacks */

/* Source: buffers come home. Take latency samples, check, put them back in the pool. */
static void
perf_source_on_return(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
		      const uint32_t *lens, const void *meta, unsigned n)
{
	struct perf_end *e = bulk_channel_user(ch);
	struct perf_node *node = e->node;
	struct perf_run *r = node->run;
	const uint8_t *mp = meta;
	uint64_t bytes = 0, now = 0;
	int rc;

	if (r->stamp)
		now = app_now_ns();
	for (unsigned i = 0; i < n; i++) {
		struct perf_meta m;
		uint64_t seq;

		memcpy(&m, mp + (size_t)i * PERF_META_SIZE, sizeof(m));
		/* --return-len: the payload went one way; count what was sent. */
		bytes += r->o->return_len_set ? r->o->buffer_size : lens[i];
		if (m.seq & PERF_SEQ_STOP) {
			if (!r->peer_stopped)
				app_err("%s: a process downstream gave up; stopping and draining",
					node->name);
			r->peer_stopped = true;
			r->stop_sending = true;
			continue;
		}
		if (r->stamp && m.ts != 0 && now >= m.ts)
			app_hist_record(&r->hist, now - m.ts);
		if (!r->o->verify || !(m.seq & PERF_SEQ_VERIFY))
			continue;
		seq = m.seq & ~PERF_SEQ_VERIFY;
		if (!r->o->return_len_set) {
			perf_check(node, bufs[i], lens[i], seq);
			continue;
		}
		/* No data came back: the order is all there is to check. */
		app_ctr_add(&node->checked, 1);
		if (seq != node->expect_seq) {
			char what[96];

			snprintf(what, sizeof(what), "sequence %" PRIu64 " back, expected %" PRIu64,
				 seq, node->expect_seq);
			perf_verify_failed(node, what);
		}
		node->expect_seq = seq + 1;
	}
	rc = bulk_pool_put_burst(r->pool, bufs, n);
	if (rc < 0)
		app_chan_error(&e->c, "pool put", rc);
	r->returned += n;
	app_ctr_add(&e->c.ctr.rx_bufs, n);
	app_ctr_add(&e->c.ctr.rx_bytes, bytes);
}

/* Sink: check what the source marked, count, pass straight back. */
static void
perf_sink_on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
		  const void *meta, unsigned n)
{
	struct perf_end *e = bulk_channel_user(ch);
	struct perf_node *node = e->node;
	struct perf_run *r = node->run;
	const struct perf_opts *o = r->o;
	const uint8_t *mp = meta;

	app_chan_count_rx(&e->c, lens, n);
	/* A sink in another process learns the payload length from the first buffer. */
	if (r->payload_len == 0 && n > 0)
		r->payload_len = lens[0];
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *m = mp + (size_t)i * PERF_META_SIZE;
		uint64_t seq;

		if (node->bounce) {
			app_chan_push(&e->c, bufs[i], lens[i], perf_meta_stop);
			continue;
		}
		memcpy(&seq, m, sizeof(seq));
		if (seq & PERF_SEQ_VERIFY) {
			perf_check(node, bufs[i], lens[i], seq & ~PERF_SEQ_VERIFY);
		} else if (o->verify) {
			/* A sink told --verify insists that the source marked every buffer. */
			char what[96];

			snprintf(what, sizeof(what),
				 "buffer %u carries no pattern (run the source with --verify too)",
				 bufs[i]->index);
			perf_verify_failed(node, what);
		}
		app_chan_push(
			&e->c, bufs[i],
			o->return_len_set && o->return_len < lens[i] ? o->return_len : lens[i], m);
	}
}

/*
 * Callbacks by the role of the domain and the end of the link: what a
 * pool assignment, a moved and a passed-back burst do; a copy, which
 * bulkperf never sends, is unexpected anywhere; teardown as lib/app says.
 */
#define PERF_CALLBACKS(pool, move, back)                                                           \
	{                                                                                          \
		.pool_assigned = (pool), .move_received = (move), .buffer_received = (back),       \
		.copy_received = app_chan_on_unexpected, .teardown_received = app_chan_on_teardown \
	}

const struct bulk_channel_callbacks perf_cb_source =
	PERF_CALLBACKS(NULL, app_chan_on_unexpected, perf_source_on_return);
const struct bulk_channel_callbacks perf_cb_hop_down =
	PERF_CALLBACKS(NULL, app_chan_on_unexpected, app_fwd_on_return);
const struct bulk_channel_callbacks perf_cb_hop_up =
	PERF_CALLBACKS(app_chan_on_pool, app_fwd_on_move, app_chan_on_unexpected);
const struct bulk_channel_callbacks perf_cb_sink =
	PERF_CALLBACKS(app_chan_on_pool, perf_sink_on_move, app_chan_on_unexpected);

/*
 * The sink gives up (an error here, SIGINT or SIGTERM) but keeps the
 * source's buffers safe: closing upstream now would strand whatever the
 * source moves before it sees the teardown. Instead, send everything held
 * home marked PERF_SEQ_STOP, and from now on pass back at once what
 * arrives, marked too: the source stops, drains and closes the link in
 * order. (A hop does the same through its forwarder.)
 */
void
perf_sink_give_up(struct perf_node *n)
{
	n->bounce = true;
	n->up->c.q.head = n->up->c.q.tail;
	(void)app_chan_pass_home(&n->up->c, perf_meta_stop, PERF_SETUP_NS);
}

/* ------------------------------------------------------------------ pool */

int
perf_pool_alloc(struct perf_run *r, struct bulk_domain *d)
{
	const struct perf_opts *o = r->o;
	struct bulk_pool_params pp;
	int rc;

	memset(&pp, 0, sizeof(pp));
	pp.count = o->buffers;
	pp.buffer_size = (o->buffer_size + PERF_ALIGN - 1) & ~(PERF_ALIGN - 1);
	pp.align = PERF_ALIGN;
	pp.mem = r->form->mem;
	rc = bulk_pool_alloc(d, &pp, &r->pool);
	if (rc < 0) {
		app_err("pool of %u x %u bytes: %s", pp.count, pp.buffer_size, bulk_strerror(rc));
		r->pool = NULL;
	}
	return rc;
}

/* After the run: every buffer must be home, in the source's free list. */
void
perf_pool_home(struct perf_run *r)
{
	uint32_t home;

	if (r->pool == NULL)
		return;
	/*
	 * An aborted run leaves buffers in send queues, and a peer that went
	 * away gives back what it held (READ_WRITE again): those are home too.
	 * A clean run has none, and putting one back would hide a leak.
	 */
	if (perf_aborted(r))
		for (uint32_t i = 0; i < r->o->buffers; i++) {
			struct bulk_buffer *b = bulk_pool_buffer(r->pool, i);

			if (b != NULL && b->state == BULK_BUFFER_READ_WRITE)
				(void)bulk_pool_put(b); /* -BULK_E_BUFFER_FREE: home already */
		}
	home = bulk_pool_free_count(r->pool);
	if (home < r->o->buffers) {
		app_err("%u of %u buffers did not come home", r->o->buffers - home, r->o->buffers);
		r->errors += r->o->buffers - home;
	} else if (home > r->o->buffers) {
		app_err("%u buffers in a pool of %u", home, r->o->buffers);
		r->errors++;
	}
}

/*
 * After a run that was not aborted every queue is empty and every buffer
 * is home, so each buffer the source sent crossed every link held here
 * both ways, and with --verify the source (and the sink, if here) saw
 * every sequence number up to the last one (their in-order checks alone
 * miss buffers lost at the very end).
 */
void
perf_check_counts(struct perf_run *r)
{
	if (r->source == NULL)
		return;
	/* The process that gave up said why; everything came home. */
	if (r->peer_stopped)
		r->errors++;
	if (perf_aborted(r))
		return;
	for (unsigned i = 0; i < r->nends; i++) {
		struct perf_end *e = &r->ends[i];
		struct app_ctrs_snap c;

		app_ctrs_read(&e->c.ctr, &c);
		if (c.tx_bufs != r->sent || c.rx_bufs != r->sent) {
			app_err("%s: %s (%s end): the source sent %" PRIu64 ", %s %" PRIu64
				", %s %" PRIu64,
				e->node->name, e->c.addr, e->c.tx_side ? "TX" : "RX", r->sent,
				e->c.tx_side ? "moved" : "passed back", c.tx_bufs,
				e->c.tx_side ? "back" : "arrived", c.rx_bufs);
			r->errors++;
		}
	}
	for (unsigned i = 0; r->o->verify && !r->peer_stopped && i < r->nnodes; i++) {
		struct perf_node *n = &r->nodes[i];

		if (n->role == PERF_ROLE_HOP || n->expect_seq == r->prepared)
			continue;
		app_err("%s expects sequence number %" PRIu64 " next, but the source sent %" PRIu64,
			n->name, n->expect_seq, r->prepared);
		app_ctr_add(&n->verify_failures, 1);
	}
}

/* ---------------------------------------------------------------- running */

/* Source: take buffers from the pool, stamp and fill them, queue them. */
static unsigned
perf_source_produce(struct perf_run *r, struct perf_node *n)
{
	const struct perf_opts *o = r->o;
	struct app_chan *c = &n->down->c;
	struct bulk_buffer *bufs[PERF_MAX_BURST];
	uint64_t want, away, ts = 0;
	int got;

	if (r->stop_sending)
		return 0;
	if (app_is_interrupted() || (o->count == 0 && app_now_ns() >= r->deadline)) {
		/* What is queued still goes out: those sequence numbers are taken. */
		r->stop_sending = true;
		return 0;
	}
	if (app_txq_count(&c->q) >= o->burst)
		return 0;
	want = o->burst - app_txq_count(&c->q);
	away = r->prepared - r->returned;
	if (away >= r->inflight_max)
		return 0;
	if (want > r->inflight_max - away)
		want = r->inflight_max - away;
	if (o->count != 0 && want > o->count - r->prepared)
		want = o->count - r->prepared;
	got = bulk_pool_get_burst(r->pool, bufs, (unsigned)want);
	if (got < 0) {
		app_chan_error(c, "pool get", got);
		return 0;
	}
	if (r->stamp && got > 0)
		ts = app_now_ns();
	for (int i = 0; i < got; i++) {
		uint8_t *meta = app_chan_push_slot(c, bufs[i], r->payload_len);
		/* echo/passthrough: one sample per burst; rtt: every buffer. */
		uint64_t seq = r->prepared++, t = (i == 0 || r->stamp_every) ? ts : 0;

		if (meta == NULL)
			break;
		if (o->verify) {
			perf_fill(bufs[i]->addr, r->payload_len, seq);
			seq |= PERF_SEQ_VERIFY;
		}
		/* struct perf_meta, written in place. */
		memcpy(meta + offsetof(struct perf_meta, seq), &seq, sizeof(seq));
		memcpy(meta + offsetof(struct perf_meta, ts), &t, sizeof(t));
	}
	if (o->count != 0 && r->prepared == o->count)
		r->stop_sending = true;
	return (unsigned)got;
}

unsigned
perf_step(struct perf_run *r, struct perf_node *n)
{
	unsigned work = 0;
	int rc;

	rc = bulk_domain_poll(n->dom, r->budget);
	if (rc < 0)
		app_chan_error(n->down ? &n->down->c : &n->up->c, "poll", rc);
	else
		work += (unsigned)rc;
	if (n->role == PERF_ROLE_HOP)
		app_fwd_step(&n->fwd);
	if (n->role == PERF_ROLE_SOURCE)
		work += perf_source_produce(r, n);
	if (n->down != NULL) {
		unsigned k = app_chan_flush(&n->down->c);

		if (n->role == PERF_ROLE_SOURCE)
			r->sent += k;
		work += k;
	}
	if (n->up != NULL)
		work += app_chan_flush(&n->up->c);
	return work;
}

bool
perf_source_done(const struct perf_run *r)
{
	const struct app_txq *q = &r->source->down->c.q;

	return r->stop_sending && q->head == q->tail && r->returned == r->sent;
}

static uint64_t
perf_progress(const struct perf_run *r)
{
	const struct app_ctrs *c = &r->source->down->c.ctr;

	return app_ctr_get(&c->tx_bufs) + app_ctr_get(&c->rx_bufs);
}

/* Called by the printer: abort when nothing moved for PERF_STALL_NS. */
bool
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
	app_err("no progress for %llu s (sent %" PRIu64 ", back %" PRIu64 "), giving up",
		PERF_STALL_NS / APP_SEC_NS, app_ctr_get(&r->source->down->c.ctr.tx_bufs),
		app_ctr_get(&r->source->down->c.ctr.rx_bufs));
	r->errors++;
	perf_abort(r);
	return true;
}

void
perf_start_clock(struct perf_run *r)
{
	r->t_start = app_now_ns();
	r->t_last_print = r->t_start;
	r->deadline = r->t_start + (uint64_t)(r->o->duration * (double)APP_SEC_NS);
	getrusage(RUSAGE_SELF, &r->ru0);
}

void
perf_stop_clock(struct perf_run *r)
{
	if (r->t_end == 0)
		r->t_end = app_now_ns();
	if (r->t_start != 0 && !r->cpu_done) {
		getrusage(RUSAGE_SELF, &r->ru1);
		r->cpu_done = true;
	}
}
