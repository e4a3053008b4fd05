/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK backend, reliability: one stream of frames per channel and
 * direction.
 *
 * Sender. Messages (a buffer, a release, a control message) wait in a ring
 * of message records and are cut into frames as the window allows; each
 * frame gets the next sequence number and a record in the send window. The
 * data is never copied to be kept: a retransmission reads the buffer again,
 * which the application may not touch until the continuation fired (the
 * core made it INVALID or read-only at send). A message is complete when
 * the peer acknowledged all its frames and no mbuf refers to it any more;
 * completed messages are handed to bulk_core_tx_complete() in order.
 * Window = min(congestion window, the peer's offer, our window). The
 * congestion window grows as in slow start / additive increase; it halves
 * when more than 1/8 of an RTT's frames were lost (random loss below that
 * costs retransmissions, not rate), and drops to DPDK_MIN_CWND on a
 * timeout, whose RTO doubles while nothing is acknowledged.
 *
 * Loss is resent only on evidence: a NAK (the peer saw later frames), or
 * the answer to a tail probe (an ACK with PROBE and our next sequence: the
 * peer names what it lacks below it). Queueing delay is not loss: a peer
 * that is descheduled, or a ring that is full, delays acks by milliseconds,
 * and a probe then only asks; the RTO (RFC 6298 from the measured RTT, at
 * least DPDK_RTO_MIN_US, restarted while our own transmit is backed up) is
 * the last resort.
 *
 * Receiver. A frame within the window is checked and its payload copied at
 * once into the destination buffer (any order); the frame's record says what
 * it was. Delivery walks the window in sequence order and hands a message
 * to the core when its last frame is reached, so the application sees one
 * event per buffer, in order. Acks are cumulative, with the gaps below the
 * highest frame received (NAKs); one is sent when frames arrive out of
 * order or twice, after 16 frames, or 50 us after the first unacked frame.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dpdk_internal.h"

#define ACK_EVERY 16u
#define ACK_DELAY_US 50u
#define NAK_SCAN_MAX 4096u
#define NAK_REPEAT_US 300u  /* a gap is reported again this often */

static inline bool
is_data(uint8_t type)
{
	return type == BULK_MSG_MOVE || type == BULK_MSG_PASS || type == BULK_MSG_COPY;
}

static inline bool
is_ctrl(uint8_t type)
{
	return type >= BULK_MSG_POOL_ASSIGN && type < BULK_MSG_TYPE_MAX;
}

static inline struct dpdk_txmsg *
msg_at(struct dpdk_chan *c, uint32_t i)
{
	return &c->msgs[i & (c->msg_cap - 1)];
}

