/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The server's data path: requests arrive as moved buffers with their
 * meta, are validated, handed to the application, completed by it in any
 * order, and go back by pass with the status in the same buffer's meta.
 *
 * Every buffer of every pool a client assigned has one request record
 * (struct bs_sreq), made when the pool arrives and reached from the
 * buffer's user pointer: no allocation and no lookup per request. A
 * request that fails validation never reaches the application: it goes
 * back with its error at the next flush, and the connection lives on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bs_internal.h"

/* Buffers passed back per call. */
#define BS_PASS_BURST 32u

_Static_assert(sizeof(struct bulk_channel_stats) % sizeof(uint64_t) == 0,
	       "channel counters are all uint64_t");

void
bs_chan_stats_add(struct bulk_bs_stats *st, const struct bulk_channel *ch)
{
	struct bulk_channel_stats cs;
	uint64_t *dst = (uint64_t *)&st->chan;
	const uint64_t *src = (const uint64_t *)&cs;

	if (bulk_channel_stats_get(ch, &cs) < 0)
		return;
	/* Every field is a uint64_t counter (asserted above): sum them all. */
	for (size_t i = 0; i < sizeof(cs) / sizeof(uint64_t); i++)
		dst[i] += src[i];
}

/* Count one finished request in @p st (client and server alike). */
void
bs_stats_count(struct bulk_bs_stats *st, unsigned op, uint64_t length, int status)
{
	st->requests++;
	switch (op) {
	case BULK_BS_OP_READ:
		st->reads++;
		if (status == 0)
			st->read_bytes += length;
		break;
	case BULK_BS_OP_WRITE:
		st->writes++;
		if (status == 0)
			st->write_bytes += length;
		break;
	case BULK_BS_OP_FLUSH:
		st->flushes++;
		break;
	case BULK_BS_OP_TRIM:
		st->trims++;
		break;
	case BULK_BS_OP_WRITE_ZEROES:
		st->zeroes++;
		break;
	default:
		break;
	}
	if (status != 0)
		st->errors++;
}

static void
count_done(struct bulk_bs_conn *c, const struct bs_sreq *r, int status)
{
	bs_stats_count(&c->st, r->pub.op, r->pub.length, status);
}

/* Queue @p r to go back with @p status at the next flush. */
static void
done_push(struct bs_sreq *r, int status)
{
	struct bs_chan *chan = r->chan;

	r->status = status;
	r->len_back =
		(r->pub.op == BULK_BS_OP_READ && status == 0 && !r->copied) ? r->pub.length : 0;
	r->state = BS_SREQ_DONE;
	r->next = NULL;
	*chan->done_tail = r;
	chan->done_tail = &r->next;
	chan->ndone++;
}

int
bulk_bs_request_complete(struct bulk_bs_request *req, int status)
{
	struct bs_sreq *r = (struct bs_sreq *)(void *)req;
	struct bulk_bs_conn *c;

	if (r == NULL || r->state != BS_SREQ_APP)
		return -EINVAL;
	c = r->sp->conn;
	c->inflight--;
	c->st.inflight--;
	c->srv->st.requests_live--;
	/* A status is an errno, negative; anything else is a failure too. */
	if (status > 0)
		status = -EIO;
	count_done(c, r, status);
	done_push(r, status);
	return 0;
}

int
bulk_bs_request_complete_copy(struct bulk_bs_request *req, struct bulk_buffer *buf)
{
	struct bs_sreq *r = (struct bs_sreq *)(void *)req;
	struct bulk_bs_conn *c;
	uint8_t meta[BS_WIRE_META_SIZE];
	int rc;

	if (r == NULL || buf == NULL || r->state != BS_SREQ_APP || r->pub.op != BULK_BS_OP_READ)
		return -EINVAL;
	c = r->sp->conn;
	if (!c->copies || !r->copy_ok || c->cchan.ch == NULL)
		return -ENOTSUP;
	bs_wire_meta_encode(&(struct bs_meta){ .op = BULK_BS_OP_READ,
					       .reply = 1,
					       .flags = BS_WIRE_F_COPY,
					       .length = r->pub.length,
					       .id = r->pub.id,
					       .offset = r->pub.offset },
			    meta);
	rc = bulk_channel_copy(c->cchan.ch, buf, r->pub.length, meta, BULK_CONT_NONE);
	if (rc == -ENOBUFS)
		return -EAGAIN;
	if (rc < 0)
		return rc;
	/* The copy is on its way; the request's own buffer follows with the
	 * reply (COPY set, no payload) at the next flush. */
	r->copied = true;
	c->st.copy_reads++;
	c->st.copy_bytes += r->pub.length;
	return bulk_bs_request_complete(req, 0);
}

