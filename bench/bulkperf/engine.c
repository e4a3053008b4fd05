/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every domain of the chain does, whichever backend links it to the
 * next: send queues, the payload pattern and its check, the callbacks of
 * the source, the hops and the sink, the source's production, one step of
 * a domain, and the watchdog. local.c and shm.c set the chain up around it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>

#include "bulkperf.h"

/* Golden-ratio multiplier: consecutive sequence numbers give unrelated patterns. */
#define PERF_PATTERN_MUL 0x9E3779B97F4A7C15ull
/* No buffer moved for this long while some are away: something is stuck. */
#define PERF_STALL_NS	 (10 * PERF_SEC_NS)
#define PERF_MAX_REPORTS 10u

struct perf_meta {
	uint64_t seq; /* | PERF_SEQ_VERIFY when the payload carries the pattern */
	uint64_t ts;  /* send time in ns, 0: no latency sample for this buffer */
};
_Static_assert(sizeof(struct perf_meta) == PERF_META_SIZE, "meta is seq + timestamp");

atomic_bool perf_interrupted;

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

void
perf_run_init(struct perf_run *r, const struct perf_opts *o)
{
	memset(r, 0, sizeof(*r));
	r->o = o;
	r->nlinks = o->hops + 1;
	r->payload_len = o->buffer_size;
	/* Poll at least a burst per channel, and the library default otherwise. */
	r->budget = o->burst > 64 ? o->burst : 64;
	r->inflight_max = o->inflight;
	perf_hist_init(&r->hist);
	atomic_init(&r->done, false);
	atomic_init(&r->abort, false);
}

/* ------------------------------------------------------------ send queue */

static void
perf_txq_fini(struct perf_txq *q)
{
	free(q->bufs);
	free(q->lens);
	free(q->meta);
	memset(q, 0, sizeof(*q));
}

static int
perf_txq_init(struct perf_txq *q, uint32_t n)
{
	uint32_t cap = 1;

	while (cap < n)
		cap <<= 1;
	q->bufs = calloc(cap, sizeof(*q->bufs));
	q->lens = calloc(cap, sizeof(*q->lens));
	q->meta = calloc(cap, PERF_META_SIZE);
	if (q->bufs == NULL || q->lens == NULL || q->meta == NULL) {
		perf_txq_fini(q);
		return -ENOMEM;
	}
	q->mask = cap - 1;
	q->head = 0;
	q->tail = 0;
	return 0;
}

/*
 * Nodes and ends, each end with a send queue for every buffer of a pool of
 * --buffers. A process that is not the source learns the pool's real size
 * only when it is assigned (perf_on_pool_assigned() grows the queues).
 */
int
perf_ends_alloc(struct perf_run *r, unsigned nnodes, unsigned nends)
{
	r->nnodes = nnodes;
	r->nends = nends;
	r->nodes = calloc(nnodes, sizeof(*r->nodes));
	r->ends = calloc(nends, sizeof(*r->ends));
	r->eps = calloc(r->nlinks > 2 ? r->nlinks : 2, sizeof(*r->eps));
	if (r->nodes == NULL || r->ends == NULL || r->eps == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < nends; i++) {
		r->ends[i].run = r;
		if (perf_txq_init(&r->ends[i].q, r->o->buffers) < 0)
			return -ENOMEM;
	}
	return 0;
}

void
perf_run_free(struct perf_run *r)
{
	for (unsigned i = 0; r->ends != NULL && i < r->nends; i++)
		perf_txq_fini(&r->ends[i].q);
	free(r->ends);
	free(r->nodes);
	free(r->eps);
	r->ends = NULL;
	r->nodes = NULL;
	r->eps = NULL;
}

static inline uint32_t
perf_txq_count(const struct perf_txq *q)
{
	return q->tail - q->head;
}