static uint32_t
pow2_at_least(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

int
dpdk_rel_init(struct dpdk_chan *c)
{
	struct bulk_dpdk_port *l = c->port;
	uint32_t q = c->ch.queue_size ? c->ch.queue_size : BULK_CHANNEL_DEFAULT_QUEUE;

	uint32_t mtu = c->peer_mtu != 0 && c->peer_mtu < l->mtu ? c->peer_mtu : l->mtu;

	c->W = l->window;
	/* Frames must fit the smaller MTU of the two ends. */
	c->mss = mtu - (uint32_t)DPDK_WIRE_IP_OVERHEAD - c->ch.meta_size;
	c->msg_cap = pow2_at_least(q < 64 ? 64 : q);
	c->msgs = bulk_zalloc_aligned(64, sizeof(*c->msgs) * c->msg_cap);
	c->sw = bulk_zalloc(sizeof(*c->sw) * c->W);
	c->rw = bulk_zalloc(sizeof(*c->rw) * c->W);
	c->rw_meta = bulk_zalloc((size_t)BULK_META_MAX * c->W);
	if (c->msgs == NULL || c->sw == NULL || c->rw == NULL || c->rw_meta == NULL) {
		dpdk_rel_fini(c);
		return -ENOMEM;
	}
	c->cwnd = DPDK_INIT_CWND;
	c->ssthresh = c->W;
	c->peer_wnd = c->W;
	c->rto_us = c->rto_base_us = DPDK_RTO_INIT_US;
	c->peer_timeout_us = l->peer_timeout_us;
	c->last_rx_us = c->last_tx_us = c->epoch_us = dpdk_now_us();
	c->st.mss = c->mss;
	return 0;
}

void
dpdk_rel_fini(struct dpdk_chan *c)
{
	bool busy = false;

	if (c->msgs != NULL) {
		/* Drop our own references; mbufs still queued keep theirs. */
		for (uint32_t i = c->msg_acked; i != c->msg_tail; i++) {
			struct dpdk_txmsg *m = msg_at(c, i);

			if (m->zc && !m->acked) {
				m->acked = true;
				rte_mbuf_ext_refcnt_update(&m->shinfo, -1);
			}
		}
		for (uint32_t i = 0; i < c->msg_cap && !busy; i++)
			busy = c->msgs[i].zc && rte_mbuf_ext_refcnt_read(&c->msgs[i].shinfo) > 0;
	}
	if (busy && c->port != NULL) {
		struct dpdk_grave *g = bulk_zalloc(sizeof(*g));

		if (g != NULL) {
			g->msgs = c->msgs;
			g->cap = c->msg_cap;
			g->next = c->port->graves;
			c->port->graves = g;
			c->msgs = NULL;
		} else {
			c->msgs = NULL; /* leaked rather than freed under a NIC */
		}
	}
	bulk_free(c->msgs);
	bulk_free(c->sw);
	bulk_free(c->rw);
	bulk_free(c->rw_meta);
	bulk_free(c->ovf);
	c->msgs = NULL;
	c->sw = NULL;
	c->rw = NULL;
	c->rw_meta = NULL;
	c->ovf = NULL;
}

/* The last mbuf pointing into a message's buffer was freed (any thread). */
static void
ext_free_cb(void *addr, void *opaque)
{
	struct dpdk_txmsg *m = opaque;

	(void)addr;
	__atomic_store_n(&m->done, 1, __ATOMIC_RELEASE);
}

int
dpdk_rel_queue_msg(struct dpdk_chan *c, uint8_t type, uint16_t slot, uint32_t index,
		   uint8_t *data, uint32_t len, const void *meta, const struct dpdk_wire_ctrl *ctrl)
{
	struct dpdk_txmsg *m;

	if (c->msg_tail - c->msg_head == c->msg_cap)
		return -ENOBUFS;
	m = msg_at(c, c->msg_tail);
	m->type = type;
	m->done = 0;
	m->slot = slot;
	m->index = index;
	m->acked = false;
	m->sent = 0;
	m->zc = false;
	m->data = data;
	m->len = is_data(type) ? len : 0;
	m->nframes = is_data(type) && len > c->mss ? (len + c->mss - 1) / c->mss : 1;
	if (meta != NULL && c->ch.meta_size > 0)
		memcpy(m->meta, meta, c->ch.meta_size);
	if (ctrl != NULL)
		m->ctrl = *ctrl;
	/* Zero copy only from a pool the port's device may read (dpdk_dma.c);
	 * any other is copied and counted (tx_copied_unregistered). */
	m->dma = slot < BULK_CHANNEL_MAX_POOLS && c->dma_pool[slot] == c->ch.slots[slot].pool
			 ? c->dma[slot]
			 : NULL;
	if (is_data(type) && len > 0 && c->port->tx_zc && m->dma != NULL) {
		m->shinfo.free_cb = ext_free_cb;
		m->shinfo.fcb_opaque = m;
		rte_mbuf_ext_refcnt_set(&m->shinfo, 1);
		m->zc = true;
	}
	c->msg_tail++;
	return 0;
}

/* ------------------------------------------------------------ send */

static inline uint16_t
adv_wnd(struct dpdk_chan *c)
{
	uint32_t free = c->W - (c->rcv_nxt - c->rcv_del);

	if (free > c->port->rx_share)
		free = c->port->rx_share;

	c->last_adv = free;
	return (uint16_t)(free / 16);
}

/* Build and queue frame @p seq. @return false: no mbuf or no room, try later. */
static bool
send_frame(struct dpdk_chan *c, uint32_t seq, struct dpdk_txmsg *m, uint32_t fidx, uint32_t off,
	   uint32_t len, bool retx, uint64_t now)
{
	struct bulk_dpdk_port *l = c->port;
	bool last = fidx + 1 == m->nframes;
	struct dpdk_wire_hdr h = {
		.type = m->type,
		.flags = (uint8_t)((fidx == 0 ? DPDK_WF_FIRST : 0) | (last ? DPDK_WF_LAST : 0) |
				   DPDK_WF_ACK | (retx ? DPDK_WF_RETX : 0)),
		.meta_len = (uint8_t)(last && is_data(m->type) ? c->ch.meta_size : 0),
		.chan = c->peer_id,
		.seq = seq,
		.ack = c->rcv_nxt,
		.wnd = adv_wnd(c),
		.slot = m->slot,
		.index = m->index,
		.offset = off,
		.length = len,
		.total = m->len,
	};
	const void *payload = is_ctrl(m->type) ? (const void *)&m->ctrl
				: m->data != NULL ? (const void *)(m->data + off) : NULL;
	struct rte_mbuf *f;
	bool zc = false;

	f = dpdk_frame_build(l, c->peer, c->sport, &h, m->meta, payload, len,
			     m->zc ? &m->shinfo : NULL, m->dma, &zc);
	if (f == NULL)
		return false;
	if (!dpdk_port_queue(l, f)) {
		rte_pktmbuf_free(f);
		return false;
	}
	c->st.frames_tx++;
	c->st.bytes_tx += len;
	if (is_data(m->type) && len > 0) {
		if (zc) {
			c->st.tx_zero_copy++;
		} else {
			c->st.tx_copied++;
			if (l->tx_zc)
				c->st.tx_copied_unregistered++;
		}
	}
	c->last_tx_us = now;
	/* The ack rode along; gaps still need an ACK frame of their own. */
	if (c->rcv_hi == c->rcv_nxt) {
		c->ack_due = false;
		c->rx_since_ack = 0;
		c->last_ack_us = now;
	}
	return true;
}

static bool
retransmit(struct dpdk_chan *c, uint32_t seq, uint64_t now)
{
	struct dpdk_txfrm *f = &c->sw[seq & (c->W - 1)];
	struct dpdk_txmsg *m = msg_at(c, f->msg);
	uint32_t fidx = f->off / c->mss;

	if (is_ctrl(m->type) || m->type == BULK_MSG_RELEASE)
		fidx = 0;
	if (!send_frame(c, seq, m, fidx, f->off, f->len, true, now))
		return false;
	f->ntx++;
	f->tx_us = now;
	if (!c->retx_any || (int32_t)(seq - c->retx_max) > 0)
		c->retx_max = seq;
	c->retx_any = true;
	c->st.retransmits++;
	c->ch.stats.retransmits++;
	c->epoch_lost++;
	return true;
}

/* Frames allowed in flight: congestion window, the peer's offer, ours. */
static inline uint32_t
send_limit(const struct dpdk_chan *c)
{
	uint32_t limit = c->cwnd < c->peer_wnd ? c->cwnd : c->peer_wnd;

	return limit < c->W ? limit : c->W;
}

/* New frames, as far as the windows allow. */
static unsigned
pump(struct dpdk_chan *c, uint64_t now)
{
	uint32_t limit = send_limit(c);
	unsigned n = 0;

	/* Control messages that found the ring full go first, in order. */
	while (c->novf > 0 && dpdk_rel_msg_room(c) > 0) {
		const struct dpdk_ovf *o = &c->ovf[0];

		dpdk_rel_queue_msg(c, o->type, o->slot, o->index, NULL, 0, NULL, &o->ctrl);
		memmove(c->ovf, c->ovf + 1, (c->novf - 1) * sizeof(*c->ovf));
		c->novf--;
	}
	if (!c->peer->mac_known)
		return 0;
	while (c->msg_next != c->msg_tail && c->snd_nxt - c->snd_una < limit) {
		struct dpdk_txmsg *m = msg_at(c, c->msg_next);
		uint32_t k = m->sent, off, len;
		struct dpdk_txfrm *f;

		if (k == 0)
			m->first_seq = c->snd_nxt;
		off = k * c->mss;
		if (is_data(m->type))
			len = m->len - off < c->mss ? m->len - off : c->mss;
		else
			len = is_ctrl(m->type) ? (uint32_t)sizeof(struct dpdk_wire_ctrl) : 0;
		if (!send_frame(c, c->snd_nxt, m, k, off, len, false, now))
			break;
		if (c->snd_una == c->snd_nxt)
			c->rto_at_us = now + c->rto_us;
		f = &c->sw[c->snd_nxt & (c->W - 1)];
		f->msg = c->msg_next;
		f->off = off;
		f->len = len;
		f->ntx = 1;
		f->tx_us = now;
		c->snd_nxt++;
		c->epoch_sent++;
		n++;
		if (++m->sent == m->nframes)
			c->msg_next++;
	}
	return n;
}

static void
rtt_sample(struct dpdk_chan *c, uint32_t r)
{
	uint32_t rto;

	if (c->srtt_us == 0) {
		c->srtt_us = r ? r : 1;
		c->rttvar_us = r / 2;
	} else {
		uint32_t d = r > c->srtt_us ? r - c->srtt_us : c->srtt_us - r;

		c->rttvar_us = (3 * c->rttvar_us + d) / 4;
		c->srtt_us = (7 * c->srtt_us + r) / 8;
	}
	rto = c->srtt_us + 4 * c->rttvar_us;
	if (rto < DPDK_RTO_MIN_US)
		rto = DPDK_RTO_MIN_US;
	if (rto > DPDK_RTO_MAX_US)
		rto = DPDK_RTO_MAX_US;
	c->rto_base_us = rto;
	c->st.rtt_us = c->srtt_us;
}

static void
rx_ack(struct dpdk_chan *c, uint32_t ack, uint16_t wnd, uint64_t now)
{
	uint32_t newly;

	c->peer_wnd = (uint32_t)wnd * 16;
	if ((int32_t)(ack - c->snd_una) <= 0 || (int32_t)(ack - c->snd_nxt) > 0)
		return;
	newly = ack - c->snd_una;
	{
		const struct dpdk_txfrm *f = &c->sw[(ack - 1) & (c->W - 1)];

		/* Karn, widened: a frame sent once measures the path only if
		 * nothing in the acknowledged range was sent again; an ack
		 * held back by a gap says how long the repair took, not the RTT. */
		if (f->ntx == 1 && (!c->retx_any || (int32_t)(c->retx_max - c->snd_una) < 0))
			rtt_sample(c, (uint32_t)(now - f->tx_us));
		/* Everything resent is behind us now (and stays comparable). */
		if (c->retx_any && (int32_t)(ack - c->retx_max) > 0)
			c->retx_any = false;
	}
	c->probes = 0;
	c->rto_asked = false;
	c->snd_una = ack;
	/* Progress: the backoff ends and the timer restarts (RFC 6298 5.3). */
	c->rto_us = c->rto_base_us;
	c->rto_at_us = now + c->rto_us;
	if ((int32_t)(c->peer_hi - ack) < 0)
		c->peer_hi = ack;
	if (c->cwnd < c->ssthresh) {
		c->cwnd += newly;
	} else {
		c->cwnd_acc += newly;
		while (c->cwnd_acc >= c->cwnd) {
			c->cwnd_acc -= c->cwnd;
			c->cwnd++;
		}
	}
	if (c->cwnd > c->W)
		c->cwnd = c->W;
	/* Messages whose every frame is acknowledged. */
	while (c->msg_acked != c->msg_next) {
		struct dpdk_txmsg *m = msg_at(c, c->msg_acked);

		if ((int32_t)(m->first_seq + m->nframes - c->snd_una) > 0)
			break;
		m->acked = true;
		if (!m->zc || rte_mbuf_ext_refcnt_update(&m->shinfo, -1) == 0)
			__atomic_store_n(&m->done, 1, __ATOMIC_RELEASE);
		c->msg_acked++;
	}
}

static void
rx_naks(struct dpdk_chan *c, const struct rte_mbuf *mb, uint32_t poff, uint32_t len,
	uint32_t hi, uint64_t now)
{
	struct dpdk_wire_nak naks[DPDK_WIRE_MAX_NAKS];
	uint32_t n = len / sizeof(naks[0]), wait;
	const struct dpdk_wire_nak *v;

	if (n > DPDK_WIRE_MAX_NAKS || len % sizeof(naks[0]) != 0) {
		c->st.bad_frames++;
		return;
	}
	if ((int32_t)(hi - c->peer_hi) > 0 && (int32_t)(hi - c->snd_nxt) <= 0)
		c->peer_hi = hi;
	if (n == 0)
		return;
	v = rte_pktmbuf_read(mb, poff, len, naks);
	if (v == NULL)
		return;
	/* Into aligned memory: the payload sits 2 mod 4 in the frame. */
	if (v != naks) {
		memcpy(naks, v, len);
		v = naks;
	}
	/* Resend a frame once an RTT after it went out, not on every NAK. */
	wait = c->srtt_us ? c->srtt_us + 2 * c->rttvar_us : DPDK_RTO_MIN_US;
	if (wait < 200)
		wait = 200;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t s = rte_be_to_cpu_32(v[i].start), k = rte_be_to_cpu_32(v[i].count);

		c->st.naks_rx++;
		if (k > c->W)
			k = c->W;
		for (uint32_t j = 0; j < k; j++, s++) {
			struct dpdk_txfrm *f;

			if ((int32_t)(s - c->snd_una) < 0)
				continue;
			if ((int32_t)(s - c->snd_nxt) >= 0)
				break;
			f = &c->sw[s & (c->W - 1)];
			/* Reordered, not lost, unless 3 later frames arrived or
			 * an RTT passed since it went out (a lost short tail). */
			if (c->peer_hi - s < DPDK_REORDER_FRAMES && now - f->tx_us < wait)
				continue;
			/* The first report of a gap resends at once (fast
			 * retransmit); a resent frame only after an RTT, in
			 * case the resend was lost too. */
			if (f->ntx > 1 && now - f->tx_us < wait)
				continue;
			if (!retransmit(c, s, now))
				return;
		}
	}
}