int
bulk_bs_conn_copies(const struct bulk_bs_conn *c)
{
	return c != NULL && c->copies && c->cchan.ch != NULL;
}

int
bulk_bs_conn_copy_pool_add(struct bulk_bs_conn *c, struct bulk_pool *pool)
{
	if (c == NULL || pool == NULL)
		return -EINVAL;
	if (!c->copies || c->cchan.ch == NULL)
		return -ENOTSUP;
	return bulk_channel_assign_pool(c->cchan.ch, pool, BULK_CONT_NONE);
}

/* ------------------------------------------------------------ arrival */

/*
 * A buffer that is not one of this client's request buffers. libbulk
 * delivers only buffers of pools assigned to the channel, and every such
 * buffer has its record, so this is a bug somewhere; the buffer goes
 * straight back rather than stay with us.
 */
static void
stray(struct bs_chan *chan, struct bulk_buffer *b, const void *meta)
{
	uint8_t m[BS_WIRE_META_SIZE];
	struct bs_meta d;

	memset(&d, 0, sizeof(d));
	(void)bs_wire_meta_decode(meta, BS_WIRE_META_SIZE, &d);
	d.reply = 1;
	d.status = -EPROTO;
	bs_wire_meta_encode(&d, m);
	chan->conn->st.protocol_errors++;
	(void)bulk_channel_pass(chan->ch, b, 0, m, BULK_CONT_NONE);
}

static void
on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	struct bs_chan *chan = bulk_channel_user(ch);
	struct bulk_bs_conn *c = chan->conn;
	struct bulk_bs_server *s = c->srv;
	const uint8_t *mp = meta;

	for (unsigned i = 0; i < n; i++, mp += BS_WIRE_META_SIZE) {
		struct bulk_buffer *b = bufs[i];
		struct bs_sreq *r = b->user;
		struct bs_meta m;
		int rc;

		if (r == NULL || r->sp->conn != c || r->state != BS_SREQ_IDLE) {
			stray(chan, b, mp);
			continue;
		}
		r->chan = chan;
		r->copy_ok = false;
		r->copied = false;
		rc = bs_wire_meta_decode(mp, BS_WIRE_META_SIZE, &m);
		/* A client with a copy channel lets a READ's data come as a copy;
		 * from anyone else the flag is unknown (bs_req_check refuses it). */
		if (rc == 0 && c->copies && m.op == BULK_BS_OP_READ &&
		    (m.flags & BS_WIRE_F_COPY_OK)) {
			m.flags &= (uint16_t)~BS_WIRE_F_COPY_OK;
			r->copy_ok = true;
		}
		if (rc < 0) {
			/* Not our protocol: nothing in it can be trusted. */
			memset(&m, 0, sizeof(m));
			c->st.protocol_errors++;
			rc = -EPROTO;
		} else if (c->state != BS_CONN_SERVING || c->draining) {
			rc = -ESHUTDOWN;
		} else {
			rc = bs_req_check(&s->info, &m, lens[i], bulk_pool_buffer_size(b->pool));
		}
		r->pub.id = m.id;
		r->pub.offset = m.offset;
		r->pub.length = m.length;
		r->pub.op = m.op;
		r->pub.flags = m.flags;
		r->pub.conn = c;
		r->pub.user = NULL;
		if (rc < 0) {
			c->st.invalid++;
			count_done(c, r, rc);
			done_push(r, rc);
			continue;
		}
		r->pub.data = (m.op == BULK_BS_OP_READ || m.op == BULK_BS_OP_WRITE) ? b->addr : NULL;
		r->pub.buf = b;
		r->state = BS_SREQ_APP;
		c->inflight++;
		c->st.inflight++;
		s->st.requests_live++;
		s->ops.request(s->arg, &r->pub);
	}
}

