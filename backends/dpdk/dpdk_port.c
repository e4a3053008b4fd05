/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK backend, the port: EAL convenience, port and queue set-up, the peer
 * table, ARP, building frames (zero copy where the port sends chained
 * mbufs) and checking and dispatching what arrives.
 *
 * Peers. A port with a fixed peer knows only that address: anything else
 * is not ours. A multi-peer port takes frames from any unicast address; a
 * stream frame names a channel, and the channel names the one peer (IPv4
 * address and UDP port) whose frames it takes. The table only holds peers
 * that have a channel here, so its size is bounded by what the application
 * accepts or binds, and by max_peers whatever a hostile host sends:
 * requests and resets are answered to the frame's source without an entry.
 */
/* rte_eth_dev_conf_get(): experimental in 22.11, stable since. */
#define ALLOW_EXPERIMENTAL_API 1

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mempool.h>
#include <rte_random.h>
#include <rte_udp.h>

#include "dpdk_csum.h"
#include "dpdk_internal.h"
#include "xdp/dpdk_xdp.h"

#define ARP_RETRY_US 100000u
#define MBUFS_PER_POOL 8191u

/* Ports and listening creators of the process: set-up paths only. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bulk_dpdk_port *ports;
static struct dpdk_chan *listeners;
static unsigned pool_seq;
/* Message records of closed ports that a peer's mbufs still point into. */
static struct dpdk_grave *orphan_graves;

/*
 * Microseconds from the TSC without a division per call (a 64-bit divide
 * was a visible share of a busy poll loop): us = tsc * us_mult >> 32,
 * in two halves so that nothing overflows (us_mult < 2^32 for any TSC
 * above 1 MHz). Set once; a race sets the same values.
 */
static uint64_t us_mult;

uint64_t
dpdk_now_us(void)
{
	uint64_t t = rte_get_tsc_cycles();

	if (bulk_unlikely(us_mult == 0)) {
		uint64_t hz = rte_get_tsc_hz();

		us_mult = hz > 1000000 ? (1000000ull << 32) / hz : 1ull << 32;
	}
	return (t >> 32) * us_mult + (((t & 0xffffffffu) * us_mult) >> 32);
}

int
bulk_dpdk_init(int argc, char **argv)
{
	int rc = rte_eal_init(argc, argv);

	if (rc < 0)
		return rte_errno > 0 ? -rte_errno : -EINVAL;
	return rc;
}

/* ------------------------------------------------------------ registry */

struct dpdk_chan *
dpdk_listener_find(struct bulk_domain *d, uint16_t ep_id)
{
	struct dpdk_chan *c;

	pthread_mutex_lock(&reg_lock);
	for (c = listeners; c != NULL; c = c->lnext)
		if (c->ch.dom == d && c->ep_id == ep_id)
			break;
	pthread_mutex_unlock(&reg_lock);
	return c;
}

int
dpdk_listener_add(struct dpdk_chan *c)
{
	struct dpdk_chan *o;

	pthread_mutex_lock(&reg_lock);
	for (o = listeners; o != NULL; o = o->lnext)
		if (o->ch.dom == c->ch.dom && o->ep_id == c->ep_id) {
			pthread_mutex_unlock(&reg_lock);
			return -EADDRINUSE;
		}
	c->lnext = listeners;
	listeners = c;
	pthread_mutex_unlock(&reg_lock);
	return 0;
}

void
dpdk_listener_del(struct dpdk_chan *c)
{
	pthread_mutex_lock(&reg_lock);
	for (struct dpdk_chan **pp = &listeners; *pp != NULL; pp = &(*pp)->lnext)
		if (*pp == c) {
			*pp = c->lnext;
			break;
		}
	c->lnext = NULL;
	pthread_mutex_unlock(&reg_lock);
}

/* Could @p l reach @p p and @p p answer, as far as their addresses tell? */
static bool
port_leads_to(const struct bulk_dpdk_port *l, const struct bulk_dpdk_port *p)
{
	/* A fixed peer port sends to its own UDP port and takes only frames
	 * to it; a multi-peer port answers any source port. */
	return p->local_ip != l->local_ip && (l->multi || l->peer_ip == p->local_ip) &&
	       (p->multi || p->peer_ip == l->local_ip) &&
	       ((l->multi && p->multi) || l->udp_port == p->udp_port);
}

struct bulk_dpdk_port *
dpdk_port_towards(struct bulk_domain *d, struct bulk_domain *peer_dom, struct dpdk_peer *to)
{
	struct bulk_dpdk_port *l, *p, *found = NULL;

	pthread_mutex_lock(&reg_lock);
	/* Two fixed peers naming each other first: the choice of old. */
	for (int pass = 0; pass < 2 && found == NULL; pass++)
		for (l = ports; l != NULL && found == NULL; l = l->next) {
			if (l->dom != d)
				continue;
			for (p = ports; p != NULL; p = p->next)
				if (p->dom == peer_dom && (pass == 1 || (!l->multi && !p->multi)) &&
				    port_leads_to(l, p)) {
					found = l;
					to->ip = p->local_ip;
					to->udp_port = p->udp_port;
					break;
				}
		}
	pthread_mutex_unlock(&reg_lock);
	return found;
}

bool
dpdk_port_fixed_registered(struct bulk_domain *d, uint32_t ip, uint16_t udp)
{
	bool found = false;

	pthread_mutex_lock(&reg_lock);
	for (struct bulk_dpdk_port *l = ports; l != NULL && !found; l = l->next)
		found = l->dom == d && !l->multi && l->addr_registered && l->peer_ip == ip &&
			(udp == 0 || udp == l->udp_port);
	pthread_mutex_unlock(&reg_lock);
	return found;
}

void
dpdk_port_set_registered(struct bulk_dpdk_port *l, bool on)
{
	pthread_mutex_lock(&reg_lock);
	l->addr_registered = on;
	pthread_mutex_unlock(&reg_lock);
}

unsigned
dpdk_domain_rx(struct bulk_domain *d, unsigned budget)
{
	struct bulk_dpdk_port *mine[16];
	unsigned n = 0, work = 0;

	pthread_mutex_lock(&reg_lock);
	for (struct bulk_dpdk_port *l = ports; l != NULL && n < 16; l = l->next)
		if (l->dom == d)
			mine[n++] = l;
	pthread_mutex_unlock(&reg_lock);
	/* Only this domain's thread receives on its ports. */
	for (unsigned i = 0; i < n; i++) {
		work += dpdk_port_rx(mine[i], budget);
		dpdk_port_flush(mine[i]);
	}
	return work;
}

/*
 * What one channel may offer its peer: its share of half the receive ring
 * (a sender faster than our poll must not overflow the ring). Kept here,
 * not computed per frame.
 */
static void
port_share(struct bulk_dpdk_port *l)
{
	uint32_t ring = l->rx_desc / 2 / (l->nchans ? l->nchans : 1);

	l->rx_share = ring < 64 ? 64 : ring;
}

/* ------------------------------------------------------------ peers */