void
perf_end_error(struct perf_end *e, const char *what, int rc)
{
	/* The first error of an end is worth a line; the rest only a count. */
	if (perf_ctr_get(&e->ctr.errors) == 0)
		fprintf(stderr, "bulkperf: %s: link %u %s end: %s: %s\n",
			e->node != NULL ? e->node->name : "?", e->link, e->tx_side ? "TX" : "RX",
			what, bulk_strerror(rc));
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

	/* Closed by the peer: nothing can go; whoever saw it close reports it. */
	if (e->hold || e->closed)
		return 0;
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

/*
 * Check one buffer against the pattern of its sequence number, and the
 * sequence against the one expected: every channel is FIFO, so the sink
 * and the source (for what comes back) see the numbers in order.
 */
static void
perf_check(struct perf_node *n, const struct bulk_buffer *b, uint32_t len, const uint8_t *meta)
{
	struct perf_run *r = n->run;
	const uint64_t *w = b->addr;
	struct perf_meta m;
	uint64_t base, seq;
	uint32_t nw = len / 8, i;
	const char *why = NULL;
	uint64_t expect = n->expect_seq;

	memcpy(&m, meta, sizeof(m));
	perf_ctr_add(&n->checked, 1);
	seq = m.seq & ~PERF_SEQ_VERIFY;
	base = seq * PERF_PATTERN_MUL;
	/* A sink in another process learns the payload length from the first buffer. */
	if (r->payload_len == 0)
		r->payload_len = len;
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
	if (why == NULL)
		return;
	perf_ctr_add(&n->verify_failures, 1);
	if (n->reported++ < PERF_MAX_REPORTS)
		fprintf(stderr,
			"bulkperf: verify failure at %s: %s (buffer %u, seq %" PRIu64
			", expected seq %" PRIu64 ", len %u)\n",
			n->name, why, b->index, seq, expect, len);
}

static bool
perf_meta_verify(const uint8_t *meta)
{
	struct perf_meta m;

	memcpy(&m, meta, sizeof(m));
	return (m.seq & PERF_SEQ_VERIFY) != 0;
}

static const struct perf_meta perf_meta_stop = { PERF_SEQ_STOP, 0 };

/* A sink told --verify itself insists that the source marked every buffer. */
static void
perf_unmarked(struct perf_node *n, const struct bulk_buffer *b)
{
	perf_ctr_add(&n->verify_failures, 1);
	if (n->reported++ < PERF_MAX_REPORTS)
		fprintf(stderr,
			"bulkperf: verify failure at %s: buffer %u carries no pattern "
			"(run the source with --verify too)\n",
			n->name, b->index);
}

/* -------------------------------------------------------------- callbacks */

/* Source: buffers come home. Take latency samples, check, put them back in the pool. */
void
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
		const uint8_t *mi = mp + (size_t)i * PERF_META_SIZE;
		struct perf_meta m;

		memcpy(&m, mi, sizeof(m));
		/* --return-len: the payload went one way; count what was sent. */
		bytes += r->o->return_len >= 0 ? r->o->buffer_size : lens[i];
		if (m.seq & PERF_SEQ_STOP) {
			if (!r->peer_stopped)
				fprintf(stderr, "bulkperf: %s: a process downstream gave up; "
						"stopping and draining\n",
					e->node->name);
			r->peer_stopped = true;
			r->stop_sending = true;
			continue;
		}
		if (r->stamp && m.ts != 0 && now >= m.ts)
			perf_hist_record(&r->hist, now - m.ts);
		if (r->o->verify && perf_meta_verify(mi)) {
			if (r->o->return_len < 0) {
				perf_check(e->node, bufs[i], lens[i], mi);
			} else {
				/* No data came back: the order is all there is to check. */
				uint64_t seq = m.seq & ~PERF_SEQ_VERIFY;

				perf_ctr_add(&e->node->checked, 1);
				if (seq != e->node->expect_seq) {
					perf_ctr_add(&e->node->verify_failures, 1);
					if (e->node->reported++ < PERF_MAX_REPORTS)
						fprintf(stderr, "bulkperf: verify failure at %s: "
								"sequence %" PRIu64 " back, expected %" PRIu64 "\n",
							e->node->name, seq, e->node->expect_seq);
				}
				e->node->expect_seq = seq + 1;
			}
		}
	}
	rc = bulk_pool_put_burst(r->pool, bufs, n);
	if (rc < 0)
		perf_end_error(e, "pool put", rc);
	r->returned += n;
	perf_ctr_add(&e->ctr.rx_bufs, n);
	perf_ctr_add(&e->ctr.rx_bytes, bytes);
}

/* Sink: check what the source marked, count, pass straight back. */
void
perf_sink_on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
		  const void *meta, unsigned n)
{
	struct perf_end *e = bulk_channel_user(ch);
	const uint8_t *mp = meta;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n; i++) {
		const uint8_t *m = mp + (size_t)i * PERF_META_SIZE;

		bytes += lens[i];
		if (e->node->bounce) {
			perf_txq_push(e, bufs[i], lens[i], &perf_meta_stop);
			continue;
		}
		if (perf_meta_verify(m))
			perf_check(e->node, bufs[i], lens[i], m);
		else if (e->run->o->verify)
			perf_unmarked(e->node, bufs[i]);
		perf_txq_push(e, bufs[i],
			      e->run->o->return_len >= 0 && (uint64_t)e->run->o->return_len < lens[i]
				      ? (uint32_t)e->run->o->return_len
				      : lens[i],
			      m);
	}
	perf_ctr_add(&e->ctr.rx_bufs, n);
	perf_ctr_add(&e->ctr.rx_bytes, bytes);
}

/*
 * Hop, upstream link: a moved buffer is ours READ_WRITE; move the same one
 * on (or, once this hop gave up, straight back).
 */
