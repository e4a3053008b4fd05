/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client's data path: requests go out as moves of the buffer that
 * carries them (a WRITE's data in it), with the request in the buffer's
 * meta; each comes back by pass with the status (and a READ's data) in
 * the same buffer. The buffer's index is the request's slot, so a reply
 * finds its request without a lookup, and a reply that does not match the
 * request its buffer carried is caught (-EPROTO), not believed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bulk/bulk_alloc.h>

#include "bs_client.h"

/* Buffers moved per call. */
#define BS_MOVE_BURST 32u

/* ------------------------------------------------------------ buffers */

uint32_t
bulk_bs_client_buffer_size(const struct bulk_bs_client *c)
{
	return c != NULL ? c->buf_size : 0;
}

struct bulk_buffer *
bulk_bs_client_buffer_get(struct bulk_bs_client *c)
{
	return c != NULL ? bulk_pool_get(c->pool) : NULL;
}

/* The user pointer of a copy the application holds (nothing else is ours
 * to set in a server pool's view). */
static bool
copy_held(const struct bulk_bs_client *c, const struct bulk_buffer *b)
{
	return b->user == (const void *)&c->copies_held;
}

/* Release copy @p b now, or queue it for the next round. */
static void
copy_release(struct bulk_bs_client *c, struct bulk_buffer *b)
{
	b->user = NULL;
	if (b->state != BULK_BUFFER_READ_ONLY || c->cchan.ch == NULL ||
	    bulk_channel_state(c->cchan.ch) != BULK_STATE_CONNECTED)
		return; /* the channel went: the core voided the copy */
	if (c->nrel == 0 && bulk_channel_release(c->cchan.ch, b, BULK_CONT_NONE) == 0) {
		c->st.copies_released++;
		return;
	}
	if (c->nrel == c->relcap) {
		unsigned cap = c->relcap ? 2 * c->relcap : 64;
		struct bulk_buffer **r = realloc(c->rel, cap * sizeof(*r));

		if (r == NULL)
			return; /* stays copied until the channel closes */
		c->rel = r;
		c->relcap = cap;
	}
	c->rel[c->nrel++] = b;
}

int
bs_client_rel_flush(struct bulk_bs_client *c)
{
	unsigned done = 0;
	int n;

	if (c->nrel == 0)
		return 0;
	if (c->cchan.ch == NULL || bulk_channel_state(c->cchan.ch) != BULK_STATE_CONNECTED) {
		c->nrel = 0;
		return 0;
	}
	while (done < c->nrel) {
		unsigned k = c->nrel - done > 32 ? 32 : c->nrel - done;

		n = bulk_channel_release_burst(c->cchan.ch, &c->rel[done], k, BULK_CONT_NONE);
		if (n < 0) {
			/* Not a copy of ours any more (voided): drop it. */
			done++;
			continue;
		}
		done += (unsigned)n;
		c->st.copies_released += (uint64_t)n;
		if ((unsigned)n < k)
			break;
	}
	memmove(c->rel, &c->rel[done], (c->nrel - done) * sizeof(*c->rel));
	c->nrel -= done;
	return (int)done;
}

void
bs_client_copies_drop(struct bulk_bs_client *c)
{
	for (unsigned p = 0; p < c->ncpools; p++) {
		uint32_t n = bulk_pool_buffer_count(c->cpools[p]);

		for (uint32_t i = 0; i < n; i++) {
			struct bulk_buffer *b = bulk_pool_buffer(c->cpools[p], i);

			if (copy_held(c, b) && c->copies_held > 0)
				c->copies_held--;
			if (b->state == BULK_BUFFER_READ_ONLY)
				copy_release(c, b);
		}
	}
	(void)bs_client_rel_flush(c);
}

int
bulk_bs_client_copies(const struct bulk_bs_client *c)
{
	return c != NULL && c->copies;
}

unsigned
bulk_bs_client_copies_held(const struct bulk_bs_client *c)
{
	return c != NULL ? c->copies_held : 0;
}

int
bulk_bs_client_buffer_put(struct bulk_bs_client *c, struct bulk_buffer *buf)
{
	if (c == NULL || buf == NULL)
		return -EINVAL;
	if (buf->pool != c->pool) {
		for (unsigned p = 0; p < c->ncpools; p++)
			if (buf->pool == c->cpools[p] && copy_held(c, buf)) {
				c->copies_held--;
				copy_release(c, buf);
				return 0;
			}
		return -EINVAL;
	}
	if (c->pools[0]->slots[buf->index].busy)
		return -BULK_E_NOT_OWNER;
	return bulk_pool_put(buf);
}

const struct bulk_bs_info *
bulk_bs_client_info(const struct bulk_bs_client *c)
{
	return c != NULL ? &c->info : NULL;
}

unsigned
bulk_bs_client_inflight(const struct bulk_bs_client *c)
{
	return c != NULL ? c->inflight : 0;
}

int
bulk_bs_client_stats_get(const struct bulk_bs_client *c, struct bulk_bs_stats *st)
{
	if (c == NULL || st == NULL)
		return -EINVAL;
	*st = c->st;
	memset(&st->chan, 0, sizeof(st->chan));
	for (unsigned k = 0; k < c->nchans; k++)
		if (c->chans[k].ch != NULL)
			bs_chan_stats_add(st, c->chans[k].ch);
	if (c->cchan.ch != NULL)
		bs_chan_stats_add(st, c->cchan.ch);
	st->inflight = c->inflight;
	return 0;
}

/* -------------------------------------------------------------- queues */

int
bs_cq_init(struct bs_cq *q, uint32_t n)
{
	uint32_t cap = 1;

	while (cap < n)
		cap <<= 1;
	q->bufs = calloc(cap, sizeof(*q->bufs));
	q->lens = calloc(cap, sizeof(*q->lens));
	q->meta = calloc(cap, BS_WIRE_META_SIZE);
	q->mask = cap - 1;
	q->head = q->tail = 0;
	if (q->bufs == NULL || q->lens == NULL || q->meta == NULL) {
		bs_cq_fini(q);
		return -ENOMEM;
	}
	return 0;
}

void
bs_cq_fini(struct bs_cq *q)
{
	free(q->bufs);
	free(q->lens);
	free(q->meta);
	q->bufs = NULL;
	q->lens = NULL;
	q->meta = NULL;
}

/* Room for @p n buffers, what waits kept in order. */
static int
cq_grow(struct bs_cq *q, uint32_t n)
{
	struct bs_cq nq;
	uint32_t k = 0;

	if (n <= q->mask + 1)
		return 0;
	if (bs_cq_init(&nq, n) < 0)
		return -ENOMEM;
	for (uint32_t i = q->head; i != q->tail; i++, k++) {
		nq.bufs[k] = q->bufs[i & q->mask];
		nq.lens[k] = q->lens[i & q->mask];
		memcpy(&nq.meta[(size_t)k * BS_WIRE_META_SIZE],
		       &q->meta[(size_t)(i & q->mask) * BS_WIRE_META_SIZE], BS_WIRE_META_SIZE);
	}
	nq.tail = k;
	bs_cq_fini(q);
	*q = nq;
	return 0;
}

/* ---------------------------------------------------------------- pools */

struct bs_cpool *
bs_cpool_new(struct bulk_pool *pool)
{
	struct bs_cpool *cp = calloc(1, sizeof(*cp));

	if (cp == NULL)
		return NULL;
	cp->pool = pool;
	cp->count = bulk_pool_buffer_count(pool);
	cp->buf_size = bulk_pool_buffer_size(pool);
	cp->slots = calloc(cp->count, sizeof(*cp->slots));
	cp->parked = calloc(cp->count, sizeof(*cp->parked));
	if (cp->slots == NULL || cp->parked == NULL) {
		bs_cpool_free(cp);
		return NULL;
	}
	return cp;
}

void
bs_cpool_free(struct bs_cpool *cp)
{
	if (cp == NULL)
		return;
	free(cp->slots);
	free(cp->parked);
	free(cp);
}

struct bs_cpool *
bs_cpool_of(struct bulk_bs_client *c, const struct bulk_buffer *b)
{
	/* Requests come in runs of one pool: the last one first. */
	if (c->last != NULL && c->last->pool == b->pool)
		return c->last;
	for (unsigned i = 0; i < c->npools; i++)
		if (c->pools[i]->pool == b->pool)
			return c->last = c->pools[i];
	return NULL;
}

/* The slot of a buffer known to belong to one of our pools. */
static struct bs_cslot *
slot_of(struct bulk_bs_client *c, const struct bulk_buffer *b)
{
	struct bs_cpool *cp = bs_cpool_of(c, b);

	return cp != NULL && b->index < cp->count ? &cp->slots[b->index] : NULL;
}

/* ---------------------------------------------------------- completion */

static void
count_done(struct bulk_bs_client *c, const struct bs_cslot *s, int status)
{
	bs_stats_count(&c->st, s->op, s->length, status);
}

static void slot_done(struct bulk_bs_client *c, struct bs_cslot *s, struct bulk_buffer *b,
		      int status);

/* A READ's pass and copy are both in: the application gets the copy, the
 * request's own buffer goes back to the pool. */
static void
copy_done(struct bulk_bs_client *c, struct bs_cslot *s, struct bulk_buffer *b)
{
	struct bulk_buffer *copy = s->copy;

	s->copy = NULL;
	copy->user = &c->copies_held;
	c->copies_held++;
	c->st.copy_reads++;
	c->st.copy_bytes += s->length;
	(void)bulk_pool_put(b);
	s->token = false;
	slot_done(c, s, copy, 0);
}

/* Finish the request in slot @p s, whose buffer @p b is ours again (or lost: NULL). */
static void
slot_done(struct bulk_bs_client *c, struct bs_cslot *s, struct bulk_buffer *b, int status)
{
	bulk_bs_done_fn done = s->done;
	void *arg = s->arg;

	if (s->copy != NULL)
		copy_release(c, s->copy); /* came, but the request ends otherwise */
	s->copy = NULL;
	s->passed = false;
	s->busy = false;
	c->inflight--;
	count_done(c, s, status);
	if (s->token) {
		if (b != NULL)
			(void)bulk_pool_put(b);
		b = NULL;
	}
	if (done != NULL)
		done(arg, status, b);
}

static void
on_buffer(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	  const void *meta, unsigned n)
{
	struct bulk_bs_client *c = bulk_channel_user(ch);
	const uint8_t *mp = meta;

	for (unsigned i = 0; i < n; i++, mp += BS_WIRE_META_SIZE) {
		struct bulk_buffer *b = bufs[i];
		struct bs_cslot *s;
		struct bs_meta m;
		int status;

		s = slot_of(c, b);
		if (s == NULL || !s->busy) {
			/* libbulk hands back only what we moved: a bug if seen. */
			c->st.protocol_errors++;
			continue;
		}
		if (bs_wire_meta_decode(mp, BS_WIRE_META_SIZE, &m) < 0 || !m.reply || m.id != s->id ||
		    m.op != s->op) {
			c->st.protocol_errors++;
			status = -EPROTO;
		} else if (m.flags & BS_WIRE_F_COPY) {
			/* The data comes as a copy: only where we allowed it,
			 * for a READ that succeeded, with no payload here. */
			if (!s->copy_ok || m.status != 0 || lens[i] != 0 || s->passed) {
				c->st.protocol_errors++;
				status = -EPROTO;
			} else {
				s->passed = true;
				if (s->copy != NULL)
					copy_done(c, s, b);
				continue;
			}
		} else {
			status = m.status;
			/* A copy came, but the reply says the data did not: the
			 * copy goes back (slot_done()), the reply stands. */
			if (s->copy != NULL)
				c->st.protocol_errors++;
			if (s->op == BULK_BS_OP_READ && status == 0 && lens[i] != s->length) {
				c->st.protocol_errors++;
				status = -EPROTO;
			}
		}
		slot_done(c, s, b, status);
	}
}

void
bs_client_fail_all(struct bulk_bs_client *c, int status)
{
	/* What waits in the queues, or for a pool's answer, is ours still:
	 * it fails with the rest. */
	for (unsigned k = 0; k < c->nchans; k++)
		c->chans[k].q.head = c->chans[k].q.tail;
	for (unsigned p = 0; p < c->npools; p++)
		c->pools[p]->nparked = 0;
	for (unsigned p = 0; p < c->npools && c->inflight > 0; p++) {
		struct bs_cpool *cp = c->pools[p];

		for (uint32_t i = 0; i < cp->count && c->inflight > 0; i++) {
			struct bs_cslot *s = &cp->slots[i];
			struct bulk_buffer *b;

			if (!s->busy)
				continue;
			b = bulk_pool_buffer(cp->pool, i);
			/* A dead peer's buffers came home (libbulk reclaims
			 * them); an orderly teardown leaves them where they
			 * were: lost to us. */
			slot_done(c, s, bulk_buffer_is_owner(b) ? b : NULL, status);
		}
	}
}

static int
on_bind(struct bulk_channel *ch, const struct bulk_bind_info *bi)
{
	(void)ch;
	/* Only the server we told the address binds; it must speak our meta. */
	return bi->meta_size == BS_WIRE_META_SIZE ? 0 : -BULK_E_BIND_MISMATCH;
}

static int
on_pool(struct bulk_channel *ch, struct bulk_pool *pool)
{
	(void)ch;
	(void)pool;
	/* The client assigns the pools (spec 7.3); the server has none to give. */
	return -EPERM;
}

static void
on_teardown(struct bulk_channel *ch, int reason)
{
	struct bulk_bs_client *c = bulk_channel_user(ch);
	bool all = true;

	for (unsigned k = 0; k < c->nchans; k++) {
		if (c->chans[k].ch == ch) {
			c->chans[k].closed = true;
			c->chans[k].close_reason = reason;
		}
		all = all && (c->chans[k].closed || c->chans[k].ch == NULL);
	}
	if (!c->bye_sent)
		c->gone = true;
	if (all && c->inflight > 0)
		bs_client_fail_all(c, -ECONNRESET);
}

/* ------------------------------------------------------ the copy channel */

/*
 * A copy for one of our READs. Anything that is not one (an unknown id,
 * a request that did not allow it, a second copy, a copy that lies about
 * its length) goes straight back and counts as a protocol error; it
 * never completes a request.
 */
static void
on_copy(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	struct bulk_bs_client *c = bulk_channel_user(ch);
	const uint8_t *mp = meta;

	for (unsigned i = 0; i < n; i++, mp += BS_WIRE_META_SIZE) {
		struct bulk_buffer *b = bufs[i];
		struct bs_cpool *cp = c->pools[0];
		struct bs_cslot *s = NULL;
		struct bs_meta m;
		uint32_t idx;

		if (bs_wire_meta_decode(mp, BS_WIRE_META_SIZE, &m) == 0 && m.reply &&
		    m.op == BULK_BS_OP_READ && (m.flags & BS_WIRE_F_COPY) && m.status == 0) {
			idx = (uint32_t)(m.id & ((1u << BS_ID_SLOT_BITS) - 1));
			if (idx < cp->count)
				s = &cp->slots[idx];
		}
		if (s == NULL || !s->busy || s->id != m.id || !s->copy_ok || s->copy != NULL ||
		    m.length != s->length || lens[i] != s->length ||
		    bulk_pool_buffer_size(b->pool) < s->length) {
			c->st.protocol_errors++;
			b->user = NULL;
			copy_release(c, b);
			continue;
		}
		b->user = NULL;
		s->copy = b;
		if (s->passed)
			copy_done(c, s, bulk_pool_buffer(cp->pool, idx));
	}
}

static int
on_copy_bind(struct bulk_channel *ch, const struct bulk_bind_info *bi)
{
	(void)ch;
	return bi->meta_size == BS_WIRE_META_SIZE ? 0 : -BULK_E_BIND_MISMATCH;
}

/* The server's pools, whose buffers it copies to us. */
static int
on_copy_pool(struct bulk_channel *ch, struct bulk_pool *pool)
{
	struct bulk_bs_client *c = bulk_channel_user(ch);

	if (c->ncpools >= BS_COPY_POOLS)
		return -BULK_E_POOL_LIMIT;
	c->cpools[c->ncpools++] = pool;
	return 0;
}

static void
on_copy_pool_removed(struct bulk_channel *ch, struct bulk_pool *pool)
{
	struct bulk_bs_client *c = bulk_channel_user(ch);

	for (unsigned p = 0; p < c->ncpools; p++)
		if (c->cpools[p] == pool) {
			c->cpools[p] = c->cpools[--c->ncpools];
			break;
		}
}

/* The server has nothing to move to us here: it goes straight back. */
static void
on_copy_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	     const void *meta, unsigned n)
{
	struct bulk_bs_client *c = bulk_channel_user(ch);

	(void)lens;
	c->st.protocol_errors += n;
	(void)bulk_channel_pass_burst(ch, bufs, NULL, meta, n, BULK_CONT_NONE);
}

static void
on_copy_teardown(struct bulk_channel *ch, int reason)
{
	struct bulk_bs_client *c = bulk_channel_user(ch);

	c->cchan.closed = true;
	c->cchan.close_reason = reason;
	c->nrel = 0;
	if (!c->bye_sent)
		c->gone = true;
}

const struct bulk_channel_callbacks bs_client_copy_callbacks = {
	.bind_received = on_copy_bind,
	.pool_assigned = on_copy_pool,
	.pool_removed = on_copy_pool_removed,
	.move_received = on_copy_move,
	.copy_received = on_copy,
	.teardown_received = on_copy_teardown,
};

const struct bulk_channel_callbacks bs_client_callbacks = {
	.bind_received = on_bind,
	.pool_assigned = on_pool,
	.buffer_received = on_buffer,
	.teardown_received = on_teardown,
};

/* --------------------------------------------------------------- submit */

/*
 * Move what waits in @p cc's queue. A refusal fails the refused requests
 * when @p may_fail (a poll), else leaves them queued for the next poll,
 * so that done callbacks never run inside bulk_bs_client_submit().
 */
static int
cq_flush(struct bulk_bs_client *c, struct bs_cchan *cc, bool may_fail)
{
	struct bs_cq *q = &cc->q;
	int sent = 0;

	while (q->head != q->tail) {
		uint32_t idx = q->head & q->mask;
		uint32_t k = q->tail - q->head;
		int n;

		if (k > q->mask + 1 - idx)
			k = q->mask + 1 - idx; /* up to the ring's end */
		if (k > BS_MOVE_BURST)
			k = BS_MOVE_BURST;
		n = bulk_channel_move_burst(cc->ch, &q->bufs[idx], &q->lens[idx],
					    &q->meta[(size_t)idx * BS_WIRE_META_SIZE], k,
					    BULK_CONT_NONE);
		if (n < 0) {
			if (!may_fail)
				break;
			for (uint32_t i = 0; i < k; i++) {
				struct bulk_buffer *b = q->bufs[(q->head + i) & q->mask];

				slot_done(c, slot_of(c, b), b, n);
			}
			q->head += k;
			continue;
		}
		q->head += (uint32_t)n;
		sent += n;
		if ((uint32_t)n < k)
			break; /* the channel's queue is full: the next poll goes on */
	}
	return sent;
}

static bool
is_data_op(unsigned op)
{
	return op == BULK_BS_OP_READ || op == BULK_BS_OP_WRITE;
}

/* Queue the request of slot @p s, in buffer @p b, on the next channel. */
static void
enqueue(struct bulk_bs_client *c, const struct bs_cslot *s, struct bulk_buffer *b,
	uint32_t buf_size)
{
	struct bs_cchan *cc = &c->chans[c->rr++ % c->nchans];
	struct bs_cq *q = &cc->q;
	uint32_t slot = q->tail & q->mask;
	struct bs_meta m = { .op = s->op,
			     .flags = (uint16_t)(s->flags | (s->copy_ok ? BS_WIRE_F_COPY_OK : 0)),
			     .length = s->length,
			     .id = s->id,
			     .offset = s->offset };

	q->bufs[slot] = b;
	/* A WRITE carries its data; the rest carry only their meta. */
	q->lens[slot] = s->op == BULK_BS_OP_WRITE ? (s->length < buf_size ? s->length : buf_size) : 0;
	bs_wire_meta_encode(&m, &q->meta[(size_t)slot * BS_WIRE_META_SIZE]);
	q->tail++;
}

/*
 * An added pool's answer from every channel is in: the requests parked
 * on it go (accepted) or fail with the refusal; then its owner hears.
 */
static void
pool_answered(struct bulk_bs_client *c, struct bs_cpool *cp)
{
	bulk_bs_pool_fn done = cp->done;

	cp->done = NULL;
	if (cp->err == 0)
		cp->ready = true;
	else
		cp->refused = true;
	for (uint32_t i = 0; i < cp->nparked; i++) {
		struct bs_cslot *s = &cp->slots[cp->parked[i]];
		struct bulk_buffer *b = bulk_pool_buffer(cp->pool, cp->parked[i]);

		if (!s->busy)
			continue; /* failed meanwhile (the connection went) */
		if (cp->ready)
			enqueue(c, s, b, cp->buf_size);
		else
			slot_done(c, s, b, cp->err);
	}
	cp->nparked = 0;
	if (done != NULL)
		done(cp->arg, cp->err, cp->pool);
}

static void
pool_assign_done(void *arg, int err, struct bulk_channel *ch)
{
	struct bs_cpool *cp = arg;
	struct bulk_bs_client *c = bulk_channel_user(ch);

	if (err != 0 && cp->err == 0)
		cp->err = err;
	if (++cp->answered == c->nchans)
		pool_answered(c, cp);
}

int
bulk_bs_client_pool_add(struct bulk_bs_client *c, struct bulk_pool *pool, bulk_bs_pool_fn done,
			void *arg)
{
	struct bs_cpool *cp, **pools;
	unsigned k;
	int rc = 0;

	if (c == NULL || pool == NULL || !c->ready || bulk_pool_domain(pool) != c->dom)
		return -EINVAL;
	if (c->gone)
		return -ECONNRESET;
	if (c->shutting || c->bye_sent || c->in_close)
		return -ESHUTDOWN;
	for (unsigned i = 0; i < c->npools; i++)
		if (c->pools[i]->pool == pool)
			return -EEXIST;
	if (c->npools >= BULK_CHANNEL_MAX_POOLS)
		return -ENOSPC;
	cp = bs_cpool_new(pool);
	if (cp == NULL)
		return -ENOMEM;
	pools = realloc(c->pools, (c->npools + 1) * sizeof(*pools));
	if (pools == NULL) {
		bs_cpool_free(cp);
		return -ENOMEM;
	}
	c->pools = pools;
	/* Every queue holds every buffer that may be in flight. */
	for (k = 0; k < c->nchans; k++)
		if (cq_grow(&c->chans[k].q, c->qbufs + cp->count) < 0) {
			bs_cpool_free(cp);
			return -ENOMEM;
		}
	cp->done = done;
	cp->arg = arg;
	for (k = 0; k < c->nchans; k++) {
		rc = bulk_channel_assign_pool(c->chans[k].ch, pool,
					      (struct bulk_cont){ pool_assign_done, cp });
		if (rc < 0)
			break;
	}
	if (k == 0) {
		bs_cpool_free(cp);
		return rc;
	}
	/* Assigned on some channels only: the rest count as refused. */
	if (k < c->nchans) {
		cp->err = rc;
		cp->answered += c->nchans - k;
	}
	c->pools[c->npools++] = cp;
	c->qbufs += cp->count;
	return 0;
}

struct bulk_channel *
bulk_bs_client_channel(const struct bulk_bs_client *c, unsigned k)
{
	return c != NULL && k < c->nchans ? c->chans[k].ch : NULL;
}

static int
submit(struct bulk_bs_client *c, struct bulk_bs_io *ios, unsigned n, bool check)
{
	uint32_t tokens = 0;
	unsigned i;
	int rc = 0;

	if (c == NULL || ios == NULL || n == 0)
		return -EINVAL;
	if (c->gone)
		return -ECONNRESET;
	if (c->shutting || c->bye_sent || c->in_close)
		return -ESHUTDOWN;
	if (!c->ready)
		return -EINVAL;
	/* Check all first (all-or-nothing); mark buffers busy to see duplicates. */
	for (i = 0; i < n; i++) {
		const struct bulk_bs_io *io = &ios[i];
		struct bulk_buffer *b = io->buf;
		struct bs_cpool *cp = b != NULL ? bs_cpool_of(c, b) : c->pools[0];
		struct bs_cslot *s;

		if (b != NULL && (cp == NULL || b->index >= cp->count)) {
			rc = -EINVAL; /* a buffer of a pool we do not know */
			break;
		}
		if (check) {
			struct bs_meta m = { .op = (uint8_t)io->op, .flags = io->flags,
					     .length = io->length, .offset = io->offset };

			if (io->op > 0xff) {
				rc = -EINVAL;
				break;
			}
			if (is_data_op(io->op) && b == NULL) {
				rc = -EINVAL;
				break;
			}
			rc = bs_req_check(&c->info, &m, io->op == BULK_BS_OP_WRITE ? io->length : 0,
					  cp->buf_size);
			if (rc < 0)
				break;
		}
		if (b == NULL) {
			tokens++;
			continue;
		}
		if (cp->refused) {
			rc = cp->err;
			break;
		}
		s = &cp->slots[b->index];
		if (s->pending) {
			rc = -EINVAL; /* the same buffer twice in one call */
			break;
		}
		if (s->busy || b->state != BULK_BUFFER_READ_WRITE) {
			rc = -BULK_E_NOT_OWNER; /* in flight, or not ours to send */
			break;
		}
		s->pending = true;
	}
	if (rc == 0 && tokens > bulk_pool_free_count(c->pool))
		rc = -ENOBUFS;
	for (unsigned j = 0; j < i && j < n; j++) {
		struct bs_cslot *s = ios[j].buf != NULL ? slot_of(c, ios[j].buf) : NULL;

		if (s != NULL)
			s->pending = false;
	}
	if (rc < 0)
		return rc;
	for (i = 0; i < n; i++) {
		struct bulk_bs_io *io = &ios[i];
		struct bulk_buffer *b = io->buf;
		bool token = b == NULL;
		struct bs_cpool *cp;
		struct bs_cslot *s;

		if (token)
			b = bulk_pool_get(c->pool);
		cp = bs_cpool_of(c, b);
		s = &cp->slots[b->index];
		s->busy = true;
		s->token = token;
		s->done = io->done;
		s->arg = io->arg;
		/* The slot's index in the id: a copy finds its request. */
		s->id = ++c->next_id << BS_ID_SLOT_BITS |
			(b->index & ((1u << BS_ID_SLOT_BITS) - 1));
		s->copy_ok = c->copies && io->op == BULK_BS_OP_READ && cp == c->pools[0];
		s->passed = false;
		s->copy = NULL;
		s->op = (uint8_t)io->op;
		s->flags = io->flags;
		s->length = io->length;
		s->offset = io->offset;
		io->id = s->id;
		c->inflight++;
		/* An added pool the server has not answered for yet: the
		 * request waits for the answer (pool_answered()). */
		if (cp != c->pools[0] && !cp->ready)
			cp->parked[cp->nparked++] = b->index;
		else
			enqueue(c, s, b, cp->buf_size);
	}
	for (unsigned k = 0; k < c->nchans; k++)
		(void)cq_flush(c, &c->chans[k], false);
	return (int)n;
}

int
bulk_bs_client_submit(struct bulk_bs_client *c, struct bulk_bs_io *ios, unsigned n)
{
	return submit(c, ios, n, true);
}

int
bulk_bs_client_submit_raw(struct bulk_bs_client *c, struct bulk_bs_io *ios, unsigned n)
{
	return submit(c, ios, n, false);
}

/* ------------------------------------------------------------- polling */

void
bs_client_goodbye(struct bulk_bs_client *c)
{
	struct bs_ctrl_msg m;

	if (c->bye_sent)
		return;
	c->bye_sent = true;
	if (c->sock.fd >= 0) {
		memset(&m, 0, sizeof(m));
		m.type = BS_MSG_DISCONNECT;
		(void)bs_sock_send(&c->sock, &m);
	}
	for (unsigned k = 0; k < c->nchans; k++) {
		struct bs_cchan *cc = &c->chans[k];

		if (cc->ch != NULL && bulk_channel_state(cc->ch) == BULK_STATE_CONNECTED &&
		    bulk_channel_destroy(cc->ch, BULK_CONT_NONE) == 0)
			cc->destroyed = true;
	}
	/* The copy channel goes once every copy is back (libbulk refuses to
	 * tear down a channel with copies out): the server destroys it when
	 * it sees our goodbye, or channels_free() does. */
	if (c->cchan.ch != NULL && bulk_channel_state(c->cchan.ch) == BULK_STATE_CONNECTED &&
	    bulk_channel_destroy(c->cchan.ch, BULK_CONT_NONE) == 0)
		c->cchan.destroyed = true;
}

static int
sock_read(struct bulk_bs_client *c)
{
	struct bs_ctrl_msg m;
	int n = 0;

	while (c->sock.fd >= 0) {
		int rc = bs_sock_recv(&c->sock, &m);

		if (rc == 0)
			break;
		n++;
		if (rc == 1 && m.type == BS_MSG_SHUTDOWN) {
			c->shutting = true;
			continue;
		}
		if (rc == 1 && m.type == BS_MSG_ERROR) {
			/* The server gives up on us; its channels close next. */
			c->gone = true;
			continue;
		}
		if (rc == 1)
			c->st.protocol_errors++;
		else if (rc != -ECONNRESET)
			c->st.protocol_errors++;
		/* Hang-up, garbage or a message out of place: this
		 * connection is over; the channels tell us when all is back. */
		if (!c->bye_sent)
			c->gone = true;
		bs_idle_unwatch(&c->idle, c->sock.fd);
		bs_sock_close(&c->sock);
		break;
	}
	return n;
}

int
bs_client_round(struct bulk_bs_client *c, int sleep_ms)
{
	void *tags[4];
	bool sleep;
	int work = 0, n;

	if (c->poll_hook != NULL && (n = c->poll_hook(c->poll_hook_arg)) > 0)
		work += n;
	for (unsigned k = 0; k < c->nchans; k++) {
		struct bs_cchan *cc = &c->chans[k];

		if (cc->ch != NULL && bulk_channel_state(cc->ch) != BULK_STATE_CLOSED &&
		    (n = bulk_channel_poll(cc->ch, 0)) > 0)
			work += n;
	}
	if (c->cchan.ch != NULL && bulk_channel_state(c->cchan.ch) != BULK_STATE_CLOSED &&
	    (n = bulk_channel_poll(c->cchan.ch, 0)) > 0)
		work += n;
	for (unsigned k = 0; k < c->nchans; k++)
		if (c->chans[k].ch != NULL)
			work += cq_flush(c, &c->chans[k], true);
	work += bs_client_rel_flush(c);
	/* Told to go: once nothing is in flight (and the application gave
	 * its copies back), say goodbye by ourselves. */
	if (c->shutting && !c->bye_sent && c->inflight == 0 && c->copies_held == 0) {
		bs_client_goodbye(c);
		work++;
	}
	sleep = bs_idle_should_sleep(&c->idle, work, true) && sleep_ms > 0 && c->nrel == 0;
	if (sleep && c->cchan.ch != NULL && bulk_channel_state(c->cchan.ch) != BULK_STATE_CLOSED &&
	    c->cchan.fd >= 0 && bulk_channel_arm(c->cchan.ch) != 0)
		sleep = false;
	for (unsigned k = 0; sleep && k < c->nchans; k++) {
		struct bs_cchan *cc = &c->chans[k];

		if (cc->ch == NULL || bulk_channel_state(cc->ch) == BULK_STATE_CLOSED)
			continue;
		if (cc->fd < 0)
			sleep_ms = 1; /* nothing to sleep on (dpdk): nap */
		else if (bulk_channel_arm(cc->ch) != 0)
			sleep = false;
	}
	n = bs_idle_events(&c->idle, sleep, sleep_ms, tags, 4);
	if (n > 0)
		work += sock_read(c);
	return work;
}

int
bulk_bs_client_arm(struct bulk_bs_client *c, int *timeout_ms)
{
	if (c == NULL || timeout_ms == NULL)
		return -EINVAL;
	/* Told to go, with nothing in flight: the goodbye is work. */
	if (c->shutting && !c->bye_sent && c->inflight == 0 && c->copies_held == 0)
		return 1;
	if (c->nrel > 0)
		return 1;
	if (c->cchan.ch != NULL && bulk_channel_state(c->cchan.ch) != BULK_STATE_CLOSED &&
	    c->cchan.fd >= 0 && bulk_channel_arm(c->cchan.ch) != 0)
		return 1;
	for (unsigned k = 0; k < c->nchans; k++) {
		struct bs_cchan *cc = &c->chans[k];

		if (cc->ch == NULL || bulk_channel_state(cc->ch) == BULK_STATE_CLOSED)
			continue;
		if (cc->fd < 0) {
			/* Nothing to sleep on (dpdk): it must be polled. */
			if (*timeout_ms > 1)
				*timeout_ms = 1;
			continue;
		}
		if (bulk_channel_arm(cc->ch) != 0)
			return 1;
	}
	return 0;
}

int
bulk_bs_client_fds(const struct bulk_bs_client *c, int *fds, unsigned max)
{
	unsigned n = 0;

	if (c == NULL || (fds == NULL && max > 0))
		return -EINVAL;
	/* Not the control socket: it is closed (and its number reused) as
	 * soon as the server hangs up, and it only carries the goodbye, which
	 * the client's polls look for once a millisecond. */
	for (unsigned k = 0; k < c->nchans && n < max; k++)
		if (c->chans[k].fd >= 0)
			fds[n++] = c->chans[k].fd;
	if (c->cchan.fd >= 0 && n < max)
		fds[n++] = c->cchan.fd;
	return (int)n;
}

int
bulk_bs_client_poll(struct bulk_bs_client *c, int timeout_ms)
{
	int n;

	if (c == NULL || c->in_close)
		return -EINVAL;
	n = bs_client_round(c, timeout_ms);
	if (c->gone && c->inflight == 0)
		return -ECONNRESET;
	if (c->bye_sent && c->inflight == 0)
		return -ESHUTDOWN;
	return n;
}
