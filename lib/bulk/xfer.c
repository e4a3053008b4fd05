/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Buffer transfers: move, pass, copy, release and full copy (Algorithms
 * 7-10, spec 5.1.11). Each burst is validated whole before anything
 * changes, handed to the backend, and only the buffers the backend queued
 * change state. The sender's transitions happen here; the receiver's in
 * bulk_core_rx_one() (bulk_backend.h).
 */
#include <errno.h>
#include <string.h>

#include "bulk_core.h"


/* A fresh mark per burst finds duplicates without clearing anything. */
uint32_t
bulk_domain_mark_next(struct bulk_domain *d)
{
	if (bulk_unlikely(++d->mark_gen == 0)) {
		/* Wrapped: stale marks could collide, so clear them once. */
		for (struct bulk_pool *p = d->pools; p != NULL; p = p->next)
			for (uint32_t i = 0; i < p->count; i++)
				p->bufs[i].mark = 0;
		d->mark_gen = 1;
	}
	return d->mark_gen;
}

static inline int
chan_check(const struct bulk_channel *ch, enum bulk_direction dir)
{
	if (bulk_unlikely(ch->state != BULK_STATE_CONNECTED))
		return -BULK_E_NOT_CONNECTED;
	if (bulk_unlikely(ch->direction != dir))
		return -BULK_E_WRONG_DIRECTION;
	return 0;
}

/* Checks shared by every buffer operation, in the documented order. */
static inline int
buf_check_common(const struct bulk_channel *ch, struct bulk_buffer *b, uint32_t len, int *slot)
{
	if (bulk_unlikely(b == NULL))
		return -EINVAL;
	if (bulk_unlikely(b->pool->dom != ch->dom))
		return -BULK_E_WRONG_DOMAIN;
	if (bulk_unlikely(len > b->pool->buffer_size))
		return -BULK_E_BAD_LENGTH;
	*slot = bulk_pool_slot(b->pool, ch);
	if (bulk_unlikely(*slot < 0))
		return -BULK_E_POOL_NOT_ASSIGNED;
	/* Carried to the backend, which then need not look it up again. */
	b->slot = (uint16_t)*slot;
	return 0;
}

/* Algorithms 7 and 8: the domain owns the buffer, and no copies are out. */
static inline int
buf_check_owned(const struct bulk_buffer *b)
{
	if (bulk_unlikely(!bulk_buffer_is_owner(b)))
		return -BULK_E_NOT_OWNER;
	if (bulk_unlikely(b->state != BULK_BUFFER_READ_WRITE))
		return -BULK_E_BUFFER_COPIED;
	if (bulk_unlikely(b->flags & BULK_BUF_F_FREE))
		return -BULK_E_BUFFER_FREE;
	return 0;
}


static BULK_ALWAYS_INLINE uint64_t *
stats_tx_counter(struct bulk_channel *ch, enum bulk_msg_type type)
{
	switch (type) {
	case BULK_MSG_MOVE: return &ch->stats.moves_tx;
	case BULK_MSG_PASS: return &ch->stats.passes_tx;
	case BULK_MSG_COPY: return &ch->stats.copies_tx;
	default: return &ch->stats.releases_tx;
	}
}

/*
 * Queue the validated burst, then apply the sender's side of the
 * transition to what was queued. Always inlined with a constant @p type so
 * that each operation gets its own straight-line loop.
 */
static BULK_ALWAYS_INLINE int
xfer_send(struct bulk_channel *ch, enum bulk_msg_type type, struct bulk_buffer *const *bufs,
	  const uint32_t *lens, const void *meta, unsigned n, struct bulk_cont cont)
{
	unsigned k;
	uint64_t bytes = 0;

	/* Room for the continuation first: after the send nothing may fail. */
	if (cont.fn != NULL && bulk_unlikely(ch->cont_tail - ch->cont_head == ch->cont_cap) &&
	    bulk_core_cont_reserve(ch) < 0)
		return -ENOMEM;
	k = ch->ops->tx_burst(ch, type, bufs, lens, meta, n);

	if (bulk_unlikely(k < n)) {
		ch->stats.queue_full++;
		if (k == 0)
			return 0;
	}
	if (lens != NULL)
		for (unsigned i = 0; i < k; i++)
			bytes += lens[i];
	for (unsigned i = 0; i < k; i++) {
		struct bulk_buffer *b = bufs[i];

		if (lens == NULL)
			bytes += b->pool->buffer_size;
		if (type == BULK_MSG_MOVE || type == BULK_MSG_PASS) {
			b->state = BULK_BUFFER_INVALID;
			/* Who has it now, should the peer go away with it. */
			bulk_bit_set(ch->slots[b->slot].away, b->index);
		} else if (type == BULK_MSG_COPY) {
			bulk_bit_set(ch->slots[b->slot].copy_out, b->index);
			b->copies_out++;
			bulk_buffer_restate(b, bulk_buffer_is_owner(b));
		} else if (type == BULK_MSG_RELEASE) {
			bulk_bit_clear(ch->slots[b->slot].copy_in, b->index);
			b->copies_in--;
			bulk_buffer_restate(b, bulk_buffer_is_owner(b));
		}
	}
	ch->stats.tx_msgs += k;
	ch->stats.tx_bufs += k;
	ch->stats.tx_bytes += bytes;
	*stats_tx_counter(ch, type) += k;
	if (cont.fn != NULL)
		bulk_core_cont_push(ch, cont);
	return (int)k;
}

