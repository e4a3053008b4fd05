/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pool assignment (Algorithm 6, two-phase: the peer may veto) and removal,
 * and the per-channel slot table that records which pool sits in which
 * wire slot, with the copy bitmaps of each.
 */
#include <errno.h>
#include <string.h>

#include "bulk_core.h"

/* Our assignment in @p slot did not happen: undo it, tell the caller. */
void
bulk_chan_slot_fail(struct bulk_channel *ch, uint16_t slot, int err)
{
	struct bulk_chan_pool *cp = &ch->slots[slot];
	struct bulk_pool *p = cp->pool;
	bool set_trust = cp->set_trust;
	struct bulk_cont c = cp->cont;

	cp->cont.fn = NULL;
	bulk_chan_slot_clear(ch, slot);
	/* A trust fixed by this attempt alone is undone. */
	if (set_trust && p->nlinks == 0 && p->npending == 0)
		p->trust = BULK_TRUST_UNINITIALIZED;
	if (c.fn != NULL)
		c.fn(c.arg, err, ch);
}

void
bulk_chan_slot_void_copies(struct bulk_chan_pool *cp)
{
	for (size_t w = 0; w < ((size_t)cp->pool->count + 63) / 64; w++) {
		uint64_t out = cp->copy_out[w], in = cp->copy_in[w];

		cp->copy_out[w] = cp->copy_in[w] = 0;
		while (out | in) {
			uint64_t bits = out | in;
			uint32_t i = (uint32_t)__builtin_ctzll(bits);
			struct bulk_buffer *b = &cp->pool->bufs[w * 64 + i];

			if (out & (1ull << i))
				b->copies_out--;
			if (in & (1ull << i))
				b->copies_in--;
			out &= ~(1ull << i);
			in &= ~(1ull << i);
			bulk_buffer_restate(b, bulk_buffer_is_owner(b));
			if (cp->pool->protect != NULL)
				cp->pool->protect(cp->pool, (uint32_t)(w * 64 + i));
		}
	}
}

uint64_t
bulk_chan_slot_reclaim(struct bulk_chan_pool *cp)
{
	uint64_t n = 0;

	for (size_t w = 0; w < ((size_t)cp->pool->count + 63) / 64; w++) {
		uint64_t away = cp->away[w];

		cp->away[w] = 0;
		while (away) {
			uint32_t i = (uint32_t)__builtin_ctzll(away);
			struct bulk_buffer *b = &cp->pool->bufs[w * 64 + i];

			away &= away - 1;
			/* Away means we gave up ownership over this channel and
			 * nothing came back since, so we hold no copy either. */
			if (b->state != BULK_BUFFER_INVALID || b->copies_in || b->copies_out)
				continue;
			b->state = BULK_BUFFER_READ_WRITE;
			n++;
			if (cp->pool->protect != NULL)
				cp->pool->protect(cp->pool, (uint32_t)(w * 64 + i));
		}
	}
	return n;
}

int
bulk_chan_slot_fill(struct bulk_channel *ch, uint16_t slot, struct bulk_pool *p, bool mine)
{
	struct bulk_chan_pool *cp = &ch->slots[slot];
	size_t words = ((size_t)p->count + 63) / 64;

	cp->copy_out = bulk_zalloc(sizeof(uint64_t) * words);
	cp->copy_in = bulk_zalloc(sizeof(uint64_t) * words);
	cp->away = bulk_zalloc(sizeof(uint64_t) * words);
	if (cp->copy_out == NULL || cp->copy_in == NULL || cp->away == NULL) {
		bulk_free(cp->copy_out);
		bulk_free(cp->copy_in);
		bulk_free(cp->away);
		cp->copy_out = cp->copy_in = cp->away = NULL;
		return -ENOMEM;
	}
	cp->pool = p;
	cp->mine = mine;
	if (ch->shares_memory)
		p->shared = true;
	cp->state = mine ? BULK_SLOT_PENDING : BULK_SLOT_ASSIGNED;
	/* A pending assignment pins the view: the peer may read it. */
	if (mine)
		p->npending++;
	return 0;
}

void
bulk_chan_slot_clear(struct bulk_channel *ch, uint16_t slot)
{
	struct bulk_chan_pool *cp = &ch->slots[slot];

	if (cp->state == BULK_SLOT_ASSIGNED && cp->pool != NULL)
		bulk_pool_link_del(cp->pool, ch);
	if (cp->state == BULK_SLOT_PENDING && cp->pool != NULL)
		cp->pool->npending--;
	ch->peer_pool_buffers -= cp->peer_bufs;
	ch->peer_pool_bytes -= cp->peer_bytes;
	bulk_free(cp->copy_out);
	bulk_free(cp->copy_in);
	bulk_free(cp->away);
	memset(cp, 0, sizeof(*cp));
}

static int
chan_find_pool_slot(const struct bulk_channel *ch, const struct bulk_pool *p)
{
	for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++)
		if (ch->slots[s].state != BULK_SLOT_FREE && ch->slots[s].pool == p)
			return (int)s;
	return -1;
}