/* ------------------------------------------------------------ receive */

/* Copy @p len bytes at @p off of a (possibly chained) mbuf to @p dst. */
static void
mbuf_copy(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint8_t *dst)
{
	while (m != NULL && off >= m->data_len) {
		off -= m->data_len;
		m = m->next;
	}
	while (m != NULL && len > 0) {
		uint32_t k = m->data_len - off;

		if (k > len)
			k = len;
		memcpy(dst, rte_pktmbuf_mtod_offset(m, const uint8_t *, off), k);
		dst += k;
		len -= k;
		off = 0;
		m = m->next;
	}
}

void
dpdk_rel_rx(struct dpdk_chan *c, const struct dpdk_wire_hdr *h, const uint8_t *meta,
	    const struct rte_mbuf *m, uint32_t poff, uint64_t now)
{
	struct bulk_channel *ch = &c->ch;
	uint32_t seq = h->seq, i;
	struct dpdk_rxfrm *e;
	bool bad = false, last = h->flags & DPDK_WF_LAST, first = h->flags & DPDK_WF_FIRST;

	c->last_rx_us = now;
	c->st.frames_rx++;
	c->st.bytes_rx += h->length;
	if (h->flags & DPDK_WF_ACK)
		rx_ack(c, h->ack, h->wnd, now);
	if (h->type == DPDK_WT_ACK) {
		if (h->flags & DPDK_WF_PROBE) {
			c->ack_now = true;
			/*
			 * seq is the prober's next sequence: every frame below it
			 * left before the probe, which arrived, so on an ordered
			 * link what we lack of them is lost. Reported as gaps
			 * (NAKs) in the answer; a frame that was merely
			 * reordered fills its gap when it comes.
			 */
			if (c->mode == DPDK_OPEN && (int32_t)(seq - c->rcv_hi) > 0 &&
			    seq - c->rcv_del <= c->W)
				c->rcv_hi = seq;
		}
		rx_naks(c, m, poff, h->length, h->index, now);
		return;
	}
	if (c->mode != DPDK_OPEN) {
		c->ack_now = true;
		return;
	}
	if ((int32_t)(seq - c->rcv_nxt) < 0) {
		c->st.dups_rx++;
		c->ack_now = true;
		return;
	}
	if (seq - c->rcv_del >= c->W) {
		c->st.out_of_window++;
		return;
	}
	i = seq & (c->W - 1);
	e = &c->rw[i];
	if (e->got) {
		c->st.dups_rx++;
		c->ack_now = true;
		return;
	}
	if (is_data(h->type)) {
		const struct bulk_chan_pool *cp = h->slot < BULK_CHANNEL_MAX_POOLS ? &ch->slots[h->slot] : NULL;

		bad = cp == NULL || cp->state != BULK_SLOT_ASSIGNED || h->index >= cp->pool->count ||
		      h->total > cp->pool->buffer_size || (uint64_t)h->offset + h->length > h->total ||
		      (last && h->offset + h->length != h->total) || (first && h->offset != 0) ||
		      h->meta_len != (last ? ch->meta_size : 0);
		if (!bad && h->length > 0) {
			struct bulk_buffer *b = &cp->pool->bufs[h->index];

			/* Anything else is decided at delivery (a copy of a
			 * buffer we can read already goes back unread). */
			if (bulk_core_rx_may_write(b))
				mbuf_copy(m, poff, h->length, (uint8_t *)b->addr + h->offset);
		}
	} else if (h->type == BULK_MSG_RELEASE) {
		bad = h->length != 0 || !first || !last || h->meta_len != 0;
	} else {
		bad = h->length != sizeof(struct dpdk_wire_ctrl) || !first || !last || h->meta_len != 0;
		if (!bad)
			mbuf_copy(m, poff, h->length, (uint8_t *)&e->ctrl);
	}
	if (bad)
		c->st.bad_frames++;
	e->got = 1;
	e->bad = bad;
	e->type = h->type;
	e->flags = h->flags;
	e->slot = h->slot;
	e->index = h->index;
	e->total = h->total;
	if (last && h->meta_len > 0 && !bad)
		memcpy(c->rw_meta + (size_t)i * BULK_META_MAX, meta, h->meta_len);
	if ((int32_t)(seq + 1 - c->rcv_hi) > 0)
		c->rcv_hi = seq + 1;
	if (seq == c->rcv_nxt) {
		while (c->rcv_nxt != c->rcv_hi && c->rw[c->rcv_nxt & (c->W - 1)].got)
			c->rcv_nxt++;
	} else {
		c->ack_now = true; /* a gap: say so */
	}
	c->rx_since_ack++;
	if (!c->ack_due) {
		c->ack_due = true;
		c->last_ack_us = now;
	}
}