/* The entry of peer @p ip, @p udp of a multi-peer port, or NULL. */
static struct dpdk_peer *
peer_find(struct bulk_dpdk_port *l, uint32_t ip, uint16_t udp)
{
	for (uint32_t i = 0, seen = 0; i < l->max_peers && seen < l->npeers; i++) {
		struct dpdk_peer *p = &l->peers[i];

		if (p->ip == 0)
			continue;
		seen++;
		if (p->ip == ip && p->udp_port == udp)
			return p;
	}
	return NULL;
}

/* The entry of @p to, made if need be. @return NULL: the table is full. */
static struct dpdk_peer *
peer_take(struct bulk_dpdk_port *l, const struct dpdk_peer *to)
{
	struct dpdk_peer *p = peer_find(l, to->ip, to->udp_port);

	if (p != NULL) {
		if (!p->mac_known && to->mac_known) {
			p->mac = to->mac;
			p->mac_known = true;
			l->nunresolved--;
		}
		return p;
	}
	if (l->npeers >= l->max_peers)
		return NULL;
	for (p = l->peers; p->ip != 0; p++)
		;
	*p = (struct dpdk_peer){
		.ip = to->ip, .udp_port = to->udp_port, .mac_known = to->mac_known, .mac = to->mac
	};
	l->npeers++;
	if (!p->mac_known)
		l->nunresolved++;
	return p;
}

/* A channel of @p p went: a multi-peer port forgets a peer with none left. */
static void
peer_put(struct bulk_dpdk_port *l, struct dpdk_peer *p)
{
	if (--p->nchans > 0 || !l->multi)
		return;
	if (!p->mac_known)
		l->nunresolved--;
	memset(p, 0, sizeof(*p));
	l->npeers--;
}

int
dpdk_port_can_add(struct bulk_dpdk_port *l, const struct dpdk_peer *to)
{
	if (l->nchans >= DPDK_MAX_CHANS - 1)
		return -ENOSPC;
	if (l->multi && l->npeers >= l->max_peers && peer_find(l, to->ip, to->udp_port) == NULL) {
		l->st.peers_refused++;
		return -ENOSPC;
	}
	return 0;
}

int
dpdk_port_add_chan(struct bulk_dpdk_port *l, struct dpdk_chan *c, const struct dpdk_peer *to)
{
	struct dpdk_peer *p = &l->peers[0];
	unsigned idx;

	/* Id = generation | index: a frame for an earlier channel in the same
	 * index does not reach a new one. Index 0 is never used (BIND_REQ). */
	for (idx = 1; idx < DPDK_MAX_CHANS; idx++)
		if (l->chans[idx] == NULL)
			break;
	if (idx == DPDK_MAX_CHANS) {
		c->id = 0;
		return -ENOSPC;
	}
	if (l->multi) {
		p = peer_take(l, to);
		if (p == NULL) {
			c->id = 0;
			l->st.peers_refused++;
			return -ENOSPC;
		}
	}
	p->nchans++;
	l->id_gen++;
	c->id = ((l->id_gen << DPDK_ID_BITS) | idx) & 0x7fffffffu;
	if (c->id >> DPDK_ID_BITS == 0)
		c->id |= 1u << DPDK_ID_BITS;
	l->chans[idx] = c;
	l->nchans++;
	port_share(l);
	c->port = l;
	c->peer = p;
	c->sport = dpdk_wire_src_port(l->udp_port, c->id, l->src_bits);
	c->peer_sport = p->udp_port; /* until the bind exchange names it */
	return 0;
}

void
dpdk_port_del_chan(struct bulk_dpdk_port *l, struct dpdk_chan *c)
{
	unsigned idx = c->id & (DPDK_MAX_CHANS - 1);

	if (c->id != 0 && l->chans[idx] == c) {
		l->chans[idx] = NULL;
		l->nchans--;
		port_share(l);
		if (c->peer != NULL)
			peer_put(l, c->peer);
	}
	c->peer = NULL;
}

static inline struct dpdk_chan *
port_chan(struct bulk_dpdk_port *l, uint32_t id)
{
	struct dpdk_chan *c = l->chans[id & (DPDK_MAX_CHANS - 1)];

	return c != NULL && c->id == id ? c : NULL;
}

static void
grave_free(struct dpdk_grave *g)
{
	bulk_free(g->msgs);
	bulk_free(g);
}

void
dpdk_port_graves_sweep(struct bulk_dpdk_port *l)
{
	struct dpdk_grave **pp = &l->graves;

	while (*pp != NULL) {
		struct dpdk_grave *g = *pp;
		bool busy = false;

		for (uint32_t i = 0; i < g->cap && !busy; i++)
			busy = g->msgs[i].zc && rte_mbuf_ext_refcnt_read(&g->msgs[i].shinfo) > 0;
		if (busy) {
			pp = &g->next;
			continue;
		}
		*pp = g->next;
		grave_free(g);
	}
}

/* ------------------------------------------------------------ transmit */

bool
dpdk_port_tx_out(struct bulk_dpdk_port *l)
{
	uint16_t sent;

	if (l->ntxb == 0)
		return true;
	if (l->tx_fn != NULL) {
		sent = l->tx_fn(l->tx_arg, l->txb, (uint16_t)l->ntxb);
		if (sent > l->ntxb)
			sent = (uint16_t)l->ntxb;
	} else {
		sent = rte_eth_tx_burst(l->port_id, l->queue_id, l->txb, (uint16_t)l->ntxb);
	}
	l->st.tx_frames += sent;
	if (sent < l->ntxb) {
		l->st.tx_full++;
		memmove(l->txb, l->txb + sent, (l->ntxb - sent) * sizeof(l->txb[0]));
	}
	l->ntxb -= sent;
	return l->ntxb == 0;
}

bool
dpdk_port_flush(struct bulk_dpdk_port *l)
{
	/* The application's queue without tx_fn: the application says when
	 * (bulk_dpdk_port_flush()); until then frames wait in the batch. */
	if (l->app_queue && l->tx_fn == NULL)
		return l->ntxb == 0;
	return dpdk_port_tx_out(l);
}

bool
dpdk_port_queue(struct bulk_dpdk_port *l, struct rte_mbuf *m)
{
	if (l->ntxb == DPDK_TX_BATCH && !dpdk_port_flush(l) && l->ntxb == DPDK_TX_BATCH)
		return false;
	l->txb[l->ntxb++] = m;
	if (l->ntxb == DPDK_TX_BATCH)
		dpdk_port_flush(l);
	return true;
}

/*
 * The bulk header sits 42 bytes into the frame (2 mod 4): it is built and
 * read in an aligned local copy and moved with memcpy.
 */
static void
hdr_to_wire(void *dst, const struct dpdk_wire_hdr *h)
{
	struct dpdk_wire_hdr w;

	w.magic = rte_cpu_to_be_32(DPDK_WIRE_MAGIC);
	w.version = DPDK_WIRE_VERSION;
	w.type = h->type;
	w.flags = h->flags;
	w.meta_len = h->meta_len;
	w.chan = rte_cpu_to_be_32(h->chan);
	w.seq = rte_cpu_to_be_32(h->seq);
	w.ack = rte_cpu_to_be_32(h->ack);
	w.wnd = rte_cpu_to_be_16(h->wnd);
	w.slot = rte_cpu_to_be_16(h->slot);
	w.index = rte_cpu_to_be_32(h->index);
	w.offset = rte_cpu_to_be_32(h->offset);
	w.length = rte_cpu_to_be_32(h->length);
	w.total = rte_cpu_to_be_32(h->total);
	memcpy(dst, &w, sizeof(w));
}