static bool
domain_has_pool(const struct bulk_domain *d, const struct bulk_pool *p)
{
	for (const struct bulk_pool *q = d->pools; q != NULL; q = q->next)
		if (q == p)
			return true;
	return false;
}

/*
 * May a peer's assignment of a pool id we already have @p view of reuse it?
 * Pool ids are guessable, so naming one proves nothing. On a channel that
 * shares memory the peer must show it holds that very memory (the backend's
 * same()). On one that does not, what it sends is copied into our view: that
 * is harmless only while no other domain maps the view's memory; once one
 * may, the peer could make us write another domain's data.
 */
static bool
peer_proves_view(const struct bulk_channel *ch, const struct bulk_pool_mapper *m,
		 const struct bulk_pool *view)
{
	if (!ch->shares_memory)
		return !view->shared;
	if (m == NULL || m->same == NULL)
		return false;
	return m->same(m->arg, view) == 1;
}

/* The checks assign and remove share, in the documented order. */
static int
pool_op_check(const struct bulk_channel *ch, const struct bulk_pool *pool)
{
	if (ch == NULL || pool == NULL)
		return -EINVAL;
	if (pool->dom != ch->dom)
		return -BULK_E_WRONG_DOMAIN;
	if (ch->state != BULK_STATE_CONNECTED)
		return -BULK_E_NOT_CONNECTED;
	return 0;
}

int
bulk_channel_assign_pool(struct bulk_channel *ch, struct bulk_pool *pool, struct bulk_cont cont)
{
	int slot = -1;
	int rc;

	rc = pool_op_check(ch, pool);
	if (rc < 0)
		return rc;
	if (!domain_has_pool(ch->dom, pool))
		return -BULK_E_POOL_UNKNOWN;
	if (chan_find_pool_slot(ch, pool) >= 0)
		return -BULK_E_POOL_ASSIGNED;
	if (pool->trust != BULK_TRUST_UNINITIALIZED && pool->trust != ch->trust)
		return -BULK_E_TRUST_MISMATCH;
	if (ch->trust != BULK_TRUST_FULL && pool->buffer_size % 4096 != 0)
		return -BULK_E_POOL_GEOMETRY;
	if (pool->nlinks >= BULK_POOL_MAX_CHANNELS)
		return -ENOSPC;
	/* Our slots have our parity, so both sides can assign concurrently. */
	for (unsigned s = ch->side; s < BULK_CHANNEL_MAX_POOLS; s += 2)
		if (ch->slots[s].state == BULK_SLOT_FREE) {
			slot = (int)s;
			break;
		}
	if (slot < 0)
		return -ENOSPC;
	rc = bulk_chan_slot_fill(ch, (uint16_t)slot, pool, true);
	if (rc < 0)
		return rc;
	/* Spec 4.2.5: the pool's trust is set at its first assignment. */
	if (pool->trust == BULK_TRUST_UNINITIALIZED) {
		pool->trust = ch->trust;
		ch->slots[slot].set_trust = true;
	}
	rc = bulk_core_send_ctrl(ch, BULK_MSG_POOL_ASSIGN, (uint16_t)slot, 0, pool);
	if (rc < 0) {
		if (ch->slots[slot].set_trust)
			pool->trust = BULK_TRUST_UNINITIALIZED;
		bulk_chan_slot_clear(ch, (uint16_t)slot);
		return rc;
	}
	ch->slots[slot].cont = cont;
	return 0;
}

