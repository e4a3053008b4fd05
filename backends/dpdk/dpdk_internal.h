/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK backend internals: the port (struct bulk_dpdk_port: an ethdev port
 * and queue, our IP, its peers), the channel with its two half streams, and
 * the functions the files share.
 *
 *   dpdk_port.c   EAL, port set-up, the peer table, ARP, frame building and
 *                 parsing, rx demux
 *   dpdk_chan.c   the ops table: create, bind handshake, tx_burst/tx_ctrl, poll
 *   dpdk_rel.c    reliability: segmentation, window, acks/NAKs, RTO, cwnd,
 *                 reassembly in place and in-order delivery
 *   dpdk_dma.c    DMA-able pools: the registry of pool memory mapped for the
 *                 ports' devices, zero-copy segments and their IOVAs
 *   dpdk_pool.c   pools in DPDK's own memory (bulk_dpdk_pool_alloc())
 *
 * Everything of a port runs in its domain's thread, except the external
 * buffer free callback, which runs wherever the driver frees the mbuf.
 */
#ifndef BULK_DPDK_INTERNAL_H
#define BULK_DPDK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <bulk/bulk_dpdk.h>

#include "bulk_backend.h"
#include "dpdk_wire.h"

#define DPDK_MAX_CHANS 1024u     /* channels per port (index part of an id) */
#define DPDK_ID_BITS 10u
#define DPDK_TX_BATCH 64u        /* frames gathered before rte_eth_tx_burst */
#define DPDK_RX_BURST 32u
#define DPDK_RX_DESC 2048u        /* descriptors per queue when we configure the port */
#define DPDK_MIN_CWND 8u
#define DPDK_INIT_CWND 64u
/* The RTO is the last resort (tail probes and NAKs repair losses): its
 * floor stays above what a busy host's scheduler delays a peer by, since
 * queueing delay is not loss (dpdk_rel.c, timers()). */
#define DPDK_RTO_MIN_US 100000u
#define DPDK_RTO_MAX_US 1000000u
#define DPDK_RTO_INIT_US 100000u
#define DPDK_PROBE_MIN_US 500u    /* a tail probe waits at least this */
#define DPDK_PROBE_BACKOFF 8u     /* unanswered probes double the wait up to 2^this */
#define DPDK_WPROBE_MIN_US 5000u  /* a closed window is asked about at most this often */
#define DPDK_REORDER_FRAMES 3u   /* a gap this far below the highest seq is a loss */
#define DPDK_BIND_RETRY_US 20000u
/* Header mbuf data room in zero-copy mode: an ACK with every NAK fits. */
#define DPDK_HDR_ROOM 512u

static_assert(DPDK_HDR_ROOM >= DPDK_WIRE_HDRS + sizeof(struct dpdk_wire_hdr) +
			      DPDK_WIRE_MAX_NAKS * sizeof(struct dpdk_wire_nak),
	      "an ACK with every NAK fits a header mbuf");
static_assert(DPDK_HDR_ROOM >= DPDK_WIRE_HDRS + sizeof(struct dpdk_wire_hdr) + BULK_META_MAX +
			      sizeof(struct dpdk_wire_ctrl) + sizeof(struct dpdk_wire_bind),
	      "headers, meta and any control payload fit a header mbuf");
/* A peer stays in the table only while one of its channels holds a slot. */
static_assert(BULK_DPDK_MAX_PEERS_LIMIT < DPDK_MAX_CHANS, "every peer can hold a channel");
static_assert(BULK_DPDK_UDP_SRC_PORTS_MAX == 1u << DPDK_WIRE_SRC_BITS_MAX, "src_bits fit the wire");
static_assert(BULK_DPDK_MAX_PEERS <= BULK_DPDK_MAX_PEERS_LIMIT, "the default is allowed");

extern const struct bulk_backend_ops dpdk_ops;

struct dpdk_dma_region;

/* One message on the send side: a buffer (split into frames) or a control. */
struct dpdk_txmsg {
	uint8_t type;
	uint8_t done;              /* acknowledged and no mbuf refers to it any more */
	uint16_t slot;
	uint32_t index;
	uint32_t len;              /* payload bytes (data messages) */
	uint8_t *data;             /* the buffer (data messages) */
	uint32_t first_seq;
	uint32_t nframes;
	uint32_t sent;             /* frames handed out so far (first pass) */
	bool acked;
	bool zc;                   /* the shinfo holds our reference */
	struct rte_mbuf_ext_shared_info shinfo;
	struct dpdk_wire_ctrl ctrl;
	uint8_t meta[BULK_META_MAX];
	/* Its pool's DMA region (zero copy), or NULL: copied. */
	const struct dpdk_dma_region *dma;
};