static void
hdr_from_wire(struct dpdk_wire_hdr *h, const void *src)
{
	struct dpdk_wire_hdr w;

	memcpy(&w, src, sizeof(w));
	h->magic = rte_be_to_cpu_32(w.magic);
	h->version = w.version;
	h->type = w.type;
	h->flags = w.flags;
	h->meta_len = w.meta_len;
	h->chan = rte_be_to_cpu_32(w.chan);
	h->seq = rte_be_to_cpu_32(w.seq);
	h->ack = rte_be_to_cpu_32(w.ack);
	h->wnd = rte_be_to_cpu_16(w.wnd);
	h->slot = rte_be_to_cpu_16(w.slot);
	h->index = rte_be_to_cpu_32(w.index);
	h->offset = rte_be_to_cpu_32(w.offset);
	h->length = rte_be_to_cpu_32(w.length);
	h->total = rte_be_to_cpu_32(w.total);
}

/*
 * A zero-copy port's header mbufs hold headers only: a payload it must
 * copy (its pool is not DMA-able) goes in a whole-frame mbuf from a pool
 * made the first time (rare: the slow path). NULL if it cannot be made.
 */
static struct rte_mempool *
port_copy_pool(struct bulk_dpdk_port *l)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	unsigned seq;

	if (bulk_likely(l->copy_pool != NULL) || l->hdr_pool == NULL)
		return l->copy_pool != NULL ? l->copy_pool : l->hdr_pool;
	/* The application's pool, if a whole frame fits its mbufs. */
	if (rte_pktmbuf_data_room_size(l->hdr_pool) >=
	    RTE_PKTMBUF_HEADROOM + (unsigned)l->mtu + DPDK_WIRE_ETH_LEN)
		return l->hdr_pool;
	pthread_mutex_lock(&reg_lock);
	seq = pool_seq++;
	pthread_mutex_unlock(&reg_lock);
	snprintf(name, sizeof(name), "bulk_c%u_%u", seq, (unsigned)l->port_id);
	l->copy_pool = rte_pktmbuf_pool_create(
		name, 1023, 64, 0,
		(uint16_t)(RTE_PKTMBUF_HEADROOM + (unsigned)l->mtu + DPDK_WIRE_ETH_LEN + 64u),
		rte_eth_dev_socket_id(l->port_id));
	return l->copy_pool;
}

struct rte_mbuf *
dpdk_frame_build(struct bulk_dpdk_port *l, const struct dpdk_peer *to, uint16_t sport,
		 const struct dpdk_wire_hdr *h, const void *meta, const void *payload,
		 uint32_t plen, struct rte_mbuf_ext_shared_info *ext,
		 const struct dpdk_dma_region *dma, bool *zc)
{
	struct rte_mbuf *m, *x = NULL;
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *udp;
	uint32_t hl = DPDK_WIRE_HDRS + (uint32_t)sizeof(struct dpdk_wire_hdr) + h->meta_len;
	/* Zero copy only from memory the port's device may read. */
	bool use_ext = ext != NULL && dma != NULL && plen > 0;
	/* The port sums, except a chain whose header segment ends at an odd
	 * offset of the datagram (an odd meta size): DPDK 22.11's net_tap
	 * sums each segment as if it began at an even offset, so the payload
	 * would be summed a byte out of step. One frame per message (the
	 * last, with the meta), summed here instead. */
	bool off = l->tx_csum_off && !(use_ext && (h->meta_len & 1));
	uint8_t *p;

	m = rte_pktmbuf_alloc(!use_ext && plen > 0 && l->tx_zc ? port_copy_pool(l) : l->hdr_pool);
	if (m == NULL)
		return NULL;
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(hl + (use_ext ? 0 : plen)));
	if (p == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	/* One external mbuf per run of pages whose IOVAs follow each other:
	 * every segment's IOVA is the device's address of its bytes. */
	for (uint32_t o = 0; use_ext && o < plen;) {
		const uint8_t *va = (const uint8_t *)payload + o;
		rte_iova_t iova;
		uint32_t sl = dpdk_dma_seg(dma, va, plen - o, UINT16_MAX, &iova);

		x = rte_pktmbuf_alloc(l->ext_pool);
		if (x == NULL) {
			rte_pktmbuf_free(m); /* and the segments chained so far */
			return NULL;
		}
		rte_mbuf_ext_refcnt_update(ext, 1);
		rte_pktmbuf_attach_extbuf(x, (void *)(uintptr_t)va, iova, (uint16_t)sl, ext);
		x->data_len = (uint16_t)sl;
		x->pkt_len = sl;
		rte_pktmbuf_chain(m, x);
		o += sl;
	}
	eth = (struct rte_ether_hdr *)p;
	rte_ether_addr_copy(&to->mac, &eth->dst_addr);
	rte_ether_addr_copy(&l->local_mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(p + DPDK_WIRE_ETH_LEN);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(hl - DPDK_WIRE_ETH_LEN + plen));
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(l->local_ip);
	ip->dst_addr = rte_cpu_to_be_32(to->ip);
	if (!off)
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp = (struct rte_udp_hdr *)(p + DPDK_WIRE_ETH_LEN + DPDK_WIRE_IP_LEN);
	udp->src_port = rte_cpu_to_be_16(sport != 0 ? sport : l->udp_port);
	udp->dst_port = rte_cpu_to_be_16(to->udp_port);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(hl - DPDK_WIRE_ETH_LEN - DPDK_WIRE_IP_LEN + plen));
	udp->dgram_cksum = 0;
	hdr_to_wire(p + DPDK_WIRE_HDRS, h);
	if (h->meta_len > 0)
		memcpy(p + DPDK_WIRE_HDRS + sizeof(struct dpdk_wire_hdr), meta, h->meta_len);
	if (off) {
		/* The offload API's contract: header lengths, the flags on the
		 * first segment (a chain's header mbuf), IPv4 checksum 0 and the
		 * pseudo-header sum in the UDP checksum field. */
		m->l2_len = DPDK_WIRE_ETH_LEN;
		m->l3_len = DPDK_WIRE_IP_LEN;
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM;
		udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
		if (plen > 0 && !use_ext)
			memcpy(p + hl, payload, plen);
		l->st.tx_csum_offload++;
	} else if (l->udp_csum_none) {
		/* A trusted link: no UDP checksum (zero; the IPv4 header's
		 * is set above), the payload copied or chained as it is. */
		if (plen > 0 && !use_ext)
			memcpy(p + hl, payload, plen);
	} else {
		/* The UDP checksum, over the bytes the peer will read: pseudo
		 * header, our headers, then the payload (copied and summed in
		 * one pass). */
		uint32_t uh = hl - DPDK_WIRE_ETH_LEN - DPDK_WIRE_IP_LEN; /* UDP + bulk + meta */
		uint64_t acc = rte_ipv4_phdr_cksum(ip, 0);
		uint16_t ck;

		acc = csum_place(acc, csum_bytes((const uint8_t *)udp, uh), 0);
		if (plen > 0)
			acc = csum_place(acc,
					 use_ext ? csum_bytes(payload, plen)
						 : csum_copy(p + hl, payload, plen),
					 uh);
		ck = (uint16_t)~csum_fold(acc);
		udp->dgram_cksum = ck == 0 ? 0xffff : ck;
		l->st.tx_csum_sw++;
	}
	if (zc != NULL)
		*zc = use_ext;
	return m;
}