static BULK_ALWAYS_INLINE int
move_pass_burst(struct bulk_channel *ch, enum bulk_msg_type type, enum bulk_direction dir,
		struct bulk_buffer *const *bufs, const uint32_t *lens, const void *meta, unsigned n,
		struct bulk_cont cont)
{
	uint32_t mark = 0;
	int rc, slot;

	if (bulk_unlikely(ch == NULL || bufs == NULL || n == 0 ||
			  (ch->meta_size > 0 && meta == NULL)))
		return -EINVAL;
	rc = chan_check(ch, dir);
	if (bulk_unlikely(rc < 0))
		return rc;
	/* A single buffer cannot be a duplicate: skip the marking. */
	if (n > 1)
		mark = bulk_domain_mark_next(ch->dom);
	for (unsigned i = 0; i < n; i++) {
		struct bulk_buffer *b = bufs[i];

		rc = buf_check_common(ch, b, lens ? lens[i] : 0, &slot);
		if (rc == 0)
			rc = buf_check_owned(b);
		if (bulk_unlikely(rc < 0))
			return rc;
		if (n > 1) {
			if (bulk_unlikely(b->mark == mark))
				return -BULK_E_DUPLICATE;
			b->mark = mark;
		}
	}
	return xfer_send(ch, type, bufs, lens, meta, n, cont);
}

int
bulk_channel_move_burst(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
			const uint32_t *lens, const void *meta, unsigned n, struct bulk_cont cont)
{
	return move_pass_burst(ch, BULK_MSG_MOVE, BULK_DIRECTION_TX, bufs, lens, meta, n, cont);
}

int
bulk_channel_pass_burst(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
			const uint32_t *lens, const void *meta, unsigned n, struct bulk_cont cont)
{
	return move_pass_burst(ch, BULK_MSG_PASS, BULK_DIRECTION_RX, bufs, lens, meta, n, cont);
}

int
bulk_channel_copy_burst(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
			const uint32_t *lens, const void *meta, unsigned n, struct bulk_cont cont)
{
	uint32_t mark;
	int rc, slot;

	if (ch == NULL || bufs == NULL || n == 0 || (ch->meta_size > 0 && meta == NULL))
		return -EINVAL;
	rc = chan_check(ch, BULK_DIRECTION_TX);
	if (rc < 0)
		return rc;
	mark = bulk_domain_mark_next(ch->dom);
	for (unsigned i = 0; i < n; i++) {
		struct bulk_buffer *b = bufs[i];

		rc = buf_check_common(ch, b, lens ? lens[i] : 0, &slot);
		/* Algorithm 9: owner, or holder of a copy. */
		if (rc == 0 && b->state == BULK_BUFFER_INVALID)
			rc = -BULK_E_NO_ACCESS;
		if (rc == 0 && bulk_bit_test(ch->slots[slot].copy_out, b->index))
			rc = -BULK_E_COPY_EXISTS;
		if (rc == 0 && (b->flags & BULK_BUF_F_FREE))
			rc = -BULK_E_BUFFER_FREE;
		if (rc == 0 && b->mark == mark)
			rc = -BULK_E_DUPLICATE;
		if (rc < 0)
			return rc;
		b->mark = mark;
	}
	return xfer_send(ch, BULK_MSG_COPY, bufs, lens, meta, n, cont);
}

int
bulk_channel_release_burst(struct bulk_channel *ch, struct bulk_buffer *const *bufs, unsigned n,
			   struct bulk_cont cont)
{
	uint32_t mark;
	int rc, slot;

	if (ch == NULL || bufs == NULL || n == 0)
		return -EINVAL;
	rc = chan_check(ch, BULK_DIRECTION_RX);
	if (rc < 0)
		return rc;
	mark = bulk_domain_mark_next(ch->dom);
	for (unsigned i = 0; i < n; i++) {
		struct bulk_buffer *b = bufs[i];

		rc = buf_check_common(ch, b, 0, &slot);
		/* Algorithm 10: (buffer, chan) in buffer_copies. */
		if (rc == 0 && !bulk_bit_test(ch->slots[slot].copy_in, b->index))
			rc = -BULK_E_NOT_COPY;
		/* Reachability: copies we made hang off our last copy in. */
		if (rc == 0 && !bulk_buffer_is_owner(b) && b->copies_out > 0 && b->copies_in == 1)
			rc = -BULK_E_COPY_REACHABILITY;
		if (rc == 0 && b->mark == mark)
			rc = -BULK_E_DUPLICATE;
		if (rc < 0)
			return rc;
		b->mark = mark;
	}
	/* Releases carry no meta (backends zero-fill the meta slots). */
	return xfer_send(ch, BULK_MSG_RELEASE, bufs, NULL, NULL, n, cont);
}

