/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file bulk_dpdk.h
 * DPDK backend: bulk channels between machines over any DPDK ethdev port
 * (a NIC, net_af_xdp, net_af_packet, net_memif, net_ring, net_tap).
 *
 * libbulk does not own EAL. An application that called rte_eal_init() and
 * configured its port opens a port on one of its queues with
 * bulk_dpdk_port_open(); one that has not can call bulk_dpdk_init() and let
 * bulk_dpdk_port_open() configure and start the port (params.configure).
 *
 * A port (struct bulk_dpdk_port) is one port and queue and our IPv4
 * address. It either has one peer, fixed when it is opened (point to point,
 * like a cable), or, opened with peer_ip 0, serves any number of peers up to
 * max_peers (a server's port: one NIC queue, many clients). Frames are
 * Ethernet / IPv4 / UDP / bulk header (backends/dpdk/dpdk_wire.h), so they
 * route, RSS can spread channels over queues, and tcpdump reads them. A
 * peer's MAC is configured, resolved with ARP, or (on a multi-peer port)
 * taken from the peer's bind request; sends wait (never drop) while it
 * resolves. Several channels share a port, told apart by channel id; each
 * channel belongs to the one peer it was bound with, and a frame for it
 * from any other address is dropped (rx_wrong_peer).
 *
 * Endpoints: a creator listens on an endpoint number (bulk_dpdk_endpoint_create())
 * on every port of its domain, and accepts a binder from any peer of the
 * port (on a multi-peer port the channel belongs to that peer from then on);
 * a binder names the peer's endpoint number over one port
 * (bulk_dpdk_endpoint_remote(): the port's fixed peer;
 * bulk_dpdk_endpoint_remote_ip(): a peer named by address, on any port). In
 * one process, a binder may also bind straight to a creator's endpoint: the
 * port is the binder domain's port whose peer address is one of the creator
 * domain's ports (or, failing that, a multi-peer port of either domain).
 *
 * Transfers are reliable and ordered per channel: sequence numbers per frame,
 * cumulative acks plus NAKs of gaps, retransmission from the sender's buffer
 * (which stays untouched until the peer acknowledged: the continuation fires
 * on the ack), RTO from the measured RTT with backoff, duplicate suppression,
 * a bounded window and a congestion window. Buffers larger than a frame are
 * split and reassembled in place; the receiver sees one event per buffer.
 * Transmit is zero copy (a header mbuf chained to an external-buffer mbuf
 * pointing into the bulk buffer) where the port can send chained mbufs;
 * otherwise the payload is copied into the frame and counted. Receive copies
 * once, from the NIC's mbuf into the destination buffer. IPv4 and UDP
 * checksums are the port's work where it offloads them, ours otherwise
 * (params.csum_offload; counted in struct bulk_dpdk_port_stats).
 *
 * A peer silent for peer_timeout_ms is gone: the channel closes as with the
 * shm backend (continuations fail with -BULK_E_PEER_GONE, buffers away over
 * it come back, copies are voided). Silence is measured per channel, so a
 * dead peer of a multi-peer port closes its own channels and no one else's.
 *
 * Only FULL trust: the peer's memory is its own, so the receiver's data can
 * not be touched by the sender after the transfer anyway; HALF and NONE are
 * refused at channel creation (-BULK_E_TRUST_UNSUPPORTED) to keep one meaning per level.
 *
 * All calls on a port and its channels must come from one thread (DPDK
 * queues are not thread safe): the thread of the port's domain.
 */
#ifndef BULK_DPDK_H
#define BULK_DPDK_H

#include <stdint.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rte_mbuf;
struct rte_mempool;
struct bulk_dpdk_port;

/** Default UDP port of bulk frames (source and destination). */
#define BULK_DPDK_UDP_PORT 47000u
/** Default frames in flight per channel and direction. */
#define BULK_DPDK_WINDOW 4096u
/** Default silence after which a peer is declared gone. */
#define BULK_DPDK_PEER_TIMEOUT_MS 3000u
/** Default bulk_dpdk_port_params.udp_src_ports: source ports channels spread over. */
#define BULK_DPDK_UDP_SRC_PORTS 16u
/** Largest bulk_dpdk_port_params.udp_src_ports. */
#define BULK_DPDK_UDP_SRC_PORTS_MAX 1024u
/** Default bound of a multi-peer port's peer table (bulk_dpdk_port_params.max_peers). */
#define BULK_DPDK_MAX_PEERS 64u
/** Largest max_peers: every peer in the table holds a channel of the port. */
#define BULK_DPDK_MAX_PEERS_LIMIT 1023u
/** Buffers a port lends as mbufs at once (bulk_dpdk_buffer_to_mbuf()). */
#define BULK_DPDK_MAX_LENT 4095u

/** Transmit mode of a port. */
enum bulk_dpdk_tx_mode {
	BULK_DPDK_TX_AUTO = 0, /**< zero copy where the port sends chained mbufs */
	BULK_DPDK_TX_ZERO_COPY, /**< always chain an external-buffer mbuf */
	BULK_DPDK_TX_COPY,      /**< always copy the payload into the frame */
};

/**
 * Where a port's IPv4 header and UDP checksums are computed (transmit) and
 * checked (receive): bulk_dpdk_port_params.csum_offload. The port's
 * offloads are RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM
 * and RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM. Frames
 * are the same either way; only who sums them differs.
 */
enum bulk_dpdk_csum {
	/** Each direction by the port where it offers the offloads and they
	 * are enabled: with params.configure bulk_dpdk_port_open() enables
	 * them; on the application's own port only those the application
	 * enabled (port or queue configuration, as rte_eth_dev_conf_get() and
	 * rte_eth_tx/rx_queue_info_get() report it) count. In software
	 * otherwise. */
	BULK_DPDK_CSUM_AUTO = 0,
	/** Always in software, and never enabled on a port we configure. */
	BULK_DPDK_CSUM_SOFTWARE,
	/** Both directions by the port: it must offer all four offloads
	 * (else bulk_dpdk_port_open() fails with -ENOTSUP). With
	 * params.configure they are enabled here; on the application's own
	 * port the application says so by asking for this: it must have
	 * enabled them (a frame marked for an offload the queue does not do
	 * leaves with wrong checksums). */
	BULK_DPDK_CSUM_OFFLOAD,
	/** A link that cannot corrupt a frame (shared memory between
	 * processes of one host: net_memif, net_ring): the UDP checksum is
	 * left zero on transmit ("none", RFC 768), and a received frame with
	 * a zero UDP checksum is taken without summing its payload; a nonzero
	 * one is still checked, and the IPv4 header checksum is always set
	 * and checked. Both ends of the link must use it (a port in another
	 * mode refuses zero checksums). BULK_DPDK_CSUM_AUTO chooses it on
	 * net_memif. */
	BULK_DPDK_CSUM_TRUSTED_LINK,
};

/** bulk_dpdk_port_stats.csum_offloaded: the port computes our checksums. */
#define BULK_DPDK_CSUM_OFFLOADED_TX 0x1u
/** bulk_dpdk_port_stats.csum_offloaded: we take the port's checksum verdicts. */
#define BULK_DPDK_CSUM_OFFLOADED_RX 0x2u
/** bulk_dpdk_port_stats.csum_offloaded: UDP checksums are zero (BULK_DPDK_CSUM_TRUSTED_LINK). */
#define BULK_DPDK_CSUM_UDP_NONE 0x4u

/**
 * Who polls and feeds a port's queue: bulk_dpdk_port_params.queue_mode.
 */
enum bulk_dpdk_queue_mode {
	/** The port calls rte_eth_rx_burst() and rte_eth_tx_burst() on its
	 * queue itself, whenever one of its channels (or
	 * bulk_dpdk_port_poll()) polls. */
	BULK_DPDK_QUEUE_PORT = 0,
	/** The application's queue (the mbuf bridge): the port never calls
	 * rte_eth_rx_burst(); the application hands it what it received
	 * (bulk_dpdk_port_rx_burst()) and gets back the frames that are not
	 * libbulk's. Frames to send are gathered and leave only when the
	 * application calls bulk_dpdk_port_flush() (rte_eth_tx_burst() on
	 * queue_id, from the calling thread), or, with params.tx_fn, whenever
	 * the port would send, through that callback. */
	BULK_DPDK_QUEUE_APP,
};

/**
 * An application's transmit function for a BULK_DPDK_QUEUE_APP port
 * (bulk_dpdk_port_params.tx_fn), called from the port's thread: it takes
 * the first 0..@p n frames of @p pkts (they are the application's from
 * then on, to send or free, like rte_eth_tx_burst()'s) and returns how
 * many it took; the port keeps the rest, in order, for its next flush.
 */
typedef uint16_t (*bulk_dpdk_tx_fn)(void *arg, struct rte_mbuf **pkts, uint16_t n);

/** Parameters of a port; zero means default. */
struct bulk_dpdk_port_params {
	uint16_t port_id;          /**< ethdev port */
	uint16_t queue_id;         /**< rx and tx queue used by this port */
	uint32_t local_ip;         /**< our IPv4 address, host byte order */
	/** The peer's IPv4 address, host byte order; 0: any peer (a multi-peer
	 * port, whose binders name each peer: bulk_dpdk_endpoint_remote_ip()). */
	uint32_t peer_ip;
	/** The peer's MAC; all zero: resolve with ARP (must be zero with peer_ip 0). */
	uint8_t peer_mac[6];
	uint16_t udp_port;         /**< 0: BULK_DPDK_UDP_PORT */
	/** IP MTU frames are built for; 0: the port's MTU. With configure
	 * the port's MTU is set too where the driver allows; either way the
	 * port must carry such frames (memif: bsize >= mtu + 14; af_xdp on
	 * veth: at most 3442 in DPDK 22.11). */
	uint16_t mtu;
	/** The application's mbuf pool. With configure the port's receive
	 * pool; in any mode also the pool of our header mbufs (ARP, acks,
	 * frame headers; with copies, whole frames) where its data room holds
	 * one: RTE_PKTMBUF_HEADROOM + 512 bytes in zero copy, + mtu + 78 when
	 * copying (else the port makes a pool of its own for them). NULL:
	 * pools are created. Never freed by the port. */
	struct rte_mempool *mbuf_pool;
	uint32_t window;           /**< frames in flight per channel (power of two); 0: default */
	uint32_t peer_timeout_ms;  /**< 0: BULK_DPDK_PEER_TIMEOUT_MS */
	enum bulk_dpdk_tx_mode tx_mode;
	/** Nonzero: configure and start the port here (one rx and tx queue,
	 * queue_id 0), for applications that do not set up ports themselves. */
	int configure;
	/** Multi-peer port: peers it serves at once, 1..BULK_DPDK_MAX_PEERS_LIMIT;
	 * 0: BULK_DPDK_MAX_PEERS. A peer takes an entry with its first channel
	 * and gives it back with its last; a bind beyond the bound is refused
	 * (-ENOSPC) and counted (peers_refused). Unused with a fixed peer. */
	uint32_t max_peers;
	/** IPv4 and UDP checksums by the port, in software, or (UDP) none on
	 * a trusted link (enum bulk_dpdk_csum); 0: BULK_DPDK_CSUM_AUTO. Even with the port's
	 * verdicts, a frame the port did not judge (no flag, or a zero UDP
	 * checksum) is checked in software. */
	enum bulk_dpdk_csum csum_offload;
	/** Who polls the queue (enum bulk_dpdk_queue_mode); 0:
	 * BULK_DPDK_QUEUE_PORT. BULK_DPDK_QUEUE_APP needs configure 0: the
	 * application set the port and queue up. */
	enum bulk_dpdk_queue_mode queue_mode;
	/** BULK_DPDK_QUEUE_APP: frames leave through this function instead of
	 * rte_eth_tx_burst() (NULL: the port sends on queue_id when told,
	 * bulk_dpdk_port_flush()). Must be NULL in BULK_DPDK_QUEUE_PORT. */
	bulk_dpdk_tx_fn tx_fn;
	void *tx_arg;              /**< first argument of tx_fn */
	/** UDP source ports the port's channels spread over, so that RSS at
	 * the peer spreads them over its queues: a power of two up to
	 * BULK_DPDK_UDP_SRC_PORTS_MAX; 0: BULK_DPDK_UDP_SRC_PORTS; 1: every
	 * frame from udp_port. A channel's data and ack frames leave from
	 * the port of the aligned block of this many around udp_port that its
	 * channel number picks (stable for its life); set-up frames (bind,
	 * reset, ARP) from udp_port. Frames still go to the peer's udp_port. */
	uint16_t udp_src_ports;
};

/** Counters of a port (frames that belong to no channel, or could not be read). */
struct bulk_dpdk_port_stats {
	uint64_t rx_frames;        /**< frames taken from the port */
	uint64_t tx_frames;        /**< frames handed to the port */
	uint64_t rx_not_ours;      /**< not IPv4/UDP to our address and port (and, with a fixed
				    *   peer, from its address), not ARP */
	uint64_t rx_malformed;     /**< truncated, bad magic/version/type/lengths */
	uint64_t rx_csum_drops;    /**< bad IPv4 header or UDP checksum */
	uint64_t rx_unknown_chan;  /**< no channel with that id (answered with a reset) */
	uint64_t arp_rx;           /**< ARP frames handled */
	uint64_t arp_tx;           /**< ARP requests and replies sent */
	uint64_t tx_full;          /**< tx bursts the port did not take entirely */
	uint64_t rx_wrong_peer;    /**< named a channel of ours that belongs to another peer
				    *   (source IPv4 address or UDP port): dropped */
	uint64_t peers_refused;    /**< binds refused because the peer table was full */
	uint64_t peers;            /**< peers in the table now (a gauge; 1 with a fixed peer) */
	uint64_t csum_offloaded;   /**< BULK_DPDK_CSUM_OFFLOADED_TX | _RX | BULK_DPDK_CSUM_UDP_NONE:
				    *   what the port does for
				    *   us (a gauge, settled by bulk_dpdk_port_open()) */
	uint64_t tx_csum_offload;  /**< frames built for the port to checksum (ol_flags) */
	uint64_t tx_csum_sw;       /**< frames we checksummed ourselves (with the offload too:
				    *   a zero-copy frame with an odd meta size, whose
				    *   segments some PMDs would sum wrong) */
	uint64_t rx_csum_offload;  /**< frames whose checksums the port's flags judged */
	uint64_t rx_csum_sw;       /**< frames whose checksums we summed (no port verdict) */
	uint64_t rx_handed_back;   /**< bulk_dpdk_port_rx_burst(): frames given back to the
				    *   application as not ours (also counted in rx_not_ours,
				    *   or arp_rx for ARP frames not about our address) */
	uint64_t buffers_lent;     /**< bulk_dpdk_buffer_to_mbuf() chains whose last mbuf was
				    *   not freed yet (a gauge) */
	uint64_t dma_regions;      /**< pool slots of the port's channels whose memory is
				    *   registered and mapped for its device (a gauge) */
	uint64_t dma_failed;       /**< pools that could not be made DMA-able (memory someone
				    *   else registered, no IOVA, mlock refused): sent by copy */
};

/** Per-channel counters of the DPDK transport (besides bulk_channel_stats). */
struct bulk_dpdk_chan_stats {
	uint64_t frames_tx;        /**< frames sent, retransmissions included */
	uint64_t frames_rx;        /**< frames received for this channel */
	uint64_t bytes_tx;         /**< payload bytes sent, retransmissions included */
	uint64_t bytes_rx;         /**< payload bytes received, duplicates included */
	uint64_t retransmits;      /**< frames sent again */
	uint64_t rto_expired;      /**< retransmission timeouts */
	uint64_t tail_probes;      /**< tail probes sent: ACKs asking the peer what it lacks (not
				    *   resends; what it names missing is resent and counted in
				    *   retransmits) */
	uint64_t naks_tx;          /**< gap ranges we reported */
	uint64_t naks_rx;          /**< gap ranges the peer reported */
	uint64_t dups_rx;          /**< frames received twice (dropped) */
	uint64_t out_of_window;    /**< frames beyond the receive window (dropped) */
	uint64_t csum_drops;       /**< frames for this channel dropped by a checksum */
	uint64_t bad_frames;       /**< frames for this channel naming a bad pool/index/range */
	uint64_t acks_tx;          /**< pure ack frames sent */
	uint64_t tx_zero_copy;     /**< data frames sent from the buffer itself */
	uint64_t tx_copied;        /**< data frames whose payload was copied */
	uint32_t rtt_us;           /**< smoothed RTT estimate */
	uint32_t rto_us;           /**< current retransmission timeout */
	uint32_t cwnd;             /**< congestion window, frames */
	uint32_t mss;              /**< payload bytes per frame */
	uint64_t tx_copied_unregistered; /**< of tx_copied: on a zero-copy port, because the
					  *   pool's memory is not DMA-able */
};

/**
 * Initialise EAL for an application that has not (rte_eal_init()).
 * @return the number of arguments EAL consumed (as rte_eal_init()), or a
 *   negative errno (-EALREADY if EAL is already initialised here,
 *   -rte_errno of a failed rte_eal_init()).
 */
int bulk_dpdk_init(int argc, char **argv);

/**
 * Open a libbulk port on an ethdev port and queue, for domain @p d: with
 * one fixed peer (params.peer_ip), or serving any peer (peer_ip 0).
 * @return 0; -EINVAL (NULL argument, no local address, a peer address equal
 *   to ours, a peer MAC without a peer address, max_peers above
 *   BULK_DPDK_MAX_PEERS_LIMIT, bad port or queue, window not a power of two
 *   in [64, 65536], MTU too small for one frame, csum_offload not an enum
 *   bulk_dpdk_csum, udp_src_ports not a power of two up to
 *   BULK_DPDK_UDP_SRC_PORTS_MAX); -ENODEV (port not available); -EEXIST (a port of this
 *   process already uses that port and queue); -ENOMEM; -ENOTSUP
 *   (csum_offload BULK_DPDK_CSUM_OFFLOAD on a port that does not offer
 *   IPv4 and UDP checksum offload both ways); negative errno of port set-up.
 *   Also -EINVAL for queue_mode not an enum bulk_dpdk_queue_mode,
 *   BULK_DPDK_QUEUE_APP with configure, or tx_fn without BULK_DPDK_QUEUE_APP.
 */
int bulk_dpdk_port_open(struct bulk_domain *d, const struct bulk_dpdk_port_params *params,
			struct bulk_dpdk_port **out);

/**
 * Close a port (and stop the port if bulk_dpdk_port_open() started it).
 * Frames still gathered are sent first (on a BULK_DPDK_QUEUE_APP port: its
 * tx_fn, or the application's queue).
 * @return 0; -EINVAL (NULL); -EBUSY (channels still use it, or buffers it
 *   lent as mbufs are not back: bulk_dpdk_buffer_to_mbuf()).
 */
int bulk_dpdk_port_close(struct bulk_dpdk_port *port);

/**
 * Receive and dispatch frames of a port without polling a channel (channels
 * poll their port themselves; use this while no channel exists yet, e.g. to
 * answer ARP or a binder).
 * @return frames handled, or -EINVAL.
 */
int bulk_dpdk_port_poll(struct bulk_dpdk_port *port, unsigned budget);

/** Copy a port's counters. @return 0 or -EINVAL. */
int bulk_dpdk_port_stats_get(const struct bulk_dpdk_port *port, struct bulk_dpdk_port_stats *st);

/**
 * Endpoint number @p ep_id (1..65535) of domain @p d: a creator listens on
 * it on every port of @p d (bulk_channel_create()). In one process, a binder
 * may also pass it to bulk_channel_bind().
 * @return 0; -EINVAL (NULL, ep_id 0); -ENOMEM.
 * bulk_channel_create() on it may further return -EADDRINUSE (another channel
 * listens on the number in this domain).
 */
int bulk_dpdk_endpoint_create(struct bulk_domain *d, uint16_t ep_id, struct bulk_endpoint **out);

/**
 * The peer's endpoint number @p ep_id at the far end of @p port, for
 * bulk_channel_bind() from the port's domain. The port's fixed peer: on a
 * multi-peer port name the peer with bulk_dpdk_endpoint_remote_ip().
 * @return 0; -EINVAL (NULL, ep_id 0); -EDESTADDRREQ (a multi-peer port);
 *   -ENOMEM.
 * bulk_channel_bind() through it may further return -BULK_E_WRONG_DOMAIN
 * (the port belongs to another domain), -ENOSPC (the port has
 * DPDK_MAX_CHANS channels already, or its peer table is full) or
 * -EHOSTUNREACH (an in-process creator endpoint no port of the binder's
 * domain leads to).
 * The bind continuation gets the creator's answer: 0,
 * -BULK_E_BIND_MISMATCH, -BULK_E_BIND_REFUSED, -BULK_E_EP_NO_CHANNEL (nobody
 * listens on the number there), -ENOSPC or -ENOMEM (the creator could not
 * take one more channel, or its multi-peer port one more peer), -BULK_E_BAD_DESC (an answer that makes no sense),
 * or -BULK_E_PEER_GONE (no answer within the peer timeout).
 */
int bulk_dpdk_endpoint_remote(struct bulk_dpdk_port *port, uint16_t ep_id,
			      struct bulk_endpoint **out);

/**
 * Endpoint number @p ep_id of the peer at IPv4 address @p peer_ip, UDP port
 * @p udp_port, reached over @p port, for bulk_channel_bind() from the port's
 * domain. On a multi-peer port any peer but ourselves; on a port with a
 * fixed peer only that peer (then it is bulk_dpdk_endpoint_remote()). The
 * channel bound through it belongs to that peer: the port takes a peer
 * table entry for it at bind time (if it has none yet), resolves its MAC
 * with ARP, and accepts the channel's frames from that address and UDP
 * port only.
 * @param peer_ip   host byte order
 * @param udp_port  the peer's UDP port; 0: the port's own (params.udp_port)
 * @return 0; -EINVAL (NULL, ep_id 0, peer_ip 0 or the port's own address;
 *   on a port with a fixed peer: another address or UDP port); -ENOMEM.
 * bulk_channel_bind() through it may further return what it returns
 * through bulk_dpdk_endpoint_remote(): -BULK_E_WRONG_DOMAIN, -ENOSPC (no
 * channel left on the port, or the peer is new and the table holds
 * max_peers peers: counted in peers_refused); and the bind continuation
 * gets the same answers.
 */
int bulk_dpdk_endpoint_remote_ip(struct bulk_dpdk_port *port, uint32_t peer_ip, uint16_t udp_port,
				 uint16_t ep_id, struct bulk_endpoint **out);

/**
 * Let dpdk:ip=A.B.C.D,ep=N[,udp=P] addresses (bulk_addr.h) resolve through
 * port @p port: bulk_addr_endpoint_create() in the port's domain with ip
 * the port's own address makes endpoint N (bulk_dpdk_endpoint_create();
 * udp, when given, must be the port's UDP port).
 * bulk_addr_endpoint_remote() resolves to endpoint N at the far end: on a
 * port with a fixed peer when ip is that peer (udp, when given, must be the
 * port's UDP port: both ends of such a port use one); on a multi-peer port
 * for any ip but the port's own, udp being the peer's UDP port (default:
 * the port's), as bulk_dpdk_endpoint_remote_ip() does. Ports are tried in
 * the order they were registered, except that a multi-peer port leaves an
 * ip to a registered port of the same domain whose fixed peer it is.
 * Unregister before bulk_dpdk_port_close().
 * @return 0; -EINVAL (NULL); -EEXIST (registered already); -ENOSPC
 *   (BULK_ADDR_MAX_RESOLVERS ports registered).
 */
int bulk_dpdk_port_addr_register(struct bulk_dpdk_port *port);

/**
 * Stop resolving addresses through @p port.
 * @return 0; -EINVAL (NULL); -ENOENT (not registered).
 */
int bulk_dpdk_port_addr_unregister(struct bulk_dpdk_port *port);

/**
 * Copy the transport counters of a DPDK channel.
 * @return 0; -EINVAL (NULL); -ENOTSUP (not a DPDK channel).
 */
int bulk_dpdk_chan_stats_get(const struct bulk_channel *ch, struct bulk_dpdk_chan_stats *st);

/**
 * Allocate a pool (as bulk_pool_alloc(): a fresh id, every buffer owned by
 * @p d) whose memory is DPDK's own: a memzone of EAL's memory (hugepages,
 * or with --no-huge the memory EAL manages), whole pages of EAL's page size.
 * EAL made it DMA-able for every device it set up, so zero-copy frames from
 * it need no registration (rte_extmem_register()) or mapping of ours, and
 * none can fail (dma_failed). It is not shareable with other processes
 * (bulk_pool_fd() says -ENOTSUP). EAL must be initialised. Free it with
 * bulk_pool_free(), which frees the memzone.
 * @return 0; -EINVAL (as bulk_pool_alloc(): NULL, count 0 or above
 *   BULK_POOL_MAX_BUFFERS, buffer_size 0 or not a multiple of align, align
 *   not a power of two or above the page size, bad trust; or params->mem
 *   other than BULK_MEM_ANON, the default); -ENOMEM (EAL's memory has no
 *   room: its -m, or the hugepages it has; or no memory for the pool's
 *   records); -ENOSPC (EAL has no free memzone slot left).
 */
int bulk_dpdk_pool_alloc(struct bulk_domain *d, const struct bulk_pool_params *params,
			 struct bulk_pool **out);

/*
 * The mbuf bridge: libbulk inside an application's own packet pipeline.
 *
 * The application owns EAL, the port, its queues and its mbufs. It opens a
 * libbulk port on one of its queues with queue_mode BULK_DPDK_QUEUE_APP
 * (and, if it likes, its mbuf pool: params.mbuf_pool), keeps polling the
 * queue itself, hands each burst to bulk_dpdk_port_rx_burst() and forwards
 * what comes back; it polls the port's channels (or bulk_domain_poll())
 * as usual, then calls bulk_dpdk_port_flush() when it wants libbulk's
 * frames on the wire (or takes them in params.tx_fn). Buffers become mbufs
 * for the application's next stage with bulk_dpdk_buffer_to_mbuf().
 * Every call below comes from the port's thread, like the rest of the
 * port's calls, except the free callback (see there).
 */

/**
 * Hand frames the application received to port @p port: frames that are
 * libbulk's (IPv4/UDP to the port's address and UDP port, from its peer or
 * peers; ARP about the port's address) are consumed and freed; the others
 * are written to @p others, in the order they came, for the application's
 * pipeline (ARP frames about other addresses come back too, after the port
 * learned the sender's MAC from them). The frames are the port's from the
 * call on; those given back are the application's again. @p others may be
 * @p pkts itself (the burst is filtered in place). Channels work on what
 * arrived in their next poll. Meant for BULK_DPDK_QUEUE_APP ports; on a
 * port that polls its queue itself it works too, but frames then come
 * from two places.
 * @return the number of frames written to @p others (0..@p n), or -EINVAL
 *   (NULL @p port, or NULL @p pkts or @p others with @p n > 0).
 */
int bulk_dpdk_port_rx_burst(struct bulk_dpdk_port *port, struct rte_mbuf **pkts, uint16_t n,
			    struct rte_mbuf **others);

/**
 * Send the frames the port gathered: through params.tx_fn where set, else
 * rte_eth_tx_burst() on the port's queue. What the queue does not take
 * stays, in order, for the next flush (counted in tx_full). A
 * BULK_DPDK_QUEUE_APP port without tx_fn sends only here: call it after
 * polling the port's channels; while its batch (64 frames) is full,
 * channels wait (they neither drop nor lose frames). Any port may call it.
 * @return frames the port still holds (0: all sent), or -EINVAL (NULL).
 */
int bulk_dpdk_port_flush(struct bulk_dpdk_port *port);

/**
 * Called when the last mbuf that bulk_dpdk_buffer_to_mbuf() made for @p buf
 * is freed, in whatever thread frees it (a driver's transmit completion, a
 * later pipeline stage): @p buf is the application's to use again (give it
 * back to its pool, pass it back over its channel, ...) from then on. It
 * must not call into the port or the domain if that thread is not the
 * port's: it should queue @p buf for the port's thread instead.
 */
typedef void (*bulk_dpdk_mbuf_free_fn)(void *arg, struct bulk_buffer *buf);

/**
 * Lend buffer @p buf as mbufs: the @p len bytes at offset @p off of the
 * buffer become a chain of external-buffer mbufs
 * (rte_pktmbuf_attach_extbuf(): no byte is copied), at most 32 KiB each,
 * pkt_len @p len, without headroom (chain a header mbuf in front of it to
 * add headers). The mbufs come from the port's pools (@p port is the
 * domain's port that lends them; any port of the buffer's domain). This
 * is how a buffer received over a channel goes on to the application's
 * next pipeline stage, or how a buffer the application filled leaves
 * through its own transmit path.
 *
 * Ownership: the domain must own @p buf READ_WRITE (not in the pool's
 * free list, no copies out). From the call on the buffer is *lent*: its
 * bytes belong to the mbufs, and the application must neither write it,
 * nor move, pass, copy or release it over a channel, nor put it back in
 * its pool, until @p free_cb runs, when the chain's last mbuf is freed
 * (the libbulk core does not know of the loan: keeping it is the
 * application's part). The port counts the loans (buffers_lent) and
 * bulk_dpdk_port_close() refuses (-EBUSY) while some are out.
 *
 * @param free_cb  called once with @p arg and @p buf (must not be NULL)
 * @param out      the chain's first mbuf
 * @return 0; -EINVAL (NULL argument, @p len 0, or @p off + @p len beyond
 *   the buffer); -BULK_E_WRONG_DOMAIN (the buffer's view is not of the
 *   port's domain); -BULK_E_BUFFER_FREE (the buffer is in its pool's free
 *   list); -BULK_E_NOT_OWNER (the buffer is not READ_WRITE here);
 *   -ENOMEM (no mbufs, or no loan record: out of the port's
 *   BULK_DPDK_MAX_LENT); -EFAULT (IOVA-as-PA mode: a page of the range
 *   has no IOVA).
 */
int bulk_dpdk_buffer_to_mbuf(struct bulk_dpdk_port *port, struct bulk_buffer *buf, uint32_t off,
			     uint32_t len, bulk_dpdk_mbuf_free_fn free_cb, void *arg,
			     struct rte_mbuf **out);

#ifdef __cplusplus
}
#endif

#endif /* BULK_DPDK_H */