/* One frame in flight on the send side, by sequence number. */
struct dpdk_txfrm {
	uint32_t msg;              /* index into msgs (free-running) */
	uint32_t off;
	uint32_t len;
	uint16_t ntx;
	uint64_t tx_us;
};

/* One frame of the receive window. */
struct dpdk_rxfrm {
	uint8_t got;
	uint8_t bad;
	uint8_t type;
	uint8_t flags;
	uint16_t slot;
	uint32_t index;
	uint32_t total;
	struct dpdk_wire_ctrl ctrl;
};

enum dpdk_mode {
	DPDK_LISTEN = 0,   /* creator waiting for a binder */
	DPDK_BINDING,      /* binder waiting for the creator's answer */
	DPDK_OPEN,
	DPDK_DEAD,         /* closed: acks what arrives, sends nothing new */
};


/* A control message that found the message ring full. */
struct dpdk_ovf {
	uint8_t type;
	uint16_t slot;
	uint32_t index;
	struct dpdk_wire_ctrl ctrl;
};

struct dpdk_ep {
	struct bulk_endpoint ep;
	uint16_t ep_id;
	struct bulk_dpdk_port *via;    /* remote endpoint: over this port; NULL: ours */
	uint32_t peer_ip;              /* remote: the peer (host order); 0: the port's fixed peer */
	uint16_t peer_udp;             /* remote: the peer's UDP port; 0: the port's own */
};

/*
 * A peer of a port: where its frames come from and ours go. A port with a
 * fixed peer has exactly one, for its whole life; a multi-peer port takes
 * an entry with a peer's first channel and frees it with its last, so a
 * host that binds nothing occupies nothing.
 */
struct dpdk_peer {
	uint32_t ip;               /* host order; 0: a free entry */
	uint16_t udp_port;         /* its UDP port: our frames' destination port */
	bool mac_known;
	struct rte_ether_addr mac;
	uint32_t nchans;           /* channels of the port bound to it */
	uint64_t arp_next_us;      /* next ARP request while the MAC is unknown */
	/* No liveness here: silence is judged per channel (dpdk_rel.c), and
	 * every channel has exactly one peer. */
};

struct dpdk_chan {
	struct bulk_channel ch;    /* first: the core's part */
	struct bulk_dpdk_port *port; /* NULL while a creator listens */
	struct dpdk_peer *peer;    /* the one peer of this channel, while on a port */
	struct dpdk_chan *lnext;   /* list of listening creators */
	uint32_t id;
	uint32_t peer_id;
	uint16_t ep_id;
	uint8_t mode;              /* enum dpdk_mode */
	uint32_t nonce;
	uint32_t W;                /* window, frames (power of two) */
	uint32_t mss;              /* payload bytes per data frame */
	uint16_t peer_mtu;         /* the peer's IP MTU (bind exchange); frames fit both */
	uint16_t sport;            /* UDP source port of our stream frames (dpdk_wire_src_port()) */
	uint16_t peer_sport;       /* the peer's, for this channel (bind exchange) */
	bool teardown_queued;      /* our TEARDOWN is in the message ring */
	uint32_t teardown_msg;     /* its message index */
	uint64_t cleanup_us;       /* last rte_eth_tx_done_cleanup() */

	/* Bind: creator's stashed request, binder's pending answer. */
	bool req_pending;
	struct dpdk_wire_bind req;
	struct bulk_dpdk_port *req_port;
	struct dpdk_peer req_src;      /* where the request came from (a copy) */
	struct dpdk_wire_bind reply;   /* creator: what we answered (resent on dups) */
	bool reply_pending;
	bool bind_sent;            /* a request went out (the peer's MAC was known) */
	uint64_t bind_next_us, bind_deadline_us, bind_backoff_us;