static int
view_map(void *arg, struct bulk_pool *view)
{
	size_t len = (size_t)view->count * view->buffer_size;
	void *base;

	(void)arg;
	len = (len + 4095) & ~(size_t)4095;
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	view->base = base;
	view->map_len = len;
	view->fd = -1;
	view->mem = BULK_MEM_ANON;
	return 0;
}

static void
view_unmap(struct bulk_pool *view)
{
	/* No device may reach the memory once it is gone: a channel's slot
	 * may still name the view until its next dpdk_dma_chan_sync(). */
	if (view->base != NULL)
		dpdk_dma_forget(view->base, view->map_len);
	if (view->base != NULL)
		munmap(view->base, view->map_len);
	view->base = NULL;
}

static int
view_map_set(void *arg, struct bulk_pool *view)
{
	int rc = view_map(arg, view);

	if (rc == 0)
		view->unmap = view_unmap;
	return rc;
}

static void
rx_ctrl(struct dpdk_chan *c, const struct dpdk_rxfrm *e)
{
	const struct dpdk_wire_ctrl *k = &e->ctrl;
	struct bulk_pool_mapper mapper = { .map = view_map_set };
	struct bulk_ctrl_rx m = {
		.type = e->type,
		.slot = e->slot,
		.status = (int32_t)rte_be_to_cpu_32((uint32_t)k->status),
		.pool = {
			.id = {
				.host = rte_be_to_cpu_64(k->pool_host),
				.pid = rte_be_to_cpu_32(k->pool_pid),
				.seq = rte_be_to_cpu_32(k->pool_seq),
			},
			.count = rte_be_to_cpu_32(k->count),
			.buffer_size = rte_be_to_cpu_32(k->buffer_size),
			.trust = (enum bulk_trust)k->trust,
		},
		/* Each side allocates its own memory for a pool: nothing to
		 * prove, so no same(); the core decides whether a view we know
		 * may take the peer's data. */
		.mapper = &mapper,
	};

	bulk_core_rx_ctrl(&c->ch, &m);
	/* A view assigned (registered for the port's device), a slot cleared
	 * (an assignment refused, a pool removed): regions follow. */
	if (e->type == BULK_MSG_POOL_ASSIGN || e->type == BULK_MSG_POOL_ASSIGN_REPLY ||
	    e->type == BULK_MSG_POOL_REMOVE)
		dpdk_dma_chan_sync(c, false);
}