int
bulk_channel_full_copy_burst(struct bulk_channel *ch, struct bulk_buffer *const *src,
			     struct bulk_buffer *const *dst, const uint32_t *lens, const void *meta,
			     unsigned n, struct bulk_cont cont)
{
	uint32_t mark;
	unsigned k;
	int rc, slot;

	if (ch == NULL || src == NULL || dst == NULL || n == 0 ||
	    (ch->meta_size > 0 && meta == NULL))
		return -EINVAL;
	rc = chan_check(ch, BULK_DIRECTION_TX);
	if (rc < 0)
		return rc;
	mark = bulk_domain_mark_next(ch->dom);
	for (unsigned i = 0; i < n; i++) {
		const struct bulk_buffer *s = src[i];
		struct bulk_buffer *b = dst[i];

		if (s == NULL)
			return -EINVAL;
		if (s->pool->dom != ch->dom)
			return -BULK_E_WRONG_DOMAIN;
		if (s->state == BULK_BUFFER_INVALID)
			return -BULK_E_NO_ACCESS;
		rc = buf_check_common(ch, b, lens ? lens[i] : 0, &slot);
		/* Without lens the receiver is told dst's size: it must be src's. */
		if (rc == 0 && lens == NULL && b->pool->buffer_size != s->pool->buffer_size)
			rc = -BULK_E_BAD_LENGTH;
		if (rc == 0 && lens != NULL && lens[i] > s->pool->buffer_size)
			rc = -BULK_E_BAD_LENGTH;
		if (rc == 0)
			rc = buf_check_owned(b);
		if (rc == 0 && b->mark == mark)
			rc = -BULK_E_DUPLICATE;
		if (rc < 0)
			return rc;
		b->mark = mark;
	}
	/* Copy before queueing: the receiver may read dst as soon as it is queued. */
	for (k = 0; k < n; k++) {
		uint32_t len = lens ? lens[k] : src[k]->pool->buffer_size;

		if (dst[k] != src[k])
			memcpy(dst[k]->addr, src[k]->addr, len);
	}
	rc = xfer_send(ch, BULK_MSG_MOVE, dst, lens, meta, n, cont);
	if (rc > 0) {
		ch->stats.lib_copies += (unsigned)rc;
		for (int i = 0; i < rc; i++)
			ch->stats.lib_copy_bytes += lens ? lens[i] : src[i]->pool->buffer_size;
	}
	return rc;
}

/* Single-buffer forms. */

static inline int
one(int rc)
{
	return rc == 1 ? 0 : rc == 0 ? -ENOBUFS : rc;
}

int
bulk_channel_move(struct bulk_channel *ch, struct bulk_buffer *buf, uint32_t len,
		  const void *meta, struct bulk_cont cont)
{
	return one(bulk_channel_move_burst(ch, &buf, &len, meta, 1, cont));
}

int
bulk_channel_pass(struct bulk_channel *ch, struct bulk_buffer *buf, uint32_t len,
		  const void *meta, struct bulk_cont cont)
{
	return one(bulk_channel_pass_burst(ch, &buf, &len, meta, 1, cont));
}

int
bulk_channel_copy(struct bulk_channel *ch, struct bulk_buffer *buf, uint32_t len,
		  const void *meta, struct bulk_cont cont)
{
	return one(bulk_channel_copy_burst(ch, &buf, &len, meta, 1, cont));
}

int
bulk_channel_release(struct bulk_channel *ch, struct bulk_buffer *buf, struct bulk_cont cont)
{
	return one(bulk_channel_release_burst(ch, &buf, 1, cont));
}

int
bulk_channel_full_copy(struct bulk_channel *ch, struct bulk_buffer *src, struct bulk_buffer *dst,
		       uint32_t len, const void *meta, struct bulk_cont cont)
{
	return one(bulk_channel_full_copy_burst(ch, &src, &dst, &len, meta, 1, cont));
}

void
bulk_core_copy_bounce(struct bulk_channel *ch, uint16_t slot, uint32_t index)
{
	struct bulk_ctrl_msg m = { .type = BULK_MSG_RELEASE, .slot = slot, .index = index };

	if (ch->ops->tx_ctrl(ch, &m) == 0) {
		ch->stats.tx_msgs++;
		ch->stats.copies_bounced++;
	}
}
