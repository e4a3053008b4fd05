/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file bulk_xdp.h
 * What libbulk's XDP program (bulk_xdp.bpf.c) and the dpdk backend
 * (dpdk_xdp.c) share: the map through which libbulk ports tell the program
 * which frames are theirs.
 *
 * The program sends to the AF_XDP socket of the queue (xsks_map, filled by
 * the net_af_xdp PMD) only:
 *  - IPv4/UDP frames to an address and UDP port in bulk_xdp_addrs
 *    (key {ip, udp_port}): bulk frames;
 *  - ARP frames whose target protocol address is in bulk_xdp_addrs
 *    (key {ip, 0}): requests for a libbulk port's address and the replies
 *    to its own requests.
 * Everything else passes to the kernel (XDP_PASS). A libbulk port uses an
 * IPv4 address of its own, one the kernel does not have: then the ARP of
 * the two never mix (see docs/architecture.md, section 10, "XDP filter").
 *
 * bulk_dpdk_port_open() adds its address and UDP port (both keys; the
 * value, a __u32, counts the ports that hold a key), bulk_dpdk_port_close() takes
 * them away. With nothing in the map the program sends nothing to the
 * socket. Keys and values are in network byte order as on the wire, so
 * the program compares without swapping.
 *
 * Included by C for the bpf target and by the backend: kernel uapi types
 * only.
 */
#ifndef BULK_XDP_H
#define BULK_XDP_H

#include <linux/types.h>

/** Name of the map of addresses (at most 15 characters: BPF_OBJ_NAME_LEN). */
#define BULK_XDP_ADDRS_MAP "bulk_xdp_addrs"
/** Keys the map holds: two per address and UDP port in use. */
#define BULK_XDP_ADDRS_MAX 128u
/** Queues the program redirects (entries of xsks_map, indexed by rx queue). */
#define BULK_XDP_XSKS_MAX  64u

/** A key of bulk_xdp_addrs. */
struct bulk_xdp_addr {
	__be32 ip;	 /**< IPv4 address, network order */
	__be16 udp_port; /**< UDP destination port, network order; 0: ARP for @c ip */
	__u16 pad;	 /**< 0 */
};

_Static_assert(sizeof(struct bulk_xdp_addr) == 8, "bulk_xdp_addr layout");
_Static_assert(sizeof(BULK_XDP_ADDRS_MAP) <= 16, "map names fit BPF_OBJ_NAME_LEN");

#endif /* BULK_XDP_H */