/* Deliver complete messages in order. @return messages delivered. */
static unsigned
deliver(struct dpdk_chan *c, unsigned budget)
{
	struct bulk_channel *ch = &c->ch;
	uint8_t run_type = 0;
	unsigned k = 0, n = 0;
	uint32_t ms = ch->meta_size;

	while (c->rcv_del != c->rcv_nxt && n < budget && ch->state != BULK_STATE_CLOSED) {
		uint32_t i = c->rcv_del & (c->W - 1);
		struct dpdk_rxfrm *e = &c->rw[i];

		if (e->bad)
			c->msg_bad = true;
		if (!(e->flags & DPDK_WF_LAST)) {
			e->got = 0;
			c->rcv_del++;
			continue;
		}
		n++;
		ch->stats.rx_msgs++;
		if (c->msg_bad) {
			c->msg_bad = false;
			ch->stats.bad_desc++;
		} else if (is_data(e->type) || e->type == BULK_MSG_RELEASE) {
			struct bulk_buffer *b;

			if (k > 0 && (run_type != e->type || k == ch->rx_cap)) {
				bulk_core_rx_deliver(ch, run_type, ch->rx_bufs, ch->rx_lens,
						     ch->rx_meta, k);
				k = 0;
			}
			run_type = e->type;
			b = bulk_core_rx_one(ch, e->type, e->slot, e->index,
					     e->type == BULK_MSG_RELEASE ? 0 : e->total);
			if (b != NULL) {
				ch->rx_bufs[k] = b;
				ch->rx_lens[k] = e->type == BULK_MSG_RELEASE ? 0 : e->total;
				if (ms > 0)
					memcpy(ch->rx_meta + (size_t)k * ms,
					       c->rw_meta + (size_t)i * BULK_META_MAX, ms);
				k++;
			}
		} else {
			if (k > 0) {
				bulk_core_rx_deliver(ch, run_type, ch->rx_bufs, ch->rx_lens,
						     ch->rx_meta, k);
				k = 0;
			}
			/*
			 * The peer's TEARDOWN closes the channel here: first let
			 * the peer acknowledge everything we sent, so that no
			 * continuation fires for data that never arrived.
			 */
			if (e->type == BULK_MSG_TEARDOWN && !e->bad &&
			    (c->msg_head != c->msg_tail || c->novf > 0)) {
				n--;
				ch->stats.rx_msgs--;
				break;
			}
			e->got = 0;
			c->rcv_del++;
			rx_ctrl(c, e);
			continue;
		}
		e->got = 0;
		c->rcv_del++;
	}
	if (k > 0)
		bulk_core_rx_deliver(ch, run_type, ch->rx_bufs, ch->rx_lens, ch->rx_meta, k);
	/* The sender may be stopped by the window we last offered: reopen it. */
	if (n > 0 && c->last_adv < c->W / 2 && c->W - (c->rcv_nxt - c->rcv_del) >= c->W / 2)
		c->ack_now = true;
	return n;
}

