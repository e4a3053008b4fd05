/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mbuf bridge: a libbulk port on a queue the application owns.
 *
 * The application polls its queue and hands each burst over
 * (bulk_dpdk_port_rx_burst()); the port dispatches its own frames exactly
 * as if it had received them (dpdk_port_rx_frame()) and gives the others
 * back in order. dpdk_port_rx() then never touches the queue (the port's
 * app_queue flag), and frames to send wait in the port's batch until
 * bulk_dpdk_port_flush() or go out through the application's tx_fn
 * (dpdk_port_flush(), dpdk_port_tx_out() in dpdk_port.c).
 *
 * bulk_dpdk_buffer_to_mbuf() lends a buffer as a chain of external-buffer
 * mbufs sharing one rte_mbuf_ext_shared_info, which lives in a loan record
 * from a per-port mempool (no allocation per loan). The chain's last free,
 * in whatever thread the application or a driver frees it, runs
 * lend_free(): the application's callback, then the record goes back and
 * the loan count drops.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>

#include "dpdk_internal.h"

/* Bytes per mbuf of a lent chain: buf_len is 16 bits. */
#define BRIDGE_SEG_MAX 32768u

/* One loan: the chain's shared info and whom to tell when it ends. */
struct dpdk_lend {
	struct rte_mbuf_ext_shared_info shinfo;
	struct bulk_dpdk_port *port;
	struct bulk_buffer *buf;
	bulk_dpdk_mbuf_free_fn fn;
	void *arg;
};

int
dpdk_bridge_open(struct bulk_dpdk_port *l, const struct bulk_dpdk_port_params *pp,
		 unsigned hdr_room)
{
	if ((unsigned)pp->queue_mode > (unsigned)BULK_DPDK_QUEUE_APP)
		return -EINVAL;
	/* The application's queue is set up by the application. */
	if (pp->queue_mode == BULK_DPDK_QUEUE_APP && pp->configure)
		return -EINVAL;
	if (pp->tx_fn != NULL && pp->queue_mode != BULK_DPDK_QUEUE_APP)
		return -EINVAL;
	l->app_queue = pp->queue_mode == BULK_DPDK_QUEUE_APP;
	l->tx_fn = pp->tx_fn;
	l->tx_arg = pp->tx_arg;
	/* The application's pool for our headers where a header fits. */
	if (pp->mbuf_pool != NULL && rte_pktmbuf_data_room_size(pp->mbuf_pool) >= hdr_room)
		l->hdr_pool = pp->mbuf_pool;
	return 0;
}

int
dpdk_bridge_close(struct bulk_dpdk_port *l)
{
	/* Pairs with the release in lend_free(): the record is back. */
	if (__atomic_load_n(&l->lent, __ATOMIC_ACQUIRE) != 0)
		return -EBUSY;
	if (l->lend_pool != NULL) {
		rte_mempool_free(l->lend_pool);
		l->lend_pool = NULL;
	}
	return 0;
}

/* An ARP frame that is not about our address: the application's too. */
static bool
bridge_arp_other(const struct bulk_dpdk_port *l, const struct rte_mbuf *m)
{
	struct rte_ether_hdr ebuf;
	struct rte_arp_hdr abuf;
	const struct rte_ether_hdr *eth;
	const struct rte_arp_hdr *a;

	eth = rte_pktmbuf_read(m, 0, sizeof(ebuf), &ebuf);
	if (eth == NULL || eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
		return false;
	a = rte_pktmbuf_read(m, sizeof(ebuf), sizeof(abuf), &abuf);
	return a != NULL && rte_be_to_cpu_32(a->arp_data.arp_tip) != l->local_ip;
}

int
bulk_dpdk_port_rx_burst(struct bulk_dpdk_port *l, struct rte_mbuf **pkts, uint16_t n,
			struct rte_mbuf **others)
{
	uint64_t now;
	uint16_t k = 0;

	if (l == NULL || (n > 0 && (pkts == NULL || others == NULL)))
		return -EINVAL;
	/* One clock read per burst, as dpdk_port_rx(). */
	now = dpdk_now_us();
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		/* others may be pkts: k <= i, and pkts[i] is read already. */
		if (dpdk_port_rx_frame(l, m, now) && !bridge_arp_other(l, m)) {
			rte_pktmbuf_free(m);
		} else {
			others[k++] = m;
			l->st.rx_handed_back++;
		}
	}
	if (bulk_unlikely(l->graves != NULL))
		dpdk_port_graves_sweep(l);
	return k;
}

int
bulk_dpdk_port_flush(struct bulk_dpdk_port *l)
{
	if (l == NULL)
		return -EINVAL;
	dpdk_port_tx_out(l);
	return (int)l->ntxb;
}

