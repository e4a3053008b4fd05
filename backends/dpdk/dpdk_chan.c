/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK backend, channels: the operations table, endpoints and the
 * create/bind handshake.
 *
 * Handshake. The binder sends BIND_REQ (its channel id, a nonce, what it
 * asks for) to the endpoint number and repeats it with backoff until an
 * answer comes or the peer timeout passes. The creator's port stashes the
 * request in the listening channel, whose own poll negotiates (the core's
 * rules, bind_received included) and answers with BIND_REPLY: the creator's
 * channel id and the binder's settled side, or a refusal. A repeated
 * request of an accepted binder gets the same answer again. Both streams
 * start at sequence 0.
 *
 * Peers. A channel belongs to one peer of its port from its bind on: the
 * peer its binder named, or, for a creator, the address its binder's
 * request came from (on a multi-peer port, whoever that is: the listener
 * accepts any peer, as a listening socket does). Answers that make no
 * channel (no listener, a refusal) go back to the request's source without
 * a peer table entry.
 */
#include <errno.h>
#include <string.h>

#include <rte_random.h>

#include "dpdk_internal.h"

static void
bind_to_wire(struct dpdk_wire_bind *w, const struct dpdk_wire_bind *b)
{
	memset(w, 0, sizeof(*w));
	w->binder_chan = rte_cpu_to_be_32(b->binder_chan);
	w->creator_chan = rte_cpu_to_be_32(b->creator_chan);
	w->nonce = rte_cpu_to_be_32(b->nonce);
	w->status = (int32_t)rte_cpu_to_be_32((uint32_t)b->status);
	w->meta_size = rte_cpu_to_be_32(b->meta_size);
	w->queue_size = rte_cpu_to_be_32(b->queue_size);
	w->ep_id = rte_cpu_to_be_16(b->ep_id);
	w->direction = b->direction;
	w->role = b->role;
	w->trust = b->trust;
	w->src_bits = b->src_bits;
	w->mtu = rte_cpu_to_be_16(b->mtu);
}

static void
bind_from_wire(struct dpdk_wire_bind *b, const struct dpdk_wire_bind *w)
{
	memset(b, 0, sizeof(*b));
	b->binder_chan = rte_be_to_cpu_32(w->binder_chan);
	b->creator_chan = rte_be_to_cpu_32(w->creator_chan);
	b->nonce = rte_be_to_cpu_32(w->nonce);
	b->status = (int32_t)rte_be_to_cpu_32((uint32_t)w->status);
	b->meta_size = rte_be_to_cpu_32(w->meta_size);
	b->queue_size = rte_be_to_cpu_32(w->queue_size);
	b->ep_id = rte_be_to_cpu_16(w->ep_id);
	b->direction = w->direction;
	b->role = w->role;
	b->trust = w->trust;
	b->src_bits = w->src_bits;
	b->mtu = rte_be_to_cpu_16(w->mtu);
}

static void
send_bind(struct bulk_dpdk_port *l, const struct dpdk_peer *to, uint8_t type, uint32_t chan,
	  const struct dpdk_wire_bind *b)
{
	struct dpdk_wire_bind w;
	struct dpdk_wire_hdr h = { .type = type, .chan = chan, .length = sizeof(w) };

	bind_to_wire(&w, b);
	dpdk_port_send_small(l, to, 0, &h, &w, sizeof(w));
}

/* ------------------------------------------------------------ endpoints */