void
perf_hop_on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
		 const void *meta, unsigned n)
{
	struct perf_end *e = bulk_channel_user(ch);
	struct perf_end *down = e->node->down;
	const uint8_t *mp = meta;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n; i++) {
		bytes += lens[i];
		if (e->node->bounce)
			perf_txq_push(e, bufs[i], lens[i], &perf_meta_stop);
		else
			perf_txq_push(down, bufs[i], lens[i], mp + (size_t)i * PERF_META_SIZE);
	}
	perf_ctr_add(&e->ctr.rx_bufs, n);
	perf_ctr_add(&e->ctr.rx_bytes, bytes);
}

/* Hop, downstream link: a buffer passed back; pass it on towards its owner. */
void
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

/* Grow an empty queue to hold @p n buffers. */
static int
perf_txq_reserve(struct perf_txq *q, uint32_t n)
{
	if (q->mask + 1 >= n)
		return 0;
	perf_txq_fini(q);
	return perf_txq_init(q, n);
}

int
perf_on_pool_assigned(struct bulk_channel *ch, struct bulk_pool *pool)
{
	struct perf_end *e = bulk_channel_user(ch);
	struct perf_node *n = e->node;
	uint32_t count = bulk_pool_buffer_count(pool);

	/*
	 * Every buffer of the pool may end up queued here at once; with the
	 * chain split over processes the pool's size is news to this one. No
	 * buffer of it can be queued yet, so the queues are empty.
	 */
	if ((n->up != NULL && perf_txq_reserve(&n->up->q, count) < 0) ||
	    (n->down != NULL && perf_txq_reserve(&n->down->q, count) < 0)) {
		perf_end_error(e, "send queue for the pool", -ENOMEM);
		return -ENOMEM;
	}
	/*
	 * A hop passes the pool on to its downstream channel, but only after
	 * this poll returned: the assignment on this channel is then complete.
	 */
	if (n->role == PERF_ROLE_HOP)
		n->view_assigned = true;
	n->view = pool;
	return 0;
}

void
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

static void
perf_cont(void *arg, int err, struct bulk_channel *ch)
{
	struct perf_end *e = arg;

	(void)ch;
	e->cont_fired++;
	e->cont_err = err;
}

struct bulk_cont
perf_end_cont(struct perf_end *e)
{
	struct bulk_cont k = { perf_cont, e };

	e->started = true;
	e->cont_fired = 0;
	e->cont_err = 0;
	return k;
}

/* ------------------------------------------------------------------ pool */

int
perf_pool_alloc(struct perf_run *r, struct bulk_domain *d, int mem)
{
	const struct perf_opts *o = r->o;
	struct bulk_pool_params pp;
	int rc;

	memset(&pp, 0, sizeof(pp));
	pp.count = o->buffers;
	pp.buffer_size = (o->buffer_size + PERF_ALIGN - 1) & ~(PERF_ALIGN - 1);
	pp.align = PERF_ALIGN;
	pp.mem = (enum bulk_mem_kind)mem;
	rc = bulk_pool_alloc(d, &pp, &r->pool);
	if (rc < 0) {
		fprintf(stderr, "bulkperf: pool of %u x %u bytes: %s\n", pp.count, pp.buffer_size,
			bulk_strerror(rc));
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
		fprintf(stderr, "bulkperf: %u of %u buffers did not come home\n",
			r->o->buffers - home, r->o->buffers);
		r->errors += r->o->buffers - home;
	} else if (home > r->o->buffers) {
		fprintf(stderr, "bulkperf: %u buffers in a pool of %u\n", home, r->o->buffers);
		r->errors++;
	}
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
		if (o->verify) {
			perf_fill(bufs[i]->addr, r->payload_len, m.seq);
			m.seq |= PERF_SEQ_VERIFY;
		}
		perf_txq_push(e, bufs[i], r->payload_len, &m);
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

bool
perf_source_done(const struct perf_run *r)
{
	const struct perf_txq *q = &r->source->down->q;

	return r->stop_sending && q->head == q->tail && r->returned == r->sent;
}

static uint64_t
perf_progress(const struct perf_run *r)
{
	const struct perf_ctrs *c = &r->source->down->ctr;

	return perf_ctr_get(&c->tx_bufs) + perf_ctr_get(&c->rx_bufs);
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
	fprintf(stderr,
		"bulkperf: no progress for %llu s (sent %" PRIu64 ", back %" PRIu64
		"), giving up\n",
		PERF_STALL_NS / PERF_SEC_NS, perf_ctr_get(&r->source->down->ctr.tx_bufs),
		perf_ctr_get(&r->source->down->ctr.rx_bufs));
	r->errors++;
	perf_abort(r);
	return true;
}

void
perf_start_clock(struct perf_run *r)
{
	const struct perf_opts *o = r->o;

	r->t_start = perf_now_ns();
	r->t_last_print = r->t_start;
	r->deadline = r->t_start + (uint64_t)(o->duration * (double)PERF_SEC_NS);
}