/* ------------------------------------------------------------ lending */

/* Runs where the chain's last mbuf is freed: any thread. */
static void
lend_free(void *addr, void *opaque)
{
	struct dpdk_lend *ln = opaque;
	struct bulk_dpdk_port *l = ln->port;

	(void)addr;
	ln->fn(ln->arg, ln->buf);
	rte_mempool_put(l->lend_pool, ln);
	/* Pairs with the acquire in dpdk_bridge_close(): the record is back
	 * before the port may free the pool. */
	__atomic_fetch_sub(&l->lent, 1, __ATOMIC_RELEASE);
}

static int
lend_pool_make(struct bulk_dpdk_port *l)
{
	static uint32_t seq;
	char name[RTE_MEMPOOL_NAMESIZE];

	snprintf(name, sizeof(name), "bulk_l%u_%u", __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED),
		 (unsigned)l->port_id);
	/* No per-lcore cache: records come back in any thread, EAL's or not. */
	l->lend_pool = rte_mempool_create(name, BULK_DPDK_MAX_LENT, sizeof(struct dpdk_lend), 0, 0,
					  NULL, NULL, NULL, NULL, rte_eth_dev_socket_id(l->port_id),
					  0);
	return l->lend_pool != NULL ? 0 : -ENOMEM;
}

int
bulk_dpdk_buffer_to_mbuf(struct bulk_dpdk_port *l, struct bulk_buffer *buf, uint32_t off,
			 uint32_t len, bulk_dpdk_mbuf_free_fn free_cb, void *arg,
			 struct rte_mbuf **out)
{
	struct rte_mbuf *head = NULL, **tail = &head, *m;
	struct dpdk_lend *ln;
	rte_iova_t iova;
	uint8_t *base;
	uint32_t nseg = 0, o;

	if (l == NULL || buf == NULL || free_cb == NULL || out == NULL || len == 0 ||
	    buf->pool == NULL || off > bulk_pool_buffer_size(buf->pool) ||
	    len > bulk_pool_buffer_size(buf->pool) - off)
		return -EINVAL;
	if (bulk_pool_domain(buf->pool) != l->dom)
		return -BULK_E_WRONG_DOMAIN;
	if (buf->flags & BULK_BUF_F_FREE)
		return -BULK_E_BUFFER_FREE;
	if (buf->state != BULK_BUFFER_READ_WRITE)
		return -BULK_E_NOT_OWNER;
	base = (uint8_t *)buf->addr + off;
	/* Segments of at most BRIDGE_SEG_MAX bytes, split where the IOVA of
	 * the next page does not follow (dpdk_dma_seg(), as zero-copy frames). */
	for (o = 0; o < len; nseg++) {
		uint32_t sl = dpdk_dma_seg(NULL, base + o, len - o, BRIDGE_SEG_MAX, &iova);

		if (sl == 0)
			return -EFAULT; /* a page without an IOVA */
		o += sl;
	}
	if (nseg > UINT16_MAX)
		return -EINVAL;
	if (l->lend_pool == NULL && lend_pool_make(l) < 0)
		return -ENOMEM;
	/* Every mbuf first, unattached: a failure frees plain mbufs. */
	for (uint32_t i = 0; i < nseg; i++) {
		m = rte_pktmbuf_alloc(l->ext_pool);
		if (m == NULL) {
			rte_pktmbuf_free(head);
			return -ENOMEM;
		}
		*tail = m;
		tail = &m->next;
	}
	if (rte_mempool_get(l->lend_pool, (void **)&ln) < 0) {
		rte_pktmbuf_free(head);
		return -ENOMEM;
	}
	ln->port = l;
	ln->buf = buf;
	ln->fn = free_cb;
	ln->arg = arg;
	ln->shinfo.free_cb = lend_free;
	ln->shinfo.fcb_opaque = ln;
	rte_mbuf_ext_refcnt_set(&ln->shinfo, (uint16_t)nseg);
	__atomic_fetch_add(&l->lent, 1, __ATOMIC_RELAXED);
	o = 0;
	for (m = head; m != NULL; m = m->next) {
		uint8_t *va = base + o;
		uint32_t sl = dpdk_dma_seg(NULL, va, len - o, BRIDGE_SEG_MAX, &iova);

		rte_pktmbuf_attach_extbuf(m, va, iova, (uint16_t)sl, &ln->shinfo);
		m->data_len = (uint16_t)sl;
		m->pkt_len = sl;
		o += sl;
	}
	head->pkt_len = len;
	head->nb_segs = (uint16_t)nseg;
	*out = head;
	return 0;
}