/* ------------------------------------------------------------ acks */

static void
send_ack_flags(struct dpdk_chan *c, uint64_t now, uint8_t flags)
{
	struct dpdk_wire_nak naks[DPDK_WIRE_MAX_NAKS];
	unsigned n = 0;
	uint32_t s = c->rcv_nxt, end = c->rcv_hi;
	struct dpdk_wire_hdr h = {
		.type = DPDK_WT_ACK,
		.flags = (uint8_t)(DPDK_WF_ACK | flags),
		.chan = c->peer_id,
		.seq = c->snd_nxt, /* what we sent is below it (a probe's answer uses it) */
		.ack = c->rcv_nxt,
		.wnd = adv_wnd(c),
		.index = c->rcv_hi,
	};

	if (end - s > NAK_SCAN_MAX)
		end = s + NAK_SCAN_MAX;
	while (s != end && n < DPDK_WIRE_MAX_NAKS) {
		uint32_t start;

		if (c->rw[s & (c->W - 1)].got) {
			s++;
			continue;
		}
		start = s;
		while (s != end && !c->rw[s & (c->W - 1)].got)
			s++;
		naks[n].start = rte_cpu_to_be_32(start);
		naks[n].count = rte_cpu_to_be_32(s - start);
		n++;
	}
	h.length = n * (uint32_t)sizeof(naks[0]);
	if (!dpdk_port_send_small(c->port, c->peer, c->sport, &h, naks, h.length))
		return; /* still owed: the next poll tries again */
	c->st.acks_tx++;
	c->st.naks_tx += n;
	c->ack_due = false;
	c->ack_now = false;
	c->rx_since_ack = 0;
	c->last_ack_us = now;
	c->last_tx_us = now;
}