/*
 * Copies are not part of the protocol (a write is a move): give them
 * back at once so that the client's buffers do not stay copied out.
 */
static void
on_copy(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	struct bs_chan *chan = bulk_channel_user(ch);

	(void)lens;
	(void)meta;
	chan->conn->st.protocol_errors += n;
	(void)bulk_channel_release_burst(ch, bufs, n, BULK_CONT_NONE);
}

/* ------------------------------------------------------------- pools */

static void spool_free(struct bulk_bs_conn *c, struct bs_spool *sp);

static struct bs_spool *
spool_of(struct bulk_pool *pool)
{
	struct bulk_buffer *b0 = bulk_pool_buffer(pool, 0);
	struct bs_sreq *r = b0 != NULL ? b0->user : NULL;

	return r != NULL ? r->sp : NULL;
}

static int
on_pool_assigned(struct bulk_channel *ch, struct bulk_pool *pool)
{
	struct bs_chan *chan = bulk_channel_user(ch);
	struct bulk_bs_conn *c = chan->conn;
	struct bs_spool *sp = spool_of(pool);
	uint32_t count = bulk_pool_buffer_count(pool);
	uint64_t total = count;

	if (c->state == BS_CONN_CLOSING || c->draining)
		return -ESHUTDOWN;
	if (sp != NULL) {
		/* The same pool on another channel of the same client. */
		if (sp->conn != c)
			return -EBUSY;
		sp->refs++;
		return 0;
	}
	for (struct bs_spool *p = c->pools; p != NULL; p = p->next)
		total += p->count;
	if (total > c->srv->info.max_buffers)
		return -BULK_E_POOL_LIMIT;
	if (bulk_pool_buffer_size(pool) < c->srv->info.block_min)
		return -BULK_E_POOL_GEOMETRY;
	sp = calloc(1, sizeof(*sp) + (size_t)count * sizeof(sp->reqs[0]));
	if (sp == NULL)
		return -ENOMEM;
	sp->conn = c;
	sp->view = pool;
	sp->id = *bulk_pool_get_id(pool);
	sp->count = count;
	sp->refs = 1;
	for (uint32_t i = 0; i < count; i++) {
		struct bulk_buffer *b = bulk_pool_buffer(pool, i);

		sp->reqs[i].sp = sp;
		sp->reqs[i].buf = b;
		b->user = &sp->reqs[i];
	}
	sp->next = c->pools;
	c->pools = sp;
	if (c->srv->ops.pool_assigned != NULL) {
		int rc = c->srv->ops.pool_assigned(c->srv->arg, c, pool);

		if (rc < 0) {
			spool_free(c, sp);
			return rc;
		}
	}
	return 0;
}

static void
spool_free(struct bulk_bs_conn *c, struct bs_spool *sp)
{
	struct bs_spool **pp;

	for (uint32_t i = 0; i < sp->count; i++)
		sp->reqs[i].buf->user = NULL;
	for (pp = &c->pools; *pp != NULL; pp = &(*pp)->next)
		if (*pp == sp) {
			*pp = sp->next;
			break;
		}
	free(sp);
}

static void
on_pool_removed(struct bulk_channel *ch, struct bulk_pool *pool)
{
	struct bs_chan *chan = bulk_channel_user(ch);
	struct bs_spool *sp = spool_of(pool);

	/* The client owns every buffer again (libbulk checked): none is ours. */
	if (sp == NULL || sp->conn != chan->conn || --sp->refs > 0)
		return;
	spool_free(chan->conn, sp);
}

void
bs_serve_pools_release(struct bulk_bs_conn *c, struct bulk_pool_id *ids, unsigned *nids, unsigned max)
{
	while (c->pools != NULL) {
		if (*nids < max)
			ids[(*nids)++] = c->pools->id;
		spool_free(c, c->pools);
	}
}

static void
on_teardown(struct bulk_channel *ch, int reason)
{
	struct bs_chan *chan = bulk_channel_user(ch);

	chan->closed = true;
	/* The client tore down (0) or went away: the connection ends either way. */
	bs_conn_end(chan->conn, reason);
}

/* ------------------------------------------------------ the copy channel */

static void
on_copy_released(struct bulk_channel *ch, struct bulk_buffer *const *bufs, unsigned n)
{
	struct bs_chan *chan = bulk_channel_user(ch);

	(void)bufs;
	chan->conn->st.copies_released += n;
}