bool
dpdk_port_send_small(struct bulk_dpdk_port *l, const struct dpdk_peer *to, uint16_t sport,
		     const struct dpdk_wire_hdr *h, const void *payload, uint32_t plen)
{
	struct rte_mbuf *m;

	if (!to->mac_known)
		return false;
	m = dpdk_frame_build(l, to, sport, h, NULL, payload, plen, NULL, NULL, NULL);
	if (m == NULL)
		return false;
	if (!dpdk_port_queue(l, m)) {
		rte_pktmbuf_free(m);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------ ARP */

static void
arp_send(struct bulk_dpdk_port *l, uint16_t op, const struct rte_ether_addr *tha, uint32_t tip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(l->hdr_pool);
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *a;

	if (m == NULL)
		return;
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof(*eth) + sizeof(*a));
	if (eth == NULL) {
		rte_pktmbuf_free(m);
		return;
	}
	a = (struct rte_arp_hdr *)(eth + 1);
	if (op == RTE_ARP_OP_REQUEST)
		memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	else
		rte_ether_addr_copy(tha, &eth->dst_addr);
	rte_ether_addr_copy(&l->local_mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = RTE_ETHER_ADDR_LEN;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(op);
	rte_ether_addr_copy(&l->local_mac, &a->arp_data.arp_sha);
	a->arp_data.arp_sip = rte_cpu_to_be_32(l->local_ip);
	if (op == RTE_ARP_OP_REQUEST)
		memset(&a->arp_data.arp_tha, 0, sizeof(a->arp_data.arp_tha));
	else
		rte_ether_addr_copy(tha, &a->arp_data.arp_tha);
	a->arp_data.arp_tip = rte_cpu_to_be_32(tip);
	if (dpdk_port_queue(l, m))
		l->st.arp_tx++;
	else
		rte_pktmbuf_free(m);
}

/* Learn the MAC of every peer at @p ip that we do not know yet. */
static void
arp_learn(struct bulk_dpdk_port *l, uint32_t ip, const struct rte_ether_addr *mac)
{
	if (l->nunresolved == 0 || !rte_is_unicast_ether_addr(mac))
		return;
	for (uint32_t i = 0; i < l->max_peers; i++) {
		struct dpdk_peer *p = &l->peers[i];

		if (p->ip == ip && ip != 0 && !p->mac_known) {
			rte_ether_addr_copy(mac, &p->mac);
			p->mac_known = true;
			l->nunresolved--;
		}
	}
}

/* Ask for the MAC of each peer that has none, every ARP_RETRY_US. */
static void
arp_resolve(struct bulk_dpdk_port *l, uint64_t now)
{
	for (uint32_t i = 0, seen = 0; i < l->max_peers && seen < l->npeers; i++) {
		struct dpdk_peer *p = &l->peers[i];

		if (p->ip == 0)
			continue;
		seen++;
		if (!p->mac_known && now >= p->arp_next_us) {
			arp_send(l, RTE_ARP_OP_REQUEST, NULL, p->ip);
			p->arp_next_us = now + ARP_RETRY_US;
		}
	}
}

static void
arp_rx(struct bulk_dpdk_port *l, const struct rte_mbuf *m)
{
	struct rte_arp_hdr abuf;
	const struct rte_arp_hdr *a;
	uint32_t sip, tip;

	a = rte_pktmbuf_read(m, DPDK_WIRE_ETH_LEN, sizeof(abuf), &abuf);
	if (a == NULL || a->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    a->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    a->arp_hlen != RTE_ETHER_ADDR_LEN || a->arp_plen != 4) {
		l->st.rx_not_ours++;
		return;
	}
	l->st.arp_rx++;
	sip = rte_be_to_cpu_32(a->arp_data.arp_sip);
	tip = rte_be_to_cpu_32(a->arp_data.arp_tip);
	arp_learn(l, sip, &a->arp_data.arp_sha);
	if (a->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) && tip == l->local_ip)
		arp_send(l, RTE_ARP_OP_REPLY, &a->arp_data.arp_sha, sip);
}

/* ------------------------------------------------------------ receive */

static void
send_rst(struct bulk_dpdk_port *l, const struct dpdk_peer *to, uint32_t bad_chan)
{
	struct dpdk_wire_hdr h = { .type = DPDK_WT_RST, .index = bad_chan };

	dpdk_port_send_small(l, to, 0, &h, NULL, 0);
}

/* May a multi-peer port take a frame from @p ip? Any one unicast host but us. */
static inline bool
peer_ip_ok(const struct bulk_dpdk_port *l, uint32_t ip)
{
	return ip != l->local_ip && (ip >> 24) != 0 && (ip >> 28) < 0xe;
}

/*
 * Did channel @p c's peer send this frame? A fixed peer's address was
 * checked already, and its source port is its own business (RSS). A
 * multi-peer port tells peers apart by address and port: the peer's own
 * (set-up frames) or the one it named for this channel's stream.
 */
static inline bool
chan_from(const struct bulk_dpdk_port *l, const struct dpdk_chan *c, uint32_t sip, uint16_t sport)
{
	return !l->multi || (c->peer->ip == sip &&
			     (c->peer->udp_port == sport || c->peer_sport == sport));
}

/*
 * The peer a frame came from, to answer it: the fixed peer; on a
 * multi-peer port its entry (which learns the MAC if ARP has not yet), or,
 * for a host without a channel here, @p tmp filled from the frame itself:
 * answered, not remembered.
 */
static const struct dpdk_peer *
frame_peer(struct bulk_dpdk_port *l, uint32_t sip, uint16_t sport, const struct rte_ether_hdr *eth,
	   struct dpdk_peer *tmp)
{
	struct dpdk_peer *p;

	if (!l->multi)
		return &l->peers[0];
	memset(tmp, 0, sizeof(*tmp));
	tmp->ip = sip;
	tmp->udp_port = sport;
	rte_ether_addr_copy(&eth->src_addr, &tmp->mac);
	tmp->mac_known = rte_is_unicast_ether_addr(&tmp->mac);
	p = peer_find(l, sip, sport);
	if (p == NULL)
		return tmp;
	if (!p->mac_known && tmp->mac_known) {
		p->mac = tmp->mac;
		p->mac_known = true;
		l->nunresolved--;
	}
	return p;
}

/* One frame. The mbuf stays the caller's. */
static void
port_rx_one(struct bulk_dpdk_port *l, struct rte_mbuf *m, uint64_t now)
{
	uint8_t hbuf[DPDK_WIRE_HDRS + sizeof(struct dpdk_wire_hdr) + BULK_META_MAX];
	const uint8_t *p;
	const struct rte_ether_hdr *eth;
	const struct rte_ipv4_hdr *ip;
	const struct rte_udp_hdr *udp;
	struct dpdk_wire_hdr h;
	struct dpdk_peer tmp;
	uint32_t tl, ul, sip, need = DPDK_WIRE_HDRS + sizeof(struct dpdk_wire_hdr);
	uint16_t sport;
	struct dpdk_chan *c;
	bool csum_ok, to_block = false;
	/* The port's verdicts where we took its receive offloads: GOOD or
	 * BAD decides; UNKNOWN or NONE (it did not look, or the UDP checksum
	 * is zero) leaves the frame to our own sums, as on any other port. */
	uint64_t ipf = l->rx_csum_off ? m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK : 0;
	uint64_t l4f = l->rx_csum_off ? m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK : 0;

	l->st.rx_frames++;
	if (m->pkt_len < DPDK_WIRE_ETH_LEN) {
		l->st.rx_malformed++;
		return;
	}
	p = rte_pktmbuf_read(m, 0, RTE_MIN(m->pkt_len, (uint32_t)sizeof(hbuf)), hbuf);
	eth = (const struct rte_ether_hdr *)p;
	if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
		arp_rx(l, m);
		return;
	}
	if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
		l->st.rx_not_ours++;
		return;
	}
	if (m->pkt_len < DPDK_WIRE_ETH_LEN + DPDK_WIRE_IP_LEN) {
		l->st.rx_malformed++;
		return;
	}
	ip = (const struct rte_ipv4_hdr *)(p + DPDK_WIRE_ETH_LEN);
	sip = rte_be_to_cpu_32(ip->src_addr);
	if (ip->dst_addr != rte_cpu_to_be_32(l->local_ip) || ip->next_proto_id != IPPROTO_UDP ||
	    (l->multi ? !peer_ip_ok(l, sip) : sip != l->peer_ip)) {
		/* A corrupted address lands here too: nothing says it was ours. */
		l->st.rx_not_ours++;
		return;
	}
	if (ipf != RTE_MBUF_F_RX_IP_CKSUM_GOOD &&
	    (ipf == RTE_MBUF_F_RX_IP_CKSUM_BAD || rte_raw_cksum(ip, DPDK_WIRE_IP_LEN) != 0xffff)) {
		if (ipf == RTE_MBUF_F_RX_IP_CKSUM_BAD)
			l->st.rx_csum_offload++;
		else
			l->st.rx_csum_sw++;
		l->st.rx_csum_drops++;
		return;
	}
	tl = rte_be_to_cpu_16(ip->total_length);
	if (ip->version_ihl != RTE_IPV4_VHL_DEF || (rte_be_to_cpu_16(ip->fragment_offset) & 0x3fff) ||
	    tl < DPDK_WIRE_IP_LEN + DPDK_WIRE_UDP_LEN || DPDK_WIRE_ETH_LEN + tl > m->pkt_len) {
		l->st.rx_malformed++;
		return;
	}
	udp = (const struct rte_udp_hdr *)(p + DPDK_WIRE_ETH_LEN + DPDK_WIRE_IP_LEN);
	if (udp->dst_port != rte_cpu_to_be_16(l->udp_port)) {
		/* A multi-peer peer answers a frame for a channel it does not
		 * know with a reset to the frame's source port: one of our
		 * block (dpdk_wire_src_port()). Only resets are taken there. */
		uint32_t block = ~((1u << l->src_bits) - 1u);

		to_block = l->src_bits != 0 &&
			   (rte_be_to_cpu_16(udp->dst_port) & block) == (l->udp_port & block);
		if (!to_block) {
			l->st.rx_not_ours++;
			return;
		}
	}
	sport = rte_be_to_cpu_16(udp->src_port);
	ul = rte_be_to_cpu_16(udp->dgram_len);
	if (ul != tl - DPDK_WIRE_IP_LEN || tl < need - DPDK_WIRE_ETH_LEN) {
		l->st.rx_malformed++;
		return;
	}
	if (l4f == RTE_MBUF_F_RX_L4_CKSUM_GOOD || l4f == RTE_MBUF_F_RX_L4_CKSUM_BAD) {
		csum_ok = l4f == RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		/* A frame whose IPv4 header we summed counts as ours. */
		if (ipf == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
			l->st.rx_csum_offload++;
		else
			l->st.rx_csum_sw++;
	} else if (l->udp_csum_none && udp->dgram_cksum == 0) {
		/* A trusted link (the IPv4 header was summed above). */
		csum_ok = true;
	} else {
		csum_ok = udp->dgram_cksum != 0 &&
			  csum_fold(csum_mbuf(m, DPDK_WIRE_ETH_LEN + DPDK_WIRE_IP_LEN, ul, 0,
					      rte_ipv4_phdr_cksum(ip, 0))) == 0xffff;
		l->st.rx_csum_sw++;
	}
	hdr_from_wire(&h, p + DPDK_WIRE_HDRS);
	if (!csum_ok) {
		/* Blame the channel only if the header still names one. */
		l->st.rx_csum_drops++;
		if (h.magic == DPDK_WIRE_MAGIC && (c = port_chan(l, h.chan)) != NULL &&
		    chan_from(l, c, sip, sport))
			c->st.csum_drops++;
		return;
	}
	if (h.magic != DPDK_WIRE_MAGIC || h.version != DPDK_WIRE_VERSION ||
	    h.meta_len > BULK_META_MAX ||
	    (uint64_t)h.length + sizeof(h) + h.meta_len + DPDK_WIRE_UDP_LEN != ul) {
		l->st.rx_malformed++;
		return;
	}
	if (h.meta_len > 0 && DPDK_WIRE_HDRS + sizeof(h) + h.meta_len > RTE_MIN(m->pkt_len, (uint32_t)sizeof(hbuf))) {
		l->st.rx_malformed++;
		return;
	}
	if (to_block && h.type != DPDK_WT_RST) {
		l->st.rx_not_ours++;
		return;
	}
	switch (h.type) {
	case DPDK_WT_BIND_REQ: {
		struct dpdk_wire_bind b;

		if (h.length != sizeof(b)) {
			l->st.rx_malformed++;
			return;
		}
		memcpy(&b, rte_pktmbuf_read(m, need + h.meta_len, sizeof(b), &b), sizeof(b));
		dpdk_chan_rx_bind_req(l, frame_peer(l, sip, sport, eth, &tmp), &b);
		return;
	}
	case DPDK_WT_BIND_REPLY: {
		struct dpdk_wire_bind b;

		if (h.length != sizeof(b)) {
			l->st.rx_malformed++;
			return;
		}
		c = port_chan(l, h.chan);
		if (c == NULL) {
			l->st.rx_unknown_chan++;
			return;
		}
		if (!chan_from(l, c, sip, sport)) {
			l->st.rx_wrong_peer++;
			return;
		}
		memcpy(&b, rte_pktmbuf_read(m, need + h.meta_len, sizeof(b), &b), sizeof(b));
		dpdk_chan_rx_bind_reply(c, &b);
		return;
	}
	case DPDK_WT_RST: {
		bool other = false;

		/* Peers number their channels each on their own: the id is
		 * only that of the sender's channel. */
		for (unsigned i = 1; i < DPDK_MAX_CHANS; i++) {
			c = l->chans[i];
			if (c == NULL || c->peer_id != h.index || c->peer_id == 0)
				continue;
			if (!chan_from(l, c, sip, sport)) {
				other = true;
				continue;
			}
			dpdk_chan_rx_rst(c);
			return;
		}
		if (other)
			l->st.rx_wrong_peer++;
		else
			l->st.rx_unknown_chan++;
		return;
	}
	case DPDK_WT_ACK:
		break;
	default:
		if (h.type == 0 || h.type >= BULK_MSG_TYPE_MAX) {
			l->st.rx_malformed++;
			return;
		}
		break;
	}
	c = port_chan(l, h.chan);
	if (c != NULL && !chan_from(l, c, sip, sport)) {
		/* Another host's channel: not even a reset, which would be
		 * the other host's to act on. */
		l->st.rx_wrong_peer++;
		return;
	}
	if (c == NULL || c->mode == DPDK_LISTEN || c->mode == DPDK_BINDING) {
		l->st.rx_unknown_chan++;
		if (c == NULL)
			send_rst(l, frame_peer(l, sip, sport, eth, &tmp), h.chan);
		return;
	}
	dpdk_rel_rx(c, &h, p + need, m, need + h.meta_len, now);
}