	/* Send side. */
	struct dpdk_txmsg *msgs;
	uint32_t msg_cap;          /* power of two */
	uint32_t msg_head;         /* oldest not yet complete */
	uint32_t msg_acked;        /* oldest not yet acknowledged */
	uint32_t msg_next;         /* next to (finish) segmenting */
	uint32_t msg_tail;         /* next free */
	uint64_t msgs_done;        /* completed, for bulk_core_tx_complete() */
	struct dpdk_ovf *ovf;      /* control messages waiting for a msg slot */
	uint32_t novf, ovf_cap;
	struct dpdk_txfrm *sw;
	uint32_t snd_una, snd_nxt;
	uint32_t peer_hi;          /* peer's highest received + 1 */
	uint32_t peer_wnd;         /* frames the peer accepts beyond snd_una */
	uint32_t cwnd, ssthresh, cwnd_acc;
	uint64_t epoch_us;
	uint32_t epoch_sent, epoch_lost;
	uint32_t srtt_us, rttvar_us, rto_us, rto_base_us;
	uint64_t rto_at_us;        /* the retransmission timer */
	bool rto_asked;            /* it expired and a probe asked (no progress since) */
	uint64_t rto_ask_us;       /* when that probe went out */
	uint32_t retx_max;         /* highest sequence sent again */
	bool retx_any;
	uint8_t probes;            /* tail probes sent since the last progress */
	uint64_t probe_us;         /* when the last one went out */
	uint64_t last_tx_us;

	/* Receive side. */
	struct dpdk_rxfrm *rw;
	uint8_t *rw_meta;          /* W * BULK_META_MAX */
	uint32_t rcv_del;          /* next frame to deliver */
	uint32_t rcv_nxt;          /* next frame not yet received (cumulative ack) */
	uint32_t rcv_hi;           /* highest received + 1 */
	bool msg_bad;              /* a frame of the message being delivered was bad */
	bool ack_due;
	bool ack_now;
	bool rst_teardown;         /* the peer reset our teardown: it is done */
	uint32_t rx_since_ack;
	uint32_t last_adv;         /* receive window we offered last, frames */
	uint64_t last_rx_us;
	uint64_t last_ack_us;
	uint32_t peer_timeout_us;

	int gone_reason;           /* nonzero: peer gone, to report in our poll */
	struct bulk_dpdk_chan_stats st;

	/* DMA-able pools (dpdk_dma.c): the region each slot's pool holds, in
	 * step with the core's slots (dma_pool: the pool it was made for). */
	struct dpdk_dma_region *dma[BULK_CHANNEL_MAX_POOLS];
	const struct bulk_pool *dma_pool[BULK_CHANNEL_MAX_POOLS];
};

struct bulk_dpdk_port {
	struct bulk_domain *dom;
	struct bulk_dpdk_port *next;   /* all ports of the process */
	uint16_t port_id, queue_id;
	uint32_t local_ip;             /* host order */
	uint32_t peer_ip;              /* the fixed peer (peers[0].ip); 0: a multi-peer port */
	struct rte_ether_addr local_mac;
	bool multi;                    /* peers come and go (peer_ip 0) */
	bool addr_registered;          /* resolves addresses (dpdk_addr.c); registry lock */
	bool started;                  /* we configured and started the port */
	bool own_rx_pool;
	bool tx_zc;
	bool tx_csum_off;              /* the port computes IPv4 and UDP checksums (ol_flags) */
	bool rx_csum_off;              /* its RX_*_CKSUM_GOOD/BAD flags are verdicts we take */
	bool udp_csum_none;            /* trusted link: UDP checksum zero out, zero taken in */
	uint16_t udp_port;
	uint8_t src_bits;              /* log2 of params.udp_src_ports */
	uint16_t mtu;
	uint32_t window;
	uint32_t rx_desc;              /* receive ring size: bounds what peers may send */
	uint32_t rx_share;             /* window one channel may offer (port_share()) */
	uint32_t peer_timeout_us;
	struct rte_mempool *rx_pool, *hdr_pool, *ext_pool;
	/* Zero-copy port: whole frames for payloads that must be copied
	 * (memory that is not DMA-able), made on first use. */
	struct rte_mempool *copy_pool;
	/* The peer table: max_peers entries (1 with a fixed peer), found by
	 * scanning, which only binds, resets and ARP do: a stream frame goes
	 * by channel id, and its channel names its peer. */
	struct dpdk_peer *peers;
	uint32_t max_peers, npeers;
	uint32_t nunresolved;           /* peers whose MAC is unknown (ARP to send) */
	uint64_t rx_drained_us;         /* last time a receive found the ring empty */
	uint64_t rx_now_us;             /* the clock as the last dpdk_port_rx() read it */
	uint32_t id_gen;
	unsigned nchans;
	struct dpdk_chan *chans[DPDK_MAX_CHANS];
	struct rte_mbuf *txb[DPDK_TX_BATCH];
	unsigned ntxb;
	/* Message arrays of freed channels that mbufs still point into. */
	struct dpdk_grave *graves;
	struct bulk_dpdk_port_stats st;
	/* The mbuf bridge (dpdk_bridge.c). */
	bool app_queue;                /* BULK_DPDK_QUEUE_APP: never rte_eth_rx_burst() */
	bool own_hdr_pool;             /* hdr_pool is ours (not params.mbuf_pool) */
	bulk_dpdk_tx_fn tx_fn;         /* the application's transmit, or NULL */
	void *tx_arg;
	struct rte_mempool *lend_pool; /* loan records (struct dpdk_lend), made on first use */
	uint32_t lent;                 /* loans out; atomic: freed in any thread */
};