static void
send_ack(struct dpdk_chan *c, uint64_t now)
{
	send_ack_flags(c, now, 0);
}

/* ------------------------------------------------------------ poll */

static unsigned
timers(struct dpdk_chan *c, uint64_t now)
{
	uint64_t retx = c->st.retransmits + c->st.tail_probes;

	/*
	 * Queueing delay is not loss. While frames wait in our own transmit
	 * batch (the port's ring is full: the peer is not draining it), the
	 * timer restarts: nothing we sent can have been acknowledged yet. And
	 * only once our own receive ring was empty after the deadline: when
	 * we are the slow side, the peer's acks queue behind its data in our
	 * ring.
	 */
	if (c->snd_una != c->snd_nxt && now >= c->rto_at_us && c->port->ntxb > 0)
		c->rto_at_us = now + c->rto_us;
	if (c->snd_una != c->snd_nxt && now >= c->rto_at_us && c->port->rx_drained_us >= c->rto_at_us &&
	    (!c->rto_asked || (int64_t)(c->last_rx_us - c->rto_ask_us) <= 0)) {
		/*
		 * The deadline passed: ask before resending. A probe as below
		 * (the peer's answer NAKs what it lacks, and only that is
		 * resent); again, an RTO later, while nothing at all comes
		 * back: a peer descheduled for longer than the RTO (a busy
		 * 2-CPU host does that) or gone (the peer timeout's business)
		 * loses nothing. Only a peer that talks after our question and
		 * still does not acknowledge meets the timer below.
		 */
		c->st.tail_probes++;
		send_ack_flags(c, now, DPDK_WF_PROBE);
		c->rto_asked = true;
		c->rto_ask_us = now;
		c->rto_at_us = now + c->rto_us;
	} else if (c->snd_una != c->snd_nxt && now >= c->rto_at_us &&
		   c->port->rx_drained_us >= c->rto_at_us) {
		c->st.rto_expired++;
		/*
		 * NAKs repair what the peer saw missing; a timeout mostly means a
		 * lost tail or lost acks. The first one halves the window, one
		 * more without progress in between shrinks it to the minimum.
		 */
		if (c->rto_us == c->rto_base_us) {
			c->cwnd = c->cwnd / 2 > DPDK_MIN_CWND ? c->cwnd / 2 : DPDK_MIN_CWND;
			c->ssthresh = c->cwnd > DPDK_INIT_CWND ? c->cwnd : DPDK_INIT_CWND;
		} else {
			c->cwnd = DPDK_MIN_CWND;
		}
		/* The cumulative ack stops at snd_una: that frame is missing.
		 * Later gaps are the peer's to report (NAKs). */
		retransmit(c, c->snd_una, now);
		c->rto_us = c->rto_us * 2 > DPDK_RTO_MAX_US ? DPDK_RTO_MAX_US : c->rto_us * 2;
		c->rto_at_us = now + c->rto_us;
	}
	/*
	 * Tail probe: nothing new can be sent (none queued, or the window is
	 * full) and no ack for two RTTs. The probe asks rather than resends:
	 * an ACK with PROBE and our next sequence, which the peer answers
	 * with an ACK naming every frame below it that it lacks (NAKs; a
	 * loss is resent from there). A peer that was merely slow (descheduled,
	 * its ring full of our frames) answers that it has them all, and
	 * nothing is sent twice. Unanswered, the wait doubles (a lost probe
	 * or answer); the RTO stays the last resort.
	 */
	if (c->snd_una != c->snd_nxt && c->srtt_us != 0 && c->port->ntxb == 0 &&
	    (c->msg_next == c->msg_tail || c->snd_nxt - c->snd_una >= send_limit(c))) {
		uint64_t pto = 2 * (uint64_t)c->srtt_us < DPDK_PROBE_MIN_US ? DPDK_PROBE_MIN_US
									 : 2 * (uint64_t)c->srtt_us;
		const struct dpdk_txfrm *g = &c->sw[(c->snd_nxt - 1) & (c->W - 1)];
		uint64_t since = c->probes > 0 && c->probe_us > g->tx_us ? c->probe_us : g->tx_us;

		pto <<= c->probes < DPDK_PROBE_BACKOFF ? c->probes : DPDK_PROBE_BACKOFF;
		if (now - since >= pto) {
			c->st.tail_probes++;
			send_ack_flags(c, now, DPDK_WF_PROBE);
			c->probe_us = now;
			if (c->probes < 255)
				c->probes++;
		}
	}
	/*
	 * Window probe: data waits, nothing is in flight and the peer's offer
	 * is closed. Its reopening ack may have been lost: ask again, an RTT
	 * estimate (srtt + 4 rttvar, at least DPDK_WPROBE_MIN_US) after our
	 * last frame; not the RTO, whose floor is for loss.
	 */
	if (c->snd_una == c->snd_nxt && c->msg_next != c->msg_tail && send_limit(c) == 0) {
		uint64_t w = (uint64_t)c->srtt_us + 4 * (uint64_t)c->rttvar_us;

		if (now - c->last_tx_us >= (w > DPDK_WPROBE_MIN_US ? w : DPDK_WPROBE_MIN_US))
			send_ack_flags(c, now, DPDK_WF_PROBE);
	}
	/* Loss epochs: more than 1/8 lost in an RTT is congestion. */
	if (now - c->epoch_us >= (c->srtt_us > 1000 ? c->srtt_us : 1000)) {
		if (c->epoch_lost * 8 > c->epoch_sent && c->epoch_lost > 2) {
			c->cwnd = c->cwnd / 2 > DPDK_MIN_CWND ? c->cwnd / 2 : DPDK_MIN_CWND;
			c->ssthresh = c->cwnd > DPDK_INIT_CWND ? c->cwnd : DPDK_INIT_CWND;
		}
		c->epoch_us = now;
		c->epoch_sent = c->epoch_lost = 0;
	}
	/* Silent, and not merely queued behind other traffic in our ring. */
	if (now - c->last_rx_us > c->peer_timeout_us && c->gone_reason == 0 &&
	    c->port->rx_drained_us - c->last_rx_us > c->peer_timeout_us)
		c->gone_reason = -BULK_E_PEER_GONE;
	if (now - c->last_tx_us >= c->peer_timeout_us / 4)
		c->ack_now = true; /* keep-alive */
	return (unsigned)(c->st.retransmits + c->st.tail_probes - retx);
}