unsigned
dpdk_port_rx(struct bulk_dpdk_port *l, unsigned budget)
{
	struct rte_mbuf *pkts[DPDK_RX_BURST];
	uint16_t n;
	/* One clock read per burst: every frame of it arrived "now". */
	uint64_t now = dpdk_now_us();

	l->rx_now_us = now;
	if (l->nunresolved > 0)
		arp_resolve(l, now);
	if (l->app_queue) {
		/* The application polls the queue and hands us our frames
		 * (bulk_dpdk_port_rx_burst()) before it polls the channels:
		 * whatever arrived was handled, so timers may trust silence. */
		l->rx_drained_us = now;
		if (bulk_unlikely(l->graves != NULL))
			dpdk_port_graves_sweep(l);
		return 0;
	}
	if (budget > DPDK_RX_BURST)
		budget = DPDK_RX_BURST;
	n = rte_eth_rx_burst(l->port_id, l->queue_id, pkts, (uint16_t)budget);
	/* Everything that had arrived is read: a timer may trust silence. */
	if (n < budget)
		l->rx_drained_us = now;
	for (uint16_t i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		port_rx_one(l, pkts[i], now);
	}
	/* Handled: back to their pool in one go (port_rx_one() keeps none). */
	if (n > 0)
		rte_pktmbuf_free_bulk(pkts, n);
	if (bulk_unlikely(l->graves != NULL))
		dpdk_port_graves_sweep(l);
	return n;
}

