/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Channel life cycle (Algorithms 3 and 4, teardown), pool assignment and
 * removal (Algorithm 6, two-phase with veto), continuations and polling.
 * Buffer transfers are in xfer.c.
 */
#include <errno.h>
#include <string.h>

#include "bulk_core.h"

#define BULK_RX_BURST_DEFAULT 64u
#define BULK_RX_SCRATCH 256u

static bool
valid_trust(enum bulk_trust t)
{
	return t == BULK_TRUST_NONE || t == BULK_TRUST_HALF || t == BULK_TRUST_FULL;
}

static bool
valid_role(enum bulk_role r)
{
	return r == BULK_ROLE_GENERIC || r == BULK_ROLE_MASTER || r == BULK_ROLE_SLAVE;
}

static struct bulk_channel *
chan_alloc(const struct bulk_backend_ops *ops, struct bulk_domain *d,
	   const struct bulk_channel_callbacks *cb)
{
	size_t sz = ops->chan_size > sizeof(struct bulk_channel) ? ops->chan_size
								 : sizeof(struct bulk_channel);
	struct bulk_channel *ch = bulk_zalloc_aligned(BULK_CACHE_LINE, sz);

	if (ch == NULL)
		return NULL;
	ch->rx_cap = BULK_RX_SCRATCH;
	ch->rx_bufs = bulk_zalloc(sizeof(*ch->rx_bufs) * ch->rx_cap);
	ch->rx_lens = bulk_zalloc(sizeof(*ch->rx_lens) * ch->rx_cap);
	ch->rx_meta = bulk_zalloc((size_t)BULK_META_MAX * ch->rx_cap);
	if (ch->rx_bufs == NULL || ch->rx_lens == NULL || ch->rx_meta == NULL) {
		bulk_free(ch->rx_bufs);
		bulk_free(ch->rx_lens);
		bulk_free(ch->rx_meta);
		bulk_free(ch);
		return NULL;
	}
	ch->ops = ops;
	ch->dom = d;
	if (cb != NULL)
		ch->cb = *cb;
	return ch;
}

static void
chan_link(struct bulk_channel *ch)
{
	ch->next = ch->dom->chans;
	ch->dom->chans = ch;
}

static void
chan_unlink(struct bulk_channel *ch)
{
	struct bulk_channel **pp;

	for (pp = &ch->dom->chans; *pp != NULL; pp = &(*pp)->next)
		if (*pp == ch) {
			*pp = ch->next;
			return;
		}
}

static void
chan_dealloc(struct bulk_channel *ch)
{
	bulk_free(ch->conts);
	bulk_free(ch->rx_bufs);
	bulk_free(ch->rx_lens);
	bulk_free(ch->rx_meta);
	bulk_free(ch);
}

static void
chan_set_peer_caps(struct bulk_channel *ch, uint32_t bufs, uint64_t bytes)
{
	ch->peer_pool_buffers_max = bufs ? bufs : BULK_PEER_POOL_BUFFERS_DEFAULT;
	ch->peer_pool_bytes_max = bytes ? bytes : BULK_PEER_POOL_BYTES_DEFAULT;
}

int
bulk_channel_create(struct bulk_endpoint *ep, const struct bulk_channel_callbacks *cb,
		    const struct bulk_channel_params *params, struct bulk_channel **out)
{
	struct bulk_channel *ch;
	enum bulk_trust trust;
	uint32_t qs;
	int rc;

	if (ep == NULL || params == NULL || out == NULL || ep->ops == NULL)
		return -EINVAL;
	if (params->direction != BULK_DIRECTION_TX && params->direction != BULK_DIRECTION_RX)
		return -EINVAL;
	if (!valid_role(params->role) || params->meta_size > BULK_META_MAX)
		return -EINVAL;
	trust = params->trust ? params->trust : BULK_TRUST_FULL;
	if (!valid_trust(trust))
		return -EINVAL;
	qs = params->queue_size ? params->queue_size : BULK_CHANNEL_DEFAULT_QUEUE;
	if ((qs & (qs - 1)) != 0 || qs < 2 || qs > (1u << 24))
		return -EINVAL;
	/* Algorithm 3: the endpoint must not be in use yet. */
	if (ep->chan != NULL)
		return -BULK_E_EP_IN_USE;
	if (!(ep->ops->trust_mask & (1u << trust)))
		return -BULK_E_TRUST_UNSUPPORTED;

	ch = chan_alloc(ep->ops, ep->dom, cb);
	if (ch == NULL)
		return -ENOMEM;
	ch->ep = ep;
	ch->direction = params->direction;
	ch->role = params->role;
	ch->trust = trust;
	ch->shares_memory = ep->ops->shares_memory && trust != BULK_TRUST_NONE;
	chan_set_peer_caps(ch, params->peer_pool_buffers_max, params->peer_pool_bytes_max);
	ch->meta_size = params->meta_size;
	ch->queue_size = qs;
	ch->user = params->user;
	ch->side = 0;
	ch->state = BULK_STATE_INITIALIZED;
	rc = ep->ops->create != NULL ? ep->ops->create(ch) : 0;
	if (rc < 0) {
		chan_dealloc(ch);
		return rc;
	}
	chan_link(ch);
	/* Pairs with the acquire load of ep->chan in a binder's backend. */
	__atomic_store_n(&ep->chan, ch, __ATOMIC_RELEASE);
	*out = ch;
	return 0;
}