/* The client assigns nothing on the copy channel: it only receives. */
static int
on_copy_pool_assigned(struct bulk_channel *ch, struct bulk_pool *pool)
{
	struct bs_chan *chan = bulk_channel_user(ch);

	(void)pool;
	chan->conn->st.protocol_errors++;
	return -EPERM;
}

const struct bulk_channel_callbacks bs_copy_callbacks = {
	.pool_assigned = on_copy_pool_assigned,
	.copy_released = on_copy_released,
	.teardown_received = on_teardown,
};

const struct bulk_channel_callbacks bs_serve_callbacks = {
	.pool_assigned = on_pool_assigned,
	.pool_removed = on_pool_removed,
	.move_received = on_move,
	.copy_received = on_copy,
	.teardown_received = on_teardown,
};

/* ------------------------------------------------------------ replies */

static void
chan_drop(struct bs_chan *chan)
{
	for (struct bs_sreq *r = chan->done_head; r != NULL; r = r->next)
		r->state = BS_SREQ_IDLE;
	chan->done_head = NULL;
	chan->done_tail = &chan->done_head;
	chan->ndone = 0;
}

void
bs_serve_drop(struct bulk_bs_conn *c)
{
	for (unsigned k = 0; k < c->nchans; k++)
		chan_drop(&c->chans[k]);
}

static int
chan_flush(struct bs_chan *chan)
{
	struct bulk_buffer *bufs[BS_PASS_BURST];
	uint32_t lens[BS_PASS_BURST];
	uint8_t meta[BS_PASS_BURST * BS_WIRE_META_SIZE];
	int sent = 0;

	if (chan->ch == NULL || bulk_channel_state(chan->ch) != BULK_STATE_CONNECTED) {
		/* Nobody to give them to: the client is gone. */
		chan_drop(chan);
		return 0;
	}
	while (chan->done_head != NULL) {
		struct bs_sreq *r = chan->done_head;
		unsigned k = 0;
		int n;

		/* A buffer that is not ours (an application that completed a
		 * request whose buffer it lost) cannot go back; it must not
		 * keep the others of the burst from going. */
		if (!bulk_buffer_is_owner(r->buf)) {
			chan->done_head = r->next;
			if (chan->done_head == NULL)
				chan->done_tail = &chan->done_head;
			chan->ndone--;
			r->state = BS_SREQ_IDLE;
			r->next = NULL;
			chan->conn->st.protocol_errors++;
			continue;
		}
		for (; r != NULL && k < BS_PASS_BURST && bulk_buffer_is_owner(r->buf);
		     r = r->next, k++) {
			struct bs_meta m = {
				.op = (uint8_t)r->pub.op,
				.reply = 1,
				.flags =
					(uint16_t)(r->pub.flags | (r->copied ? BS_WIRE_F_COPY : 0)),
				.length = r->pub.length,
				.id = r->pub.id,
				.offset = r->pub.offset,
				.status = r->status,
			};

			bufs[k] = r->buf;
			lens[k] = r->len_back;
			bs_wire_meta_encode(&m, &meta[k * BS_WIRE_META_SIZE]);
		}
		n = bulk_channel_pass_burst(chan->ch, bufs, lens, meta, k, BULK_CONT_NONE);
		if (n < 0) {
			/* The channel is closing under us, or a bug: either way
			 * these cannot go back any more. */
			chan->conn->st.protocol_errors++;
			chan_drop(chan);
			return sent;
		}
		for (int i = 0; i < n; i++) {
			r = chan->done_head;
			chan->done_head = r->next;
			r->state = BS_SREQ_IDLE;
			r->next = NULL;
		}
		if (chan->done_head == NULL)
			chan->done_tail = &chan->done_head;
		chan->ndone -= (unsigned)n;
		sent += n;
		if ((unsigned)n < k)
			break; /* the channel's queue is full: next round */
	}
	return sent;
}

int
bs_serve_flush(struct bulk_bs_conn *c)
{
	int sent = 0;

	for (unsigned k = 0; k < c->nchans; k++)
		if (c->chans[k].ndone > 0)
			sent += chan_flush(&c->chans[k]);
	return sent;
}