unsigned
dpdk_rel_poll(struct dpdk_chan *c, unsigned budget, uint64_t now)
{
	struct bulk_channel *ch = &c->ch;
	unsigned work;
	uint64_t before = c->msgs_done;

	work = deliver(c, budget);
	while (c->msg_head != c->msg_acked &&
	       __atomic_load_n(&msg_at(c, c->msg_head)->done, __ATOMIC_ACQUIRE)) {
		c->msg_head++;
		c->msgs_done++;
	}
	/* Acknowledged, but the NIC still holds an mbuf of it: many drivers
	 * free transmitted mbufs lazily, so ask for them back. */
	if (c->msg_head != c->msg_acked && now - c->cleanup_us >= 100) {
		c->cleanup_us = now;
		rte_eth_tx_done_cleanup(c->port->port_id, c->port->queue_id, 0);
	}
	if (c->msgs_done != before) {
		bulk_core_tx_complete(ch, c->msgs_done);
		work++;
	}
	if (c->mode != DPDK_OPEN)
		return work;
	work += timers(c, now);
	work += pump(c, now);
	if (c->ack_now || (c->ack_due && (c->rx_since_ack >= ACK_EVERY ||
					  now - c->last_ack_us >= ACK_DELAY_US)) ||
	    (c->rcv_hi != c->rcv_nxt && now - c->last_ack_us >= NAK_REPEAT_US)) {
		/* Work done: a poller that waits for quiet must poll the peer again. */
		send_ack(c, now);
		work++;
	}
	c->st.cwnd = c->cwnd;
	c->st.rto_us = c->rto_us;
	return work;
}

void
dpdk_rel_flush_out(struct dpdk_chan *c)
{
	uint64_t now = dpdk_now_us();

	if (c->mode != DPDK_OPEN || c->port == NULL)
		return;
	/* Only an ack: the core may have unmapped pools already, so no new
	 * data frames (a lost TEARDOWN_ACK is answered by our reset). */
	send_ack(c, now);
	dpdk_port_flush(c->port);
}