int
bulk_core_negotiate(enum bulk_direction c_dir, enum bulk_role c_role, enum bulk_trust c_trust,
		    uint32_t c_meta, const struct bulk_bind_params *bp, struct bulk_side *out)
{
	enum bulk_role want = bp ? bp->role : BULK_ROLE_GENERIC;
	enum bulk_role role;

	if (bp != NULL && bp->trust != BULK_TRUST_UNINITIALIZED && bp->trust != c_trust)
		return -BULK_E_BIND_MISMATCH;
	if (bp != NULL && bp->meta_size != 0 && bp->meta_size != c_meta)
		return -BULK_E_BIND_MISMATCH;
	switch (c_role) {
	case BULK_ROLE_MASTER:
		if (want == BULK_ROLE_MASTER)
			return -BULK_E_BIND_MISMATCH;
		role = BULK_ROLE_SLAVE;
		break;
	case BULK_ROLE_SLAVE:
		if (want == BULK_ROLE_SLAVE)
			return -BULK_E_BIND_MISMATCH;
		role = BULK_ROLE_MASTER;
		break;
	default:
		/* A GENERIC creator adapts; a GENERIC binder takes SLAVE. */
		role = want == BULK_ROLE_MASTER ? BULK_ROLE_MASTER : BULK_ROLE_SLAVE;
		break;
	}
	out->direction = c_dir == BULK_DIRECTION_TX ? BULK_DIRECTION_RX : BULK_DIRECTION_TX;
	out->role = role;
	out->trust = c_trust;
	out->meta_size = c_meta;
	return 0;
}

int
bulk_channel_bind(struct bulk_domain *d, struct bulk_endpoint *remote,
		  const struct bulk_channel_callbacks *cb, const struct bulk_bind_params *params,
		  struct bulk_cont cont, struct bulk_channel **out)
{
	struct bulk_channel *ch;
	int rc;

	if (d == NULL || remote == NULL || out == NULL || remote->ops == NULL)
		return -EINVAL;
	if (params != NULL) {
		if (!valid_role(params->role) || params->meta_size > BULK_META_MAX)
			return -EINVAL;
		if (params->trust != BULK_TRUST_UNINITIALIZED && !valid_trust(params->trust))
			return -EINVAL;
	}
	if (remote->dom == d && !remote->by_name)
		return -BULK_E_WRONG_DOMAIN;
	if (remote->ops->bind == NULL)
		return -BULK_E_NO_BACKEND;

	ch = chan_alloc(remote->ops, d, cb);
	if (ch == NULL)
		return -ENOMEM;
	ch->ep = remote;
	ch->side = 1;
	ch->user = params ? params->user : NULL;
	chan_set_peer_caps(ch, params ? params->peer_pool_buffers_max : 0,
			   params ? params->peer_pool_bytes_max : 0);
	ch->bind_cont = cont;
	ch->state = BULK_STATE_BINDING;
	rc = remote->ops->bind(ch, remote, params);
	if (rc < 0) {
		chan_dealloc(ch);
		return rc;
	}
	chan_link(ch);
	*out = ch;
	return 0;
}

int
bulk_core_rx_bind_request(struct bulk_channel *ch, enum bulk_role binder_role)
{
	struct bulk_bind_info info = {
		.binder_role = binder_role,
		.trust = ch->trust,
		.meta_size = ch->meta_size,
	};
	int rc = 0;

	if (ch->state != BULK_STATE_INITIALIZED)
		return -BULK_E_ALREADY_BOUND;
	if (ch->cb.bind_received != NULL)
		rc = ch->cb.bind_received(ch, &info);
	if (rc < 0)
		return -BULK_E_BIND_REFUSED;
	ch->role = binder_role == BULK_ROLE_MASTER ? BULK_ROLE_SLAVE : BULK_ROLE_MASTER;
	ch->state = BULK_STATE_CONNECTED;
	return 0;
}