bool
dpdk_port_rx_frame(struct bulk_dpdk_port *l, struct rte_mbuf *m, uint64_t now)
{
	/* port_rx_one() counts rx_not_ours on every path that finds a frame
	 * not ours (and only there): what the bridge gives back. */
	uint64_t not_ours = l->st.rx_not_ours;

	port_rx_one(l, m, now);
	return l->st.rx_not_ours == not_ours;
}

/* ------------------------------------------------------------ set-up */

#define DPDK_TX_CSUM_OFFLOADS (RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM)
#define DPDK_RX_CSUM_OFFLOADS (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM)

/*
 * Checksums by the port or by us, per direction (params.csum_offload),
 * before port_configure() enables what we chose. On the application's port
 * only the offloads it enabled count: a frame marked for an offload the
 * queue was not set up for leaves as it is, with wrong checksums, and a
 * queue without receive offloads reports nothing.
 */
static int
port_csum_choose(struct bulk_dpdk_port *l, const struct bulk_dpdk_port_params *pp,
		 const struct rte_eth_dev_info *info)
{
	bool tx = (info->tx_offload_capa & DPDK_TX_CSUM_OFFLOADS) == DPDK_TX_CSUM_OFFLOADS;
	bool rx = (info->rx_offload_capa & DPDK_RX_CSUM_OFFLOADS) == DPDK_RX_CSUM_OFFLOADS;

	l->tx_csum_off = false;
	l->rx_csum_off = false;
	l->udp_csum_none = false;
	switch (pp->csum_offload) {
	case BULK_DPDK_CSUM_SOFTWARE:
		return 0;
	case BULK_DPDK_CSUM_TRUSTED_LINK:
		l->udp_csum_none = true;
		return 0;
	case BULK_DPDK_CSUM_OFFLOAD:
		/* With configure we enable them; otherwise the application
		 * says it did. */
		if (!tx || !rx)
			return -ENOTSUP;
		break;
	default: /* BULK_DPDK_CSUM_AUTO (other values were refused) */
		/* Shared memory between two processes of this host cannot
		 * flip a bit: summing every payload twice bought nothing. */
		if (info->driver_name != NULL && strstr(info->driver_name, "memif") != NULL) {
			l->udp_csum_none = true;
			return 0;
		}
		if (!pp->configure) {
			struct rte_eth_conf dc;
			struct rte_eth_txq_info tq;
			struct rte_eth_rxq_info rq;
			uint64_t txon = 0, rxon = 0;

			if (rte_eth_dev_conf_get(l->port_id, &dc) == 0) {
				txon = dc.txmode.offloads;
				rxon = dc.rxmode.offloads;
			}
			/* Queue-level offloads, where the driver reports them. */
			if (rte_eth_tx_queue_info_get(l->port_id, l->queue_id, &tq) == 0)
				txon |= tq.conf.offloads;
			if (rte_eth_rx_queue_info_get(l->port_id, l->queue_id, &rq) == 0)
				rxon |= rq.conf.offloads;
			tx = tx && (txon & DPDK_TX_CSUM_OFFLOADS) == DPDK_TX_CSUM_OFFLOADS;
			rx = rx && (rxon & DPDK_RX_CSUM_OFFLOADS) == DPDK_RX_CSUM_OFFLOADS;
		}
		break;
	}
	l->tx_csum_off = tx;
	l->rx_csum_off = rx;
	return 0;
}

static int
port_configure(struct bulk_dpdk_port *l, const struct rte_eth_dev_info *info)
{
	struct rte_eth_conf conf;
	int rc;

	memset(&conf, 0, sizeof(conf));
	if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	if (l->tx_csum_off)
		conf.txmode.offloads |= DPDK_TX_CSUM_OFFLOADS;
	if (l->rx_csum_off)
		conf.rxmode.offloads |= DPDK_RX_CSUM_OFFLOADS;
	rc = rte_eth_dev_configure(l->port_id, 1, 1, &conf);
	if (rc < 0)
		return rc;
	uint16_t nrx = DPDK_RX_DESC, ntx = DPDK_RX_DESC;

	if (rte_eth_dev_adjust_nb_rx_tx_desc(l->port_id, &nrx, &ntx) < 0) {
		nrx = 1024;
		ntx = 1024;
	}
	rc = rte_eth_rx_queue_setup(l->port_id, 0, nrx, (unsigned)rte_eth_dev_socket_id(l->port_id),
				    NULL, l->rx_pool);
	if (rc < 0)
		return rc;
	rc = rte_eth_tx_queue_setup(l->port_id, 0, ntx, (unsigned)rte_eth_dev_socket_id(l->port_id),
				    NULL);
	if (rc < 0)
		return rc;
	rc = rte_eth_dev_start(l->port_id);
	if (rc < 0)
		return rc;
	rte_eth_promiscuous_enable(l->port_id);
	l->started = true;
	return 0;
}

