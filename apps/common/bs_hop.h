/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What crossed one hop of the block service, as nbs, nbs-proxy and
 * bs-user report it: one definition of "moved" and "copied" for all
 * three programs, so that the numbers of the two ends of a hop compare.
 *
 *   moved_bytes       payload bytes that crossed the hop, both ways (the
 *                     data channels' libbulk counters: tx_bytes + rx_bytes)
 *   copied_bytes      of those, bytes copied on the way on this side:
 *                     libbulk's full copies and trust copies (shm NONE),
 *                     plus, on a dpdk hop, the receive copy (every payload
 *                     byte received lands in a NIC mbuf and is copied once
 *                     into the buffer: rx_bytes); 0 on a shm hop at trust
 *                     full or half
 *   tx_copied_frames  dpdk only: data frames whose payload the backend
 *                     copied on transmit because the port cannot send
 *                     chained mbufs (net_af_xdp in DPDK 22.11); 0 where
 *                     transmit is zero copy (net_memif, net_ring, NICs).
 *                     The backend counts frames, not bytes.
 */
#ifndef BS_HOP_H
#define BS_HOP_H

#include <stdint.h>

#include <bulk/bulk_bs.h>

struct bs_hop {
	char backend[8];
	uint64_t requests;
	uint64_t moved_bytes;
	uint64_t copied_bytes;
	uint64_t tx_copied_frames;
};

/** Fill @p h from a connection's or client's counters (tx_copied_frames left alone). */
void bs_hop_from_stats(struct bs_hop *h, const struct bulk_bs_stats *st);

/** How a client's or session's connection ended, for the statistics lines. */
const char *bs_hop_end_name(int reason);

/** Add the transmit copies of a live data channel (dpdk; 0 otherwise). */
void bs_hop_add_channel(struct bs_hop *h, const struct bulk_channel *ch);

/** Add @p b's counters into @p a (a total over several hops of one kind). */
void bs_hop_sum(struct bs_hop *a, const struct bs_hop *b);

#endif /* BS_HOP_H */
