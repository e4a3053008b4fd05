/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK backend: telling libbulk's XDP program (bulk_xdp.bpf.c) on a
 * net_af_xdp interface which frames are a port's. Linux only, no DPDK, no
 * libbpf: bpf(2) and rtnetlink. Slow path (port open and close).
 */
#ifndef BULK_DPDK_XDP_H
#define BULK_DPDK_XDP_H

#include <stdint.h>

/*
 * Add a port's IPv4 address and UDP port (host byte order) to the program
 * attached to interface @ifindex, or take them away: two keys of
 * bulk_xdp_addrs ({ip, udp_port} for bulk frames, {ip, 0} for ARP), each
 * counting the ports that hold it. Callers serialize calls for one
 * interface (the program is the process's: the PMD attaches it only where
 * none is).
 * Returns 1 when the interface runs libbulk's program and its map changed;
 * 0 when it runs no XDP program or another one (the PMD's default sends
 * every frame to the socket: nothing to tell it); a negative errno when
 * the program is there but could not be told (its filter then leaves the
 * port's frames to the kernel).
 */
int dpdk_xdp_addr_hold(unsigned ifindex, uint32_t ip, uint16_t udp_port);
int dpdk_xdp_addr_drop(unsigned ifindex, uint32_t ip, uint16_t udp_port);

#endif /* BULK_DPDK_XDP_H */