struct dpdk_grave {
	struct dpdk_grave *next;
	struct dpdk_txmsg *msgs;
	uint32_t cap;
};

/* ---- time */
uint64_t dpdk_now_us(void);

/* ---- dpdk_port.c */
static inline struct dpdk_chan *
dpdk_chan(struct bulk_channel *ch)
{
	return (struct dpdk_chan *)ch;
}

/** Receive and dispatch up to @p budget frames. @return frames handled. */
unsigned dpdk_port_rx(struct bulk_dpdk_port *l, unsigned budget);
/**
 * Hand gathered frames to the port (a BULK_DPDK_QUEUE_APP port without
 * tx_fn keeps them for bulk_dpdk_port_flush()). @return false if some stayed.
 */
bool dpdk_port_flush(struct bulk_dpdk_port *l);
/** Send the gathered frames now (queue or tx_fn). @return false if some stayed. */
bool dpdk_port_tx_out(struct bulk_dpdk_port *l);
/**
 * One received frame, handed over by the application (the mbuf stays the
 * caller's): dispatched as dpdk_port_rx() would. @return true if it was
 * ours, false if it belongs to the application.
 */
bool dpdk_port_rx_frame(struct bulk_dpdk_port *l, struct rte_mbuf *m, uint64_t now);
/** Room for this many more frames before the port must flush? */
static inline bool
dpdk_port_room(const struct bulk_dpdk_port *l)
{
	return l->ntxb < DPDK_TX_BATCH;
}
/** Queue one built frame (flushes when the batch is full). @return false: no room. */
bool dpdk_port_queue(struct bulk_dpdk_port *l, struct rte_mbuf *m);
/**
 * Build a frame to peer @p to, from UDP port @p sport (0: the port's own):
 * headers, the bulk header @p h (host order,
 * converted here), @p meta_len bytes of meta, then @p plen bytes of payload
 * from @p payload (copied) or, with @p ext, by external-buffer mbufs, one
 * per run of IOVA-contiguous pages of @p dma (dpdk_dma_seg()).
 * @return the frame, or NULL (no mbufs).
 */
struct rte_mbuf *dpdk_frame_build(struct bulk_dpdk_port *l, const struct dpdk_peer *to,
				  uint16_t sport, const struct dpdk_wire_hdr *h, const void *meta,
				  const void *payload, uint32_t plen,
				  struct rte_mbuf_ext_shared_info *ext,
				  const struct dpdk_dma_region *dma, bool *zc);
/**
 * Queue a frame without stream data (ack, bind, reset) to @p to, from UDP
 * port @p sport (0: the port's own). @return false: not sent.
 */
bool dpdk_port_send_small(struct bulk_dpdk_port *l, const struct dpdk_peer *to, uint16_t sport,
			  const struct dpdk_wire_hdr *h, const void *payload, uint32_t plen);
/**
 * Could a channel to peer @p to (ip and UDP port) join the port? Counts a
 * refusal for a full peer table. @return 0, or -ENOSPC (no channel slot, or
 * a new peer and the table is full).
 */
int dpdk_port_can_add(struct bulk_dpdk_port *l, const struct dpdk_peer *to);
/**
 * Give @p c an id on the port and bind it to peer @p to (ip, UDP port, and
 * the MAC if known: the entry is made or shared; a fixed peer port uses its
 * peer whatever @p to says). @return 0, or -ENOSPC as dpdk_port_can_add().
 */