static void
port_free(struct bulk_dpdk_port *l)
{
	if (l->started) {
		rte_eth_dev_stop(l->port_id);
		l->started = false;
	}
	for (unsigned i = 0; i < l->ntxb; i++)
		rte_pktmbuf_free(l->txb[i]);
	l->ntxb = 0;
	/*
	 * Frames may still sit in a peer's receive ring (net_ring hands over
	 * the mbufs themselves): what they point into stays allocated, freed
	 * at exit with EAL's memory, rather than freed under them.
	 */
	dpdk_port_graves_sweep(l);
	if (l->graves != NULL) {
		struct dpdk_grave *g = l->graves;

		while (g->next != NULL)
			g = g->next;
		pthread_mutex_lock(&reg_lock);
		g->next = orphan_graves;
		orphan_graves = l->graves;
		pthread_mutex_unlock(&reg_lock);
		l->graves = NULL;
		l->ext_pool = NULL; /* their mbufs came from it */
	}
	if (l->own_hdr_pool && l->hdr_pool != NULL && rte_mempool_in_use_count(l->hdr_pool) == 0)
		rte_mempool_free(l->hdr_pool);
	if (l->ext_pool != NULL && rte_mempool_in_use_count(l->ext_pool) == 0)
		rte_mempool_free(l->ext_pool);
	/* Whole frames, like the header pool's, may sit in a peer's ring. */
	if (l->copy_pool != NULL && rte_mempool_in_use_count(l->copy_pool) == 0)
		rte_mempool_free(l->copy_pool);
	if (l->own_rx_pool && rte_mempool_in_use_count(l->rx_pool) == 0)
		rte_mempool_free(l->rx_pool);
	bulk_free(l->peers);
	bulk_free(l);
}

/*
 * On net_af_xdp under libbulk's XDP program (xdp/bulk_xdp.bpf.c), the
 * program sends to the socket only frames to the addresses and UDP ports
 * that ports put in its map, and leaves the rest to the kernel: hold our
 * address while the port is open. Under the PMD's default program, or on
 * any other port, there is nothing to tell. Called with reg_lock held: the
 * counts in the map are read, then written.
 */
static int
port_xdp_filter(const struct bulk_dpdk_port *l, bool hold)
{
	struct rte_eth_dev_info info;

	if (rte_eth_dev_info_get(l->port_id, &info) < 0 || info.driver_name == NULL ||
	    strstr(info.driver_name, "af_xdp") == NULL || info.if_index == 0)
		return 0;
	return hold ? dpdk_xdp_addr_hold(info.if_index, l->local_ip, l->udp_port)
		    : dpdk_xdp_addr_drop(info.if_index, l->local_ip, l->udp_port);
}

int
bulk_dpdk_port_open(struct bulk_domain *d, const struct bulk_dpdk_port_params *pp,
		    struct bulk_dpdk_port **out)
{
	struct rte_eth_dev_info info;
	struct bulk_dpdk_port *l;
	char name[RTE_MEMPOOL_NAMESIZE];
	uint16_t mtu = 0;
	unsigned seq, hdr_room;
	int rc;

	if (d == NULL || pp == NULL || out == NULL || pp->local_ip == 0 ||
	    pp->local_ip == pp->peer_ip)
		return -EINVAL;
	/* peer_ip 0: any peer. A MAC then would belong to nobody. */
	if (pp->peer_ip == 0 &&
	    (!rte_is_zero_ether_addr((const struct rte_ether_addr *)pp->peer_mac) ||
	     pp->max_peers > BULK_DPDK_MAX_PEERS_LIMIT))
		return -EINVAL;
	if (pp->window != 0 &&
	    (pp->window < 64 || pp->window > 65536 || (pp->window & (pp->window - 1)) != 0))
		return -EINVAL;
	if ((unsigned)pp->csum_offload > (unsigned)BULK_DPDK_CSUM_TRUSTED_LINK)
		return -EINVAL;
	if (pp->udp_src_ports > BULK_DPDK_UDP_SRC_PORTS_MAX ||
	    (pp->udp_src_ports & (pp->udp_src_ports - 1)) != 0)
		return -EINVAL;
	if (!rte_eth_dev_is_valid_port(pp->port_id))
		return -ENODEV;
	rc = rte_eth_dev_info_get(pp->port_id, &info);
	if (rc < 0)
		return rc;
	if (pp->configure ? pp->queue_id != 0
			  : (pp->queue_id >= info.nb_rx_queues || pp->queue_id >= info.nb_tx_queues))
		return -EINVAL;
	pthread_mutex_lock(&reg_lock);
	for (l = ports; l != NULL; l = l->next)
		if (l->port_id == pp->port_id && l->queue_id == pp->queue_id) {
			pthread_mutex_unlock(&reg_lock);
			return -EEXIST;
		}
	seq = pool_seq++;
	pthread_mutex_unlock(&reg_lock);