void
bulk_core_rx_pool_assign(struct bulk_channel *ch, uint16_t slot, const struct bulk_pool_desc *d,
			 const struct bulk_pool_mapper *m)
{
	struct bulk_pool *view;
	bool created = false;
	uint64_t bufs, bytes;
	int status = 0;

	/* The geometry was checked by bulk_core_rx_ctrl(); the slot must be
	 * one of the peer's, and free. */
	if (slot >= BULK_CHANNEL_MAX_POOLS || (slot & 1) == ch->side ||
	    ch->slots[slot].state != BULK_SLOT_FREE) {
		ch->stats.bad_desc++;
		status = -BULK_E_BAD_DESC;
		goto reply;
	}
	if (ch->state != BULK_STATE_CONNECTED) {
		/* Tearing down: a pool now could never be used. */
		status = -BULK_E_CLOSED;
		goto reply;
	}
	view = bulk_domain_pool_lookup(ch->dom, &d->id);
	if (view != NULL && !peer_proves_view(ch, m, view)) {
		ch->stats.pools_refused++;
		status = -BULK_E_POOL_FORGED;
		goto reply;
	}
	/* Everything below allocates in proportion to what the peer asks,
	 * before the application can veto: bounded per channel. */
	bufs = d->count;
	bytes = view == NULL && !ch->shares_memory ? (uint64_t)d->count * d->buffer_size : 0;
	if (ch->peer_pool_buffers + bufs > ch->peer_pool_buffers_max ||
	    ch->peer_pool_bytes + bytes > ch->peer_pool_bytes_max) {
		ch->stats.pools_refused++;
		status = -BULK_E_POOL_LIMIT;
		goto reply;
	}
	if (view != NULL) {
		/* A pool we know from elsewhere: one view per domain (spec 6.5.3). */
		if (view->count != d->count || view->buffer_size != d->buffer_size) {
			status = -BULK_E_POOL_GEOMETRY;
			goto reply;
		}
		if (chan_find_pool_slot(ch, view) >= 0) {
			status = -BULK_E_POOL_ASSIGNED;
			goto reply;
		}
		if (view->nlinks >= BULK_POOL_MAX_CHANNELS) {
			status = -ENOSPC;
			goto reply;
		}
	} else {
		status = bulk_pool_view_create(ch->dom, d, m, &view);
		if (status < 0)
			goto reply;
		created = true;
	}
	if (view->trust != BULK_TRUST_UNINITIALIZED && view->trust != ch->trust) {
		status = -BULK_E_TRUST_MISMATCH;
		goto undo;
	}
	status = bulk_chan_slot_fill(ch, slot, view, false);
	if (status < 0)
		goto undo;
	ch->slots[slot].peer_bufs = bufs;
	ch->slots[slot].peer_bytes = bytes;
	ch->peer_pool_buffers += bufs;
	ch->peer_pool_bytes += bytes;
	bulk_pool_link_add(view, ch, slot);
	if (ch->cb.pool_assigned != NULL && ch->cb.pool_assigned(ch, view) < 0) {
		status = -BULK_E_VETOED;
		bulk_chan_slot_clear(ch, slot);
		goto undo;
	}
	if (view->trust == BULK_TRUST_UNINITIALIZED)
		view->trust = ch->trust;
	goto reply;
undo:
	/* A veto leaves nothing behind (spec 5.2.3). */
	if (created)
		bulk_pool_view_destroy(view);
reply:
	bulk_core_send_ctrl(ch, BULK_MSG_POOL_ASSIGN_REPLY, slot, status, NULL);
}

void
bulk_core_rx_pool_assign_reply(struct bulk_channel *ch, uint16_t slot, int status)
{
	struct bulk_chan_pool *cp;
	struct bulk_cont c;

	if (slot >= BULK_CHANNEL_MAX_POOLS || ch->slots[slot].state != BULK_SLOT_PENDING) {
		ch->stats.bad_desc++;
		return;
	}
	cp = &ch->slots[slot];
	if (status != 0) {
		bulk_chan_slot_fail(ch, slot, status);
		return;
	}
	c = cp->cont;
	cp->cont.fn = NULL;
	cp->state = BULK_SLOT_ASSIGNED;
	cp->pool->npending--;
	bulk_pool_link_add(cp->pool, ch, slot);
	if (c.fn != NULL)
		c.fn(c.arg, 0, ch);
}

int
bulk_channel_remove_pool(struct bulk_channel *ch, struct bulk_pool *pool, struct bulk_cont cont)
{
	int slot, rc;

	rc = pool_op_check(ch, pool);
	if (rc < 0)
		return rc;
	slot = bulk_pool_slot(pool, ch);
	if (slot < 0)
		return -BULK_E_POOL_NOT_ASSIGNED;
	/* Only when nothing of the pool can be in the peer's hands. */
	for (uint32_t i = 0; i < pool->count; i++)
		if (pool->bufs[i].state != BULK_BUFFER_READ_WRITE)
			return -BULK_E_POOL_IN_USE;
	if (cont.fn != NULL && bulk_core_cont_reserve(ch) < 0)
		return -ENOMEM;
	rc = bulk_core_send_ctrl(ch, BULK_MSG_POOL_REMOVE, (uint16_t)slot, 0, pool);
	if (rc < 0)
		return rc;
	bulk_chan_slot_clear(ch, (uint16_t)slot);
	if (cont.fn != NULL)
		bulk_core_cont_push(ch, cont);
	return 0;
}

void
bulk_core_rx_pool_remove(struct bulk_channel *ch, uint16_t slot)
{
	struct bulk_pool *p;

	if (slot >= BULK_CHANNEL_MAX_POOLS || ch->slots[slot].state != BULK_SLOT_ASSIGNED) {
		ch->stats.bad_desc++;
		return;
	}
	p = ch->slots[slot].pool;
	/* A correct peer removes only a pool it holds entirely, so no copy of
	 * it crossed this channel either way. A faulty one is ignored: voiding
	 * our copies could strand onward copies we made of them. */
	for (size_t w = 0; w < ((size_t)p->count + 63) / 64; w++)
		if (ch->slots[slot].copy_in[w] | ch->slots[slot].copy_out[w]) {
			ch->stats.bad_desc++;
			return;
		}
	bulk_chan_slot_clear(ch, slot);
	if (ch->cb.pool_removed != NULL)
		ch->cb.pool_removed(ch, p);
	bulk_pool_view_maybe_drop(p);
}

int
bulk_channel_has_pool(const struct bulk_channel *ch, const struct bulk_pool *pool)
{
	if (ch == NULL || pool == NULL)
		return 0;
	return bulk_pool_slot(pool, ch) >= 0;
}
