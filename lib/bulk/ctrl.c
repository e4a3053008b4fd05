/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Received control messages: the one place that decides what a peer's
 * control message may say, for every backend. A backend decodes its wire
 * into a struct bulk_ctrl_rx and hands it over; nothing in it is trusted.
 */
#include <errno.h>

#include "bulk_core.h"

/* Largest pool a peer may announce (the allocator's own limit). */
#define BULK_POOL_MAX_BYTES (1ull << 47)

/* Answer a pool assignment we could not even look at. */
static void
refuse_assign(struct bulk_channel *ch, uint32_t slot, int32_t status)
{
	if (status == -BULK_E_BAD_DESC)
		ch->stats.bad_desc++;
	bulk_core_send_ctrl(ch, BULK_MSG_POOL_ASSIGN_REPLY, (uint16_t)slot, status, NULL);
}

static void
rx_assign(struct bulk_channel *ch, const struct bulk_ctrl_rx *m)
{
	const struct bulk_pool_desc *d = &m->pool;

	if (m->refuse < 0) {
		refuse_assign(ch, m->slot, m->refuse);
		return;
	}
	/* The geometry and trust the peer announced, before anything is
	 * looked up or allocated for it. */
	if (m->slot >= BULK_CHANNEL_MAX_POOLS || m->mapper == NULL || d->count == 0 ||
	    d->count > BULK_POOL_MAX_BUFFERS || d->buffer_size == 0 ||
	    (uint64_t)d->count * d->buffer_size > BULK_POOL_MAX_BYTES ||
	    (d->trust != BULK_TRUST_UNINITIALIZED && d->trust != ch->trust)) {
		/* A trust the channel does not have is a malformed message:
		 * both ends settled it at bind time. */
		refuse_assign(ch, m->slot, -BULK_E_BAD_DESC);
		return;
	}
	bulk_core_rx_pool_assign(ch, (uint16_t)m->slot, d, m->mapper);
}

void
bulk_core_rx_ctrl(struct bulk_channel *ch, const struct bulk_ctrl_rx *m)
{
	/* Slots travel in 16 bits on every wire; more is malformed. */
	uint16_t slot = m->slot < BULK_CHANNEL_MAX_POOLS ? (uint16_t)m->slot : UINT16_MAX;

	switch (m->type) {
	case BULK_MSG_POOL_ASSIGN:
		rx_assign(ch, m);
		return;
	case BULK_MSG_POOL_ASSIGN_REPLY:
		bulk_core_rx_pool_assign_reply(ch, slot, m->status);
		return;
	case BULK_MSG_POOL_REMOVE:
		bulk_core_rx_pool_remove(ch, slot);
		return;
	case BULK_MSG_TEARDOWN:
		bulk_core_rx_teardown(ch);
		return;
	case BULK_MSG_TEARDOWN_ACK:
		bulk_core_rx_teardown_ack(ch);
		return;
	default:
		/* Data types never come here; BIND_REPLY travels outside the
		 * channel's stream in every backend but local, which decodes
		 * it itself before there is a channel to speak of. */
		ch->stats.bad_desc++;
		return;
	}
}
