/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libbulk's XDP program for net_af_xdp ports: only bulk frames go to the
 * AF_XDP socket, everything else to the kernel, so that a TCP control
 * connection, ARP and ping keep working on the interface a libbulk port
 * uses (the PMD's default program sends every frame of the queue to the
 * socket).
 *
 * Built with clang -O2 -g -target bpf; loaded by the PMD:
 *   --vdev=net_af_xdp0,iface=IF,xdp_prog=<datadir>/libbulk/bulk_xdp.bpf.o
 * The PMD loads the object's first program, attaches it to the interface,
 * and puts each queue's socket in the map named xsks_map at the queue's
 * index. libbulk ports fill bulk_xdp_addrs (bulk_xdp.h, dpdk_xdp.c).
 *
 * Every read is bounds-checked against data_end before it happens (the
 * verifier insists); anything short, odd or unknown passes to the kernel.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bulk_xdp.h"

/* IPv4 fragment offset and more-fragments bits (net/ip.h is not uapi). */
#define BULK_XDP_IP_FRAG      0x3fffu
/* ARP hardware type Ethernet (linux/if_arp.h drags libc headers along). */
#define BULK_XDP_ARPHRD_ETHER 1u

/* The PMD looks this map up by name and fills it: rx queue -> socket. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, BULK_XDP_XSKS_MAX);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

/* Addresses (and UDP ports) of the libbulk ports on this interface. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BULK_XDP_ADDRS_MAX);
	__type(key, struct bulk_xdp_addr);
	__type(value, __u32);
} bulk_xdp_addrs SEC(".maps");

/* The Ethernet/IPv4 ARP body; the addresses are byte arrays, so no field
 * is read unaligned. */
struct bulk_xdp_arp {
	__be16 hrd;
	__be16 pro;
	__u8 hln;
	__u8 pln;
	__be16 op;
	__u8 sha[ETH_ALEN];
	__u8 sip[4];
	__u8 tha[ETH_ALEN];
	__u8 tip[4];
};

_Static_assert(sizeof(struct bulk_xdp_arp) == 28, "ARP body layout");

SEC("xdp")
int
bulk_xdp_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct bulk_xdp_addr key = { 0 };

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		struct udphdr *udp;

		if ((void *)(ip + 1) > end)
			return XDP_PASS;
		if (ip->version != 4 || ip->ihl < 5 || ip->protocol != IPPROTO_UDP)
			return XDP_PASS;
		/* Bulk frames are never fragmented: a fragment is the kernel's. */
		if (ip->frag_off & bpf_htons(BULK_XDP_IP_FRAG))
			return XDP_PASS;
		/* ihl is 4 bits: the offset is at most 60, and checked below. */
		udp = (void *)ip + ip->ihl * 4u;
		if ((void *)(udp + 1) > end)
			return XDP_PASS;
		key.ip = ip->daddr;
		key.udp_port = udp->dest;
	} else if (eth->h_proto == bpf_htons(ETH_P_ARP)) {
		struct bulk_xdp_arp *a = (void *)(eth + 1);

		if ((void *)(a + 1) > end)
			return XDP_PASS;
		if (a->hrd != bpf_htons(BULK_XDP_ARPHRD_ETHER) || a->pro != bpf_htons(ETH_P_IP) ||
		    a->hln != ETH_ALEN || a->pln != 4)
			return XDP_PASS;
		/* A request for a libbulk port's address, or a reply to one of
		 * its requests: the port answers and learns itself. */
		__builtin_memcpy(&key.ip, a->tip, sizeof(key.ip));
	} else {
		return XDP_PASS;
	}
	if (bpf_map_lookup_elem(&bulk_xdp_addrs, &key) == NULL)
		return XDP_PASS;
	/* No socket on this queue (yet): the kernel's, not dropped. */
	return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}

/* Only helpers open to any license are used (no bpf_printk). */
char LICENSE[] SEC("license") = "BSD";
