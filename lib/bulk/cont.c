/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Continuations: the FIFO of {handler, arg} waiting for the peer to consume
 * what we sent, and control messages the core sends (counted like data, so
 * that their place in that FIFO is known).
 */
#include <errno.h>
#include <string.h>

#include "bulk_core.h"

void
bulk_cont_fire(struct bulk_cont *c, int err, struct bulk_channel *ch)
{
	struct bulk_cont k = *c;

	c->fn = NULL;
	if (k.fn != NULL)
		k.fn(k.arg, err, ch);
}

int
bulk_core_cont_reserve(struct bulk_channel *ch)
{
	if (ch->cont_tail - ch->cont_head == ch->cont_cap) {
		uint32_t ncap = ch->cont_cap ? ch->cont_cap * 2 : 64;
		struct bulk_cont_rec *n = bulk_zalloc(sizeof(*n) * ncap);

		if (n == NULL)
			return -ENOMEM;
		for (uint32_t i = 0; i < ch->cont_tail - ch->cont_head; i++)
			n[i] = ch->conts[(ch->cont_head + i) % ch->cont_cap];
		ch->cont_tail -= ch->cont_head;
		ch->cont_head = 0;
		bulk_free(ch->conts);
		ch->conts = n;
		ch->cont_cap = ncap;
	}
	return 0;
}

void
bulk_core_cont_push(struct bulk_channel *ch, struct bulk_cont cont)
{
	/* Room was made by bulk_core_cont_reserve() before anything was sent. */
	ch->conts[ch->cont_tail % ch->cont_cap].seq = ch->stats.tx_msgs;
	ch->conts[ch->cont_tail % ch->cont_cap].cont = cont;
	ch->cont_tail++;
}

void
bulk_core_tx_complete(struct bulk_channel *ch, uint64_t consumed)
{
	while (ch->cont_head != ch->cont_tail) {
		struct bulk_cont_rec *r = &ch->conts[ch->cont_head % ch->cont_cap];
		struct bulk_cont c;

		if (r->seq > consumed)
			break;
		c = r->cont;
		ch->cont_head++;
		c.fn(c.arg, 0, ch);
	}
}

void
bulk_core_fire_conts_all(struct bulk_channel *ch, int err)
{
	while (ch->cont_head != ch->cont_tail) {
		struct bulk_cont c = ch->conts[ch->cont_head % ch->cont_cap].cont;

		ch->cont_head++;
		c.fn(c.arg, err, ch);
	}
}

int
bulk_core_send_ctrl(struct bulk_channel *ch, enum bulk_msg_type type, uint16_t slot,
		    int32_t status, struct bulk_pool *pool)
{
	struct bulk_ctrl_msg m = { .type = type, .slot = slot, .status = status, .pool = pool };
	int rc = ch->ops->tx_ctrl(ch, &m);

	if (rc == 0)
		ch->stats.tx_msgs++;
	return rc;
}