	l = bulk_zalloc(sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	l->dom = d;
	/* Ids differ across restarts: a stream of our previous life must not
	 * land in a new channel with the same slot. */
	l->id_gen = (uint32_t)rte_rand();
	l->port_id = pp->port_id;
	l->queue_id = pp->queue_id;
	l->local_ip = pp->local_ip;
	l->peer_ip = pp->peer_ip;
	l->multi = pp->peer_ip == 0;
	l->udp_port = pp->udp_port ? pp->udp_port : BULK_DPDK_UDP_PORT;
	for (unsigned n = pp->udp_src_ports ? pp->udp_src_ports : BULK_DPDK_UDP_SRC_PORTS; n > 1;
	     n >>= 1)
		l->src_bits++;
	l->window = pp->window ? pp->window : BULK_DPDK_WINDOW;
	l->peer_timeout_us = (pp->peer_timeout_ms ? pp->peer_timeout_ms : BULK_DPDK_PEER_TIMEOUT_MS) * 1000u;
	rte_eth_macaddr_get(pp->port_id, &l->local_mac);
	l->max_peers = !l->multi ? 1 : pp->max_peers ? pp->max_peers : BULK_DPDK_MAX_PEERS;
	l->peers = bulk_zalloc(sizeof(*l->peers) * l->max_peers);
	if (l->peers == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	if (!l->multi) {
		/* The one peer, for the port's whole life: it sends to our UDP
		 * port from the same port number. */
		struct dpdk_peer *p = &l->peers[0];

		p->ip = pp->peer_ip;
		p->udp_port = l->udp_port;
		memcpy(&p->mac, pp->peer_mac, sizeof(p->mac));
		p->mac_known = !rte_is_zero_ether_addr(&p->mac);
		l->npeers = 1;
		l->nunresolved = p->mac_known ? 0 : 1;
	}
	if (rte_eth_dev_get_mtu(pp->port_id, &mtu) < 0 || mtu == 0)
		mtu = RTE_ETHER_MTU;
	if (pp->mtu != 0) {
		/* Several vdevs (memif, af_packet) refuse an ethdev MTU above
		 * 1500 yet pass larger frames: the caller's MTU stands. */
		if (pp->configure && pp->mtu != mtu)
			(void)rte_eth_dev_set_mtu(pp->port_id, pp->mtu);
		mtu = pp->mtu;
	}
	if (mtu < DPDK_WIRE_IP_OVERHEAD + BULK_META_MAX + 64) {
		rc = -EINVAL;
		goto fail;
	}
	l->mtu = mtu;
	rc = port_csum_choose(l, pp, &info);
	if (rc < 0)
		goto fail;
	switch (pp->tx_mode) {
	case BULK_DPDK_TX_ZERO_COPY:
		l->tx_zc = true;
		break;
	case BULK_DPDK_TX_COPY:
		l->tx_zc = false;
		break;
	default:
		/* net_ring hands the mbuf itself to the other port: chains are fine. */
		l->tx_zc = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) ||
			   (info.driver_name != NULL && strstr(info.driver_name, "ring") != NULL);
		if (l->tx_zc && !pp->configure) {
			/* The application set the port up: chains only if it
			 * enabled them (net_ring needs nothing). */
			struct rte_eth_conf dc;

			if (rte_eth_dev_conf_get(pp->port_id, &dc) == 0 &&
			    !(dc.txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) &&
			    (info.driver_name == NULL || strstr(info.driver_name, "ring") == NULL))
				l->tx_zc = false;
		}
		break;
	}
	/* Zero copy: headers, meta and the largest frame without payload (an
	 * ACK with every NAK). Copy: the whole frame. */
	hdr_room = RTE_PKTMBUF_HEADROOM +
		   (l->tx_zc ? DPDK_HDR_ROOM : (unsigned)mtu + DPDK_WIRE_ETH_LEN + 64u);
	/* Queue mode, tx_fn, and the application's pool for headers. */
	rc = dpdk_bridge_open(l, pp, hdr_room);
	if (rc < 0)
		goto fail;
	if (l->hdr_pool == NULL) {
		snprintf(name, sizeof(name), "bulk_h%u_%u", seq, (unsigned)pp->port_id);
		l->hdr_pool = rte_pktmbuf_pool_create(name, MBUFS_PER_POOL, 256, 0,
						      (uint16_t)hdr_room,
						      rte_eth_dev_socket_id(pp->port_id));
		l->own_hdr_pool = true;
	}
	snprintf(name, sizeof(name), "bulk_x%u_%u", seq, (unsigned)pp->port_id);
	l->ext_pool = rte_pktmbuf_pool_create(name, MBUFS_PER_POOL, 256, 0, 0,
					      rte_eth_dev_socket_id(pp->port_id));
	if (l->hdr_pool == NULL || l->ext_pool == NULL) {
		rc = rte_errno > 0 ? -rte_errno : -ENOMEM;
		goto fail;
	}
	if (pp->configure) {
		l->rx_pool = pp->mbuf_pool;
		if (l->rx_pool == NULL) {
			/* af_xdp receives into the pool itself, behind 256 bytes
			 * of XDP headroom, and its objects must fit a page. */
			unsigned room = RTE_PKTMBUF_HEADROOM +
					RTE_MAX(2048u, (unsigned)mtu + DPDK_WIRE_ETH_LEN + 256u + 32u);

			if (info.driver_name != NULL && strstr(info.driver_name, "af_xdp") != NULL &&
			    room > 3840u)
				room = 3840u;
			snprintf(name, sizeof(name), "bulk_r%u_%u", seq, (unsigned)pp->port_id);
			l->rx_pool = rte_pktmbuf_pool_create(name, MBUFS_PER_POOL, 256, 0,
							     (uint16_t)room,
							     rte_eth_dev_socket_id(pp->port_id));
			if (l->rx_pool == NULL) {
				rc = rte_errno > 0 ? -rte_errno : -ENOMEM;
				goto fail;
			}
			l->own_rx_pool = true;
		}
		rc = port_configure(l, &info);
		if (rc < 0)
			goto fail;
	}
	{
		/* What the peer may have in flight towards us: no more than our
		 * receive ring holds, or the ring overflows (silently, on most
		 * vdevs) whenever the sender is faster than our poll. */
		struct rte_eth_rxq_info qi;

		l->rx_desc = rte_eth_rx_queue_info_get(l->port_id, l->queue_id, &qi) == 0 &&
					     qi.nb_desc >= 64
				     ? qi.nb_desc
				     : 1024;
		port_share(l);
	}
	pthread_mutex_lock(&reg_lock);
	rc = port_xdp_filter(l, true);
	if (rc < 0) {
		pthread_mutex_unlock(&reg_lock);
		goto fail;
	}
	l->next = ports;
	ports = l;
	pthread_mutex_unlock(&reg_lock);
	*out = l;
	return 0;
fail:
	port_free(l);
	return rc;
}

int
bulk_dpdk_port_close(struct bulk_dpdk_port *l)
{
	if (l == NULL)
		return -EINVAL;
	if (l->nchans > 0 || dpdk_bridge_close(l) < 0)
		return -EBUSY;
	pthread_mutex_lock(&reg_lock);
	for (struct dpdk_chan *c = listeners; c != NULL; c = c->lnext)
		if (c->req_pending && c->req_port == l)
			c->req_pending = false; /* the binder will find nobody */
	for (struct bulk_dpdk_port **pp = &ports; *pp != NULL; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	(void)port_xdp_filter(l, false);
	pthread_mutex_unlock(&reg_lock);
	/* Last words (acks, resets) go out in either queue mode. */
	dpdk_port_tx_out(l);
	port_free(l);
	return 0;
}

int
bulk_dpdk_port_poll(struct bulk_dpdk_port *l, unsigned budget)
{
	unsigned n;

	if (l == NULL)
		return -EINVAL;
	n = dpdk_port_rx(l, budget ? budget : DPDK_RX_BURST);
	dpdk_port_flush(l);
	return (int)n;
}

int
bulk_dpdk_port_stats_get(const struct bulk_dpdk_port *l, struct bulk_dpdk_port_stats *st)
{
	if (l == NULL || st == NULL)
		return -EINVAL;
	*st = l->st;
	st->peers = l->npeers;
	st->buffers_lent = __atomic_load_n(&l->lent, __ATOMIC_RELAXED);
	st->csum_offloaded = (l->tx_csum_off ? BULK_DPDK_CSUM_OFFLOADED_TX : 0) |
			     (l->rx_csum_off ? BULK_DPDK_CSUM_OFFLOADED_RX : 0) |
			     (l->udp_csum_none ? BULK_DPDK_CSUM_UDP_NONE : 0);
	return 0;
}