int
bulk_dpdk_endpoint_create(struct bulk_domain *d, uint16_t ep_id, struct bulk_endpoint **out)
{
	struct dpdk_ep *e;

	if (d == NULL || out == NULL || ep_id == 0)
		return -EINVAL;
	e = bulk_zalloc(sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	e->ep.ops = &dpdk_ops;
	e->ep.dom = d;
	/* Another domain of this process may bind to it directly. */
	e->ep.by_name = true;
	e->ep_id = ep_id;
	d->nendpoints++;
	*out = &e->ep;
	return 0;
}

static int
endpoint_remote(struct bulk_dpdk_port *port, uint32_t peer_ip, uint16_t udp_port, uint16_t ep_id,
		struct bulk_endpoint **out)
{
	struct dpdk_ep *e;

	e = bulk_zalloc(sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	e->ep.ops = &dpdk_ops;
	e->ep.dom = port->dom;
	/* It names the far end: the port's own domain binds through it. */
	e->ep.by_name = true;
	e->ep_id = ep_id;
	e->via = port;
	e->peer_ip = peer_ip;
	e->peer_udp = udp_port;
	port->dom->nendpoints++;
	*out = &e->ep;
	return 0;
}

int
bulk_dpdk_endpoint_remote(struct bulk_dpdk_port *port, uint16_t ep_id, struct bulk_endpoint **out)
{
	if (port == NULL || out == NULL || ep_id == 0)
		return -EINVAL;
	if (port->multi)
		return -EDESTADDRREQ;
	return endpoint_remote(port, 0, 0, ep_id, out);
}

int
bulk_dpdk_endpoint_remote_ip(struct bulk_dpdk_port *port, uint32_t peer_ip, uint16_t udp_port,
			     uint16_t ep_id, struct bulk_endpoint **out)
{
	if (port == NULL || out == NULL || ep_id == 0 || peer_ip == 0 || peer_ip == port->local_ip)
		return -EINVAL;
	/* A fixed peer port talks to its peer on its own UDP port only. */
	if (!port->multi &&
	    (peer_ip != port->peer_ip || (udp_port != 0 && udp_port != port->udp_port)))
		return -EINVAL;
	return endpoint_remote(port, peer_ip, udp_port, ep_id, out);
}

int
bulk_dpdk_chan_stats_get(const struct bulk_channel *ch, struct bulk_dpdk_chan_stats *st)
{
	if (ch == NULL || st == NULL)
		return -EINVAL;
	if (ch->ops != &dpdk_ops)
		return -ENOTSUP;
	*st = ((const struct dpdk_chan *)ch)->st;
	return 0;
}

/* ------------------------------------------------------------ ops */

static int
dpdk_create(struct bulk_channel *ch)
{
	struct dpdk_chan *c = dpdk_chan(ch);
	struct dpdk_ep *e = container_of(ch->ep, struct dpdk_ep, ep);

	if (e->via != NULL)
		return -BULK_E_EP_IN_USE; /* a remote endpoint: bind to it */
	c->ep_id = e->ep_id;
	c->mode = DPDK_LISTEN;
	return dpdk_listener_add(c);
}

static void
send_bind_req(struct dpdk_chan *c)
{
	/* Before ARP answered nothing goes out; the first poll after does. */
	c->bind_sent = c->peer->mac_known;
	send_bind(c->port, c->peer, DPDK_WT_BIND_REQ, 0, &c->req);
}

static int
dpdk_bind(struct bulk_channel *ch, struct bulk_endpoint *remote, const struct bulk_bind_params *bp)
{
	struct dpdk_chan *c = dpdk_chan(ch);
	struct dpdk_ep *e = container_of(remote, struct dpdk_ep, ep);
	struct dpdk_peer to = { 0 };
	struct bulk_dpdk_port *l;
	uint64_t now = dpdk_now_us();
	int rc;

	if (e->via != NULL) {
		l = e->via;
		if (l->dom != ch->dom)
			return -BULK_E_WRONG_DOMAIN;
		to.ip = e->peer_ip ? e->peer_ip : l->peer_ip;
		to.udp_port = e->peer_udp ? e->peer_udp : l->udp_port;
	} else {
		if (remote->dom == ch->dom)
			return -BULK_E_WRONG_DOMAIN;
		l = dpdk_port_towards(ch->dom, remote->dom, &to);
		if (l == NULL)
			return -EHOSTUNREACH;
	}
	rc = dpdk_port_add_chan(l, c, &to);
	if (rc < 0)
		return rc;
	c->ep_id = e->ep_id;
	c->mode = DPDK_BINDING;
	c->nonce = (uint32_t)rte_rand() | 1u;
	c->req = (struct dpdk_wire_bind){
		.binder_chan = c->id,
		.nonce = c->nonce,
		.meta_size = bp ? bp->meta_size : 0,
		.queue_size = bp ? bp->queue_size : 0,
		.ep_id = e->ep_id,
		.direction = 0xff,
		.role = (uint8_t)(bp ? bp->role : BULK_ROLE_GENERIC),
		.trust = (uint8_t)(bp ? bp->trust : BULK_TRUST_UNINITIALIZED),
		.mtu = l->mtu,
		.src_bits = l->src_bits,
	};
	c->bind_backoff_us = DPDK_BIND_RETRY_US;
	c->bind_next_us = now + c->bind_backoff_us;
	c->bind_deadline_us = now + l->peer_timeout_us;
	send_bind_req(c);
	dpdk_port_flush(l);
	return 0;
}

static void
dpdk_free(struct bulk_channel *ch)
{
	struct dpdk_chan *c = dpdk_chan(ch);

	if (c->mode == DPDK_LISTEN)
		dpdk_listener_del(c);
	if (c->port != NULL) {
		dpdk_rel_flush_out(c);
		dpdk_dma_chan_sync(c, true);
		dpdk_port_del_chan(c->port, c);
	}
	dpdk_rel_fini(c);
}

static void
dpdk_unlisten(struct bulk_channel *ch)
{
	struct dpdk_chan *c = dpdk_chan(ch);

	if (c->mode == DPDK_LISTEN)
		dpdk_listener_del(c);
	c->mode = DPDK_DEAD;
}

static void
dpdk_ep_free(struct bulk_endpoint *ep)
{
	bulk_free(container_of(ep, struct dpdk_ep, ep));
}

static unsigned
dpdk_tx_burst(struct bulk_channel *ch, enum bulk_msg_type type, struct bulk_buffer *const *bufs,
	      const uint32_t *lens, const void *meta, unsigned n)
{
	struct dpdk_chan *c = dpdk_chan(ch);
	uint32_t room = dpdk_rel_msg_room(c), ms = ch->meta_size;
	unsigned k;

	if (c->mode != DPDK_OPEN || c->novf > 0)
		return 0;
	k = n < room ? n : room;
	for (unsigned i = 0; i < k; i++) {
		struct bulk_buffer *b = bufs[i];

		dpdk_rel_queue_msg(c, (uint8_t)type, b->slot, b->index,
				   type == BULK_MSG_RELEASE ? NULL : (uint8_t *)b->addr,
				   lens != NULL ? lens[i] : b->pool->buffer_size,
				   meta != NULL ? (const uint8_t *)meta + (size_t)i * ms : NULL, NULL);
	}
	return k;
}

static int
dpdk_tx_ctrl(struct bulk_channel *ch, const struct bulk_ctrl_msg *m)
{
	struct dpdk_chan *c = dpdk_chan(ch);
	struct dpdk_wire_ctrl k;

	if (c->mode != DPDK_OPEN)
		return -BULK_E_PEER_GONE;
	memset(&k, 0, sizeof(k));
	k.status = (int32_t)rte_cpu_to_be_32((uint32_t)m->status);
	if (m->type == BULK_MSG_POOL_ASSIGN && m->pool != NULL) {
		k.pool_host = rte_cpu_to_be_64(m->pool->id.host);
		k.pool_pid = rte_cpu_to_be_32(m->pool->id.pid);
		k.pool_seq = rte_cpu_to_be_32(m->pool->id.seq);
		k.count = rte_cpu_to_be_32(m->pool->count);
		k.buffer_size = rte_cpu_to_be_32(m->pool->buffer_size);
		k.trust = (uint8_t)ch->trust;
	}
	/* Our pool on a slot: DMA-able for the port's device from now on; a
	 * removed one no longer (the core clears the slot after this). */
	if (m->type == BULK_MSG_POOL_ASSIGN)
		dpdk_dma_chan_sync(c, false);
	if (m->type == BULK_MSG_POOL_REMOVE)
		dpdk_dma_slot_drop(c, m->slot);
	if (m->type == BULK_MSG_TEARDOWN) {
		c->teardown_queued = true;
		c->teardown_msg = c->msg_tail + c->novf;
	}
	if (c->novf == 0 && dpdk_rel_msg_room(c) > 0)
		return dpdk_rel_queue_msg(c, (uint8_t)m->type, m->slot, m->index, NULL, 0, NULL, &k);
	/* Never lost: wait behind the ring, in order. */
	if (c->novf == c->ovf_cap) {
		uint32_t cap = c->ovf_cap ? c->ovf_cap * 2 : 16;
		struct dpdk_ovf *o = bulk_realloc(c->ovf, cap * sizeof(*o));

		if (o == NULL)
			return -ENOMEM;
		c->ovf = o;
		c->ovf_cap = cap;
	}
	c->ovf[c->novf++] = (struct dpdk_ovf){ .type = (uint8_t)m->type, .slot = m->slot,
					       .index = m->index, .ctrl = k };
	return 0;
}

/* ------------------------------------------------------------ handshake */

void
dpdk_chan_rx_bind_req(struct bulk_dpdk_port *l, const struct dpdk_peer *src,
		      const struct dpdk_wire_bind *w)
{
	struct dpdk_wire_bind b;
	struct dpdk_chan *c;

	bind_from_wire(&b, w);
	/* A repeat from a binder we accepted: it missed our answer. Its
	 * channel id is only unique at its own end, hence the address. */
	for (unsigned i = 1; i < DPDK_MAX_CHANS; i++) {
		c = l->chans[i];
		if (c != NULL && c->ch.side == 0 && c->peer_id == b.binder_chan &&
		    c->nonce == b.nonce && c->peer->ip == src->ip &&
		    c->peer->udp_port == src->udp_port) {
			send_bind(l, c->peer, DPDK_WT_BIND_REPLY, b.binder_chan, &c->reply);
			return;
		}
	}
	c = dpdk_listener_find(l->dom, b.ep_id);
	if (c == NULL || c->mode != DPDK_LISTEN) {
		struct dpdk_wire_bind r = {
			.binder_chan = b.binder_chan,
			.nonce = b.nonce,
			.status = -BULK_E_EP_NO_CHANNEL,
		};

		send_bind(l, src, DPDK_WT_BIND_REPLY, b.binder_chan, &r);
		return;
	}
	if (c->req_pending)
		return; /* one at a time; the other binder repeats */
	c->req = b;
	c->req_port = l;
	c->req_src = *src;
	c->req_pending = true;
}

/* Listener: negotiate the stashed request in our own poll. */
static void
creator_answer(struct dpdk_chan *c)
{
	struct bulk_channel *ch = &c->ch;
	struct dpdk_wire_bind b = c->req;
	struct bulk_dpdk_port *l = c->req_port;
	/* A refusal goes back where the request came from. */
	const struct dpdk_peer *src = l->multi ? &c->req_src : &l->peers[0];
	struct bulk_bind_params bp = {
		.role = (enum bulk_role)b.role,
		.trust = (enum bulk_trust)b.trust,
		.meta_size = b.meta_size,
		.queue_size = b.queue_size,
	};
	struct bulk_side side = { 0 };
	struct dpdk_wire_bind r = { .binder_chan = b.binder_chan, .nonce = b.nonce };
	int rc = 0;

	c->req_pending = false;
	if (b.role > BULK_ROLE_SLAVE || b.trust > BULK_TRUST_FULL || b.meta_size > BULK_META_MAX ||
	    (b.queue_size != 0 && b.queue_size != ch->queue_size))
		rc = -BULK_E_BIND_MISMATCH;
	if (rc == 0)
		rc = bulk_core_negotiate(ch->direction, ch->role, ch->trust, ch->meta_size, &bp, &side);
	/* Room for the channel, and for its peer if the peer is new: checked
	 * before the core hears of the bind, so that adding cannot fail. */
	if (rc == 0)
		rc = dpdk_port_can_add(l, src);
	if (rc == 0)
		rc = bulk_core_rx_bind_request(ch, side.role);
	if (rc == 0) {
		dpdk_listener_del(c);
		(void)dpdk_port_add_chan(l, c, src);
		c->peer_id = b.binder_chan;
		c->nonce = b.nonce;
		c->peer_mtu = b.mtu;
		c->peer_sport = dpdk_wire_src_port(c->peer->udp_port, c->peer_id, b.src_bits);
		rc = dpdk_rel_init(c);
		if (rc < 0) {
			r.status = rc;
			send_bind(l, c->peer, DPDK_WT_BIND_REPLY, b.binder_chan, &r);
			c->mode = DPDK_DEAD;
			bulk_core_peer_gone(ch, rc);
			return;
		}
		c->mode = DPDK_OPEN;
		r.creator_chan = c->id;
		r.direction = (uint8_t)side.direction;
		r.role = (uint8_t)side.role;
		r.trust = (uint8_t)side.trust;
		r.meta_size = side.meta_size;
		r.queue_size = ch->queue_size;
		r.mtu = l->mtu;
		r.src_bits = l->src_bits;
		c->reply = r;
		src = c->peer;
	} else {
		r.status = rc;
	}
	send_bind(l, src, DPDK_WT_BIND_REPLY, b.binder_chan, &r);
}

void
dpdk_chan_rx_bind_reply(struct dpdk_chan *c, const struct dpdk_wire_bind *w)
{
	struct dpdk_wire_bind b;

	bind_from_wire(&b, w);
	if (c->mode != DPDK_BINDING || b.nonce != c->nonce || b.binder_chan != c->id)
		return;
	c->reply = b;
	c->reply_pending = true;
}

static void
binder_poll(struct dpdk_chan *c, uint64_t now)
{
	struct bulk_channel *ch = &c->ch;
	struct dpdk_wire_bind *r = &c->reply;

	if (c->reply_pending) {
		c->reply_pending = false;
		if (r->status == 0 && (r->direction > BULK_DIRECTION_RX || r->role > BULK_ROLE_SLAVE ||
				       r->trust != BULK_TRUST_FULL || r->meta_size > BULK_META_MAX ||
				       r->creator_chan == 0))
			r->status = -BULK_E_BAD_DESC;
		if (r->status == 0) {
			struct bulk_side s = {
				.direction = (enum bulk_direction)r->direction,
				.role = (enum bulk_role)r->role,
				.trust = (enum bulk_trust)r->trust,
				.meta_size = r->meta_size,
			};

			bulk_side_apply(ch, &s);
			if (r->queue_size != 0)
				ch->queue_size = r->queue_size;
			c->peer_id = r->creator_chan;
			c->peer_mtu = r->mtu;
			c->peer_sport = dpdk_wire_src_port(c->peer->udp_port, c->peer_id,
							   r->src_bits);
			r->status = dpdk_rel_init(c);
		}
		if (r->status == 0) {
			c->mode = DPDK_OPEN;
			bulk_core_rx_bind_reply(ch, 0);
		} else {
			c->mode = DPDK_DEAD;
			dpdk_port_del_chan(c->port, c);
			c->port = NULL;
			bulk_core_rx_bind_reply(ch, r->status);
		}
		return;
	}
	if (now >= c->bind_deadline_us) {
		c->mode = DPDK_DEAD;
		dpdk_port_del_chan(c->port, c);
		c->port = NULL;
		bulk_core_peer_gone(ch, -BULK_E_PEER_GONE);
		return;
	}
	if (now >= c->bind_next_us || (!c->bind_sent && c->peer->mac_known)) {
		send_bind_req(c);
		c->bind_backoff_us = c->bind_backoff_us * 2 > 200000 ? 200000 : c->bind_backoff_us * 2;
		c->bind_next_us = now + c->bind_backoff_us;
	}
}

void
dpdk_chan_rx_rst(struct dpdk_chan *c)
{
	/*
	 * The peer freed its side after it had our TEARDOWN (acknowledged:
	 * everything before it arrived): the teardown is done. A reset before
	 * that means the peer lost the channel some other way: gone.
	 */
	if (c->ch.state == BULK_STATE_TEARDOWN && c->teardown_queued &&
	    (int32_t)(c->msg_acked - c->teardown_msg) > 0)
		c->rst_teardown = true;
	else if (c->gone_reason == 0 && c->mode == DPDK_OPEN)
		c->gone_reason = -BULK_E_PEER_GONE;
}

static int
dpdk_poll(struct bulk_channel *ch, unsigned budget)
{
	struct dpdk_chan *c = dpdk_chan(ch);
	struct bulk_dpdk_port *l = c->port;
	unsigned work = 0;
	uint64_t now;

	/* One clock read per poll (a TSC read is not free in a VM): the
	 * receive just took it, a few frames ago. */
	if (l != NULL) {
		work += dpdk_port_rx(l, budget);
		now = l->rx_now_us;
	} else {
		if (c->mode == DPDK_LISTEN)
			work += dpdk_domain_rx(ch->dom, budget);
		now = dpdk_now_us();
	}
	switch (c->mode) {
	case DPDK_LISTEN:
		if (c->req_pending) {
			creator_answer(c);
			work++;
		}
		break;
	case DPDK_BINDING:
		binder_poll(c, now);
		break;
	case DPDK_OPEN:
		if (c->rst_teardown) {
			c->rst_teardown = false;
			/* The reset answered our acknowledged TEARDOWN: as good as its ack. */
			if (ch->state == BULK_STATE_TEARDOWN)
				bulk_core_rx_ctrl(ch, &(struct bulk_ctrl_rx){
					.type = BULK_MSG_TEARDOWN_ACK });
		}
		work += dpdk_rel_poll(c, budget, now);
		if (c->gone_reason != 0) {
			int reason = c->gone_reason;

			c->mode = DPDK_DEAD;
			bulk_core_peer_gone(ch, reason);
			work++;
		}
		break;
	default:
		break;
	}
	if (c->port != NULL)
		dpdk_port_flush(c->port);
	return (int)work;
}

const struct bulk_backend_ops dpdk_ops = {
	.name = "dpdk",
	.chan_size = sizeof(struct dpdk_chan),
	.trust_mask = 1u << BULK_TRUST_FULL,
	.shares_memory = false, /* each machine has its own copy of a pool */
	.create = dpdk_create,
	.bind = dpdk_bind,
	.free = dpdk_free,
	.ep_free = dpdk_ep_free,
	.tx_burst = dpdk_tx_burst,
	.tx_ctrl = dpdk_tx_ctrl,
	.poll = dpdk_poll,
	.unlisten = dpdk_unlisten,
};