int dpdk_port_add_chan(struct bulk_dpdk_port *l, struct dpdk_chan *c, const struct dpdk_peer *to);
void dpdk_port_del_chan(struct bulk_dpdk_port *l, struct dpdk_chan *c);
void dpdk_port_graves_sweep(struct bulk_dpdk_port *l);
/** Poll every port of @p d (a listening creator). */
unsigned dpdk_domain_rx(struct bulk_domain *d, unsigned budget);
/** The listening creator of @p d on @p ep_id, or NULL. */
struct dpdk_chan *dpdk_listener_find(struct bulk_domain *d, uint16_t ep_id);
int dpdk_listener_add(struct dpdk_chan *c);
void dpdk_listener_del(struct dpdk_chan *c);
/**
 * A port of @p d that leads to one of @p peer_dom's ports: a fixed peer pair
 * first, else a multi-peer port at either end. @p to gets the peer's
 * address and UDP port.
 */
struct bulk_dpdk_port *dpdk_port_towards(struct bulk_domain *d, struct bulk_domain *peer_dom,
					 struct dpdk_peer *to);
/** Is @p ip (and @p udp, 0: any) the fixed peer of a registered port of @p d? */
bool dpdk_port_fixed_registered(struct bulk_domain *d, uint32_t ip, uint16_t udp);
void dpdk_port_set_registered(struct bulk_dpdk_port *l, bool on);

/* ---- dpdk_bridge.c */
/** The bridge's part of bulk_dpdk_port_open(): queue mode, tx_fn, header pool. */
int dpdk_bridge_open(struct bulk_dpdk_port *l, const struct bulk_dpdk_port_params *pp,
		     unsigned hdr_room);
/** The bridge's part of closing: -EBUSY while buffers are lent, else frees its pool. */
int dpdk_bridge_close(struct bulk_dpdk_port *l);

/* ---- dpdk_dma.c */
/**
 * Bring @p c's DMA regions in step with the core's pool slots: a pool new
 * on a slot is registered and mapped for the port's device, one gone is
 * released (all of them with @p release_all, when the channel goes). A
 * pool that cannot be made DMA-able gets no region (counted in dma_failed).
 */
void dpdk_dma_chan_sync(struct dpdk_chan *c, bool release_all);
/** Release slot @p slot's region now (its pool is being removed). */
void dpdk_dma_slot_drop(struct dpdk_chan *c, uint16_t slot);
/** Memory @p va .. + @p len goes away: drop any registration of it. */
void dpdk_dma_forget(const void *va, size_t len);
/**
 * The next zero-copy segment at @p va: at most @p left and @p max bytes,
 * never past a page boundary where the next page's IOVA does not follow
 * (IOVA-as-PA mode); its IOVA in *@p iova. @p r: the memory's region, or
 * NULL to ask rte_mem_virt2iova() page by page. @return its length; 0: no
 * IOVA for @p va (only without a region).
 */
uint32_t dpdk_dma_seg(const struct dpdk_dma_region *r, const uint8_t *va, uint32_t left,
		      uint32_t max, rte_iova_t *iova);

/* ---- dpdk_chan.c (called by the demux) */
/** A bind request from @p src (a table entry or the frame's source). */
void dpdk_chan_rx_bind_req(struct bulk_dpdk_port *l, const struct dpdk_peer *src,
			   const struct dpdk_wire_bind *b);
void dpdk_chan_rx_bind_reply(struct dpdk_chan *c, const struct dpdk_wire_bind *b);
void dpdk_chan_rx_rst(struct dpdk_chan *c);

/* ---- dpdk_rel.c */
int dpdk_rel_init(struct dpdk_chan *c);
void dpdk_rel_fini(struct dpdk_chan *c);
/** A stream or ACK frame for @p c, received at @p now: its payload is @p h->length bytes at @p poff. */
void dpdk_rel_rx(struct dpdk_chan *c, const struct dpdk_wire_hdr *h, const uint8_t *meta,
		 const struct rte_mbuf *m, uint32_t poff, uint64_t now);
/** Queue a message. @return 0, or -ENOBUFS when the message ring is full. */
int dpdk_rel_queue_msg(struct dpdk_chan *c, uint8_t type, uint16_t slot, uint32_t index,
		       uint8_t *data, uint32_t len, const void *meta,
		       const struct dpdk_wire_ctrl *ctrl);
/** Work of an open channel: deliver, complete, timers, send, ack. */
unsigned dpdk_rel_poll(struct dpdk_chan *c, unsigned budget, uint64_t now);
/** Send now what can be sent (used when the channel is freed). */
void dpdk_rel_flush_out(struct dpdk_chan *c);
/** Free message slots in the ring. */
static inline uint32_t
dpdk_rel_msg_room(const struct dpdk_chan *c)
{
	return c->msg_cap - (c->msg_tail - c->msg_head);
}

#endif /* BULK_DPDK_INTERNAL_H */