void
bulk_core_rx_bind_reply(struct bulk_channel *ch, int status)
{
	if (ch->state != BULK_STATE_BINDING) {
		ch->stats.bad_desc++;
		return;
	}
	ch->state = status == 0 ? BULK_STATE_CONNECTED : BULK_STATE_CLOSED;
	bulk_cont_fire(&ch->bind_cont, status, ch);
}

/* ------------------------------------------------------------ teardown */

/*
 * Nothing arrives on a closed channel any more, so copies that crossed it
 * can never be released over it: void them on both sides. The holder loses
 * its read right, the sender's count drops (the owner is READ_WRITE again
 * once its other copies are back).
 */
static void
chan_void_copies(struct bulk_channel *ch)
{
	for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++)
		if (ch->slots[s].state == BULK_SLOT_ASSIGNED)
			bulk_chan_slot_void_copies(&ch->slots[s]);
}

static void
chan_closed(struct bulk_channel *ch, int reason)
{
	ch->state = BULK_STATE_CLOSED;
	chan_void_copies(ch);
	/* No answer can come any more to assignments still pending. */
	for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++)
		if (ch->slots[s].state == BULK_SLOT_PENDING)
			bulk_chan_slot_fail(ch, (uint16_t)s, reason);
}

int
bulk_channel_destroy(struct bulk_channel *ch, struct bulk_cont cont)
{
	int rc;

	if (ch == NULL)
		return -EINVAL;
	switch (ch->state) {
	case BULK_STATE_INITIALIZED:
		/* Nobody bound: close at once, report at the next poll. */
		if (ch->ops->unlisten != NULL)
			ch->ops->unlisten(ch);
		chan_closed(ch, -BULK_E_CLOSED);
		ch->destroy_cont = cont;
		ch->fire_destroy = true;
		return 0;
	case BULK_STATE_BINDING:
	case BULK_STATE_BIND_NEGOTIATE:
		return -EBUSY;
	case BULK_STATE_CONNECTED:
		/* Copies over a closing channel could never be released: they
		 * must come home first (the spec has no teardown rule for them). */
		for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++) {
			const struct bulk_chan_pool *cp = &ch->slots[s];

			if (cp->state != BULK_SLOT_ASSIGNED)
				continue;
			for (size_t w = 0; w < ((size_t)cp->pool->count + 63) / 64; w++)
				if (cp->copy_out[w] | cp->copy_in[w])
					return -BULK_E_BUFFER_COPIED;
		}
		rc = bulk_core_send_ctrl(ch, BULK_MSG_TEARDOWN, 0, 0, NULL);
		if (rc < 0)
			return rc;
		ch->destroy_cont = cont;
		ch->state = BULK_STATE_TEARDOWN;
		return 0;
	default:
		return -BULK_E_CLOSED;
	}
}

void
bulk_core_rx_teardown(struct bulk_channel *ch)
{
	/* FIFO: all the peer sent before its teardown was delivered already. */
	bulk_core_send_ctrl(ch, BULK_MSG_TEARDOWN_ACK, 0, 0, NULL);
	if (ch->state == BULK_STATE_CONNECTED) {
		chan_closed(ch, -BULK_E_CLOSED);
		/* Our own descriptors sent before the ack reach the peer before
		 * the ack does, and it still receives in TEARDOWN: they complete. */
		bulk_core_fire_conts_all(ch, 0);
		if (ch->cb.teardown_received != NULL)
			ch->cb.teardown_received(ch, 0);
	}
	/* In TEARDOWN ourselves (both sides started): wait for the ack. */
}

void
bulk_core_rx_teardown_ack(struct bulk_channel *ch)
{
	if (ch->state != BULK_STATE_TEARDOWN) {
		ch->stats.bad_desc++;
		return;
	}
	chan_closed(ch, -BULK_E_CLOSED);
	bulk_core_fire_conts_all(ch, 0);
	bulk_cont_fire(&ch->destroy_cont, 0, ch);
}

void
bulk_core_peer_gone(struct bulk_channel *ch, int reason)
{
	enum bulk_channel_state was = ch->state;

	if (was == BULK_STATE_CLOSED)
		return;
	chan_closed(ch, reason);
	/* Whatever we moved or passed to the peer died with it: the data is
	 * still in our mapping and nobody else can hold it through this
	 * channel, so it is ours again. */
	for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++) {
		struct bulk_pool *p = ch->slots[s].pool;

		if (ch->slots[s].state != BULK_SLOT_ASSIGNED)
			continue;
		ch->stats.reclaimed += bulk_chan_slot_reclaim(&ch->slots[s]);
		/* A received pool that reached us only through the dead peer
		 * has no way home any more: its upstream got back what went
		 * through the peer, so what we still own of it may be dropped. */
		if (!p->owns_memory && p->nlinks == 1)
			p->orphan = true;
	}
	bulk_core_fire_conts_all(ch, reason);
	if (was == BULK_STATE_BINDING)
		bulk_cont_fire(&ch->bind_cont, reason, ch);
	if (was == BULK_STATE_TEARDOWN)
		bulk_cont_fire(&ch->destroy_cont, 0, ch);
	if (ch->cb.teardown_received != NULL)
		ch->cb.teardown_received(ch, reason);
}

static int chan_free_now(struct bulk_channel *ch);

int
bulk_channel_free(struct bulk_channel *ch)
{
	if (ch == NULL)
		return -EINVAL;
	if (ch->state != BULK_STATE_CLOSED && ch->state != BULK_STATE_INITIALIZED)
		return -EBUSY;
	if (ch->fire_destroy)
		return -EBUSY;
	if (ch->free_pending)
		return 0;
	if (ch->in_poll || ch->dom->in_poll) {
		/* Called from a callback: the poll still walks this channel. */
		ch->free_pending = true;
		ch->dom->free_pending = true;
		return 0;
	}
	return chan_free_now(ch);
}

static int
chan_free_now(struct bulk_channel *ch)
{
	for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++)
		if (ch->slots[s].state != BULK_SLOT_FREE) {
			struct bulk_pool *p = ch->slots[s].pool;

			bulk_chan_slot_clear(ch, (uint16_t)s);
			bulk_pool_view_maybe_drop(p);
		}
	if (ch->ops->free != NULL)
		ch->ops->free(ch);
	if (ch->side == 0 && ch->ep != NULL && ch->ep->chan == ch)
		__atomic_store_n(&ch->ep->chan, NULL, __ATOMIC_RELEASE);
	chan_unlink(ch);
	chan_dealloc(ch);
	return 0;
}

/* ---------------------------------------------------------------- poll */

int
bulk_channel_poll(struct bulk_channel *ch, unsigned budget)
{
	int rc;

	if (ch == NULL)
		return -EINVAL;
	if (bulk_unlikely(ch->in_poll))
		return -EBUSY;
	if (bulk_unlikely(ch->free_pending))
		return 0;
	if (budget == 0)
		budget = BULK_RX_BURST_DEFAULT;
	ch->in_poll = true;
	if (bulk_unlikely(ch->fire_destroy)) {
		ch->fire_destroy = false;
		bulk_cont_fire(&ch->destroy_cont, 0, ch);
	}
	rc = ch->ops->poll(ch, budget);
	ch->in_poll = false;
	if (bulk_unlikely(ch->free_pending) && ch->dom->in_poll == 0)
		bulk_domain_sweep(ch->dom);
	return rc;
}

/* Free the channels whose free was asked for inside a poll. */
void
bulk_domain_sweep(struct bulk_domain *d)
{
	struct bulk_channel *ch, *next;

	if (!d->free_pending)
		return;
	d->free_pending = false;
	for (ch = d->chans; ch != NULL; ch = next) {
		next = ch->next;
		if (ch->free_pending && !ch->in_poll)
			chan_free_now(ch);
	}
}

int
bulk_channel_fd(struct bulk_channel *ch)
{
	if (ch == NULL)
		return -EINVAL;
	if (ch->ops->fd == NULL)
		return -ENOTSUP;
	return ch->ops->fd(ch);
}

int
bulk_channel_arm(struct bulk_channel *ch)
{
	if (ch == NULL)
		return -EINVAL;
	if (ch->ops->arm == NULL)
		return -ENOTSUP;
	return ch->ops->arm(ch);
}

/* ----------------------------------------------------------- accessors */

enum bulk_channel_state
bulk_channel_state(const struct bulk_channel *ch)
{
	return ch->state;
}

enum bulk_direction
bulk_channel_direction(const struct bulk_channel *ch)
{
	return ch->direction;
}

enum bulk_role
bulk_channel_role(const struct bulk_channel *ch)
{
	return ch->role;
}

enum bulk_trust
bulk_channel_trust(const struct bulk_channel *ch)
{
	return ch->trust;
}

uint32_t
bulk_channel_meta_size(const struct bulk_channel *ch)
{
	return ch->meta_size;
}

void *
bulk_channel_user(const struct bulk_channel *ch)
{
	return ch->user;
}

void
bulk_channel_set_user(struct bulk_channel *ch, void *user)
{
	ch->user = user;
}

struct bulk_domain *
bulk_channel_domain(const struct bulk_channel *ch)
{
	return ch->dom;
}

const char *
bulk_channel_backend(const struct bulk_channel *ch)
{
	return ch->ops->name;
}

int
bulk_channel_stats_get(const struct bulk_channel *ch, struct bulk_channel_stats *st)
{
	if (ch == NULL || st == NULL)
		return -EINVAL;
	*st = ch->stats;
	return 0;
}
