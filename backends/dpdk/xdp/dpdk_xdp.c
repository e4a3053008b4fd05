/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK backend: the port's side of libbulk's XDP program. The net_af_xdp
 * PMD loads the program (xdp_prog= devarg) and fills its xsks_map; it
 * cannot tell the program anything else. So a port, once its queue is set
 * up, finds the program on its interface and puts its address and UDP
 * port in the program's bulk_xdp_addrs map:
 *   rtnetlink RTM_GETLINK -> IFLA_XDP_PROG_ID of the interface,
 *   bpf(BPF_PROG_GET_FD_BY_ID), bpf(BPF_OBJ_GET_INFO_BY_FD) -> its maps,
 *   the one named BULK_XDP_ADDRS_MAP with our key and value sizes,
 *   lookup / update / delete of the two keys.
 * Raw system calls rather than libbpf: libbulk-dpdk need not link it for
 * a few calls on a slow path. All of it needs CAP_SYS_ADMIN (or CAP_BPF
 * and CAP_NET_ADMIN), which an AF_XDP socket needs anyway. The program is
 * found where it is attached itself, as the PMD attaches it; behind a
 * libxdp dispatcher (several programs on one interface) it is not, and
 * the port opens as under any program not ours.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "bulk_xdp.h"
#include "dpdk_xdp.h"

/* Maps of a program we look at: ours has two (xsks_map, bulk_xdp_addrs). */
#define XDP_MAX_MAPS 16u
/* An RTM_NEWLINK answer without VF information fits easily. */
#define XDP_NL_BUF   32768u

static int
xdp_bpf(int cmd, union bpf_attr *attr)
{
	long rc = syscall(__NR_bpf, cmd, attr, sizeof(*attr));

	return rc < 0 ? -errno : (int)rc;
}

/* The attributes of one rtattr run [p, p + len): the first of @type. */
static const struct rtattr *
xdp_rta_find(const char *p, size_t len, unsigned short type)
{
	while (len >= sizeof(struct rtattr)) {
		const struct rtattr *a = (const struct rtattr *)p;
		size_t step = RTA_ALIGN(a->rta_len);

		if (a->rta_len < sizeof(*a) || a->rta_len > len)
			return NULL;
		if ((a->rta_type & NLA_TYPE_MASK) == type)
			return a;
		if (step >= len)
			return NULL;
		p += step;
		len -= step;
	}
	return NULL;
}

/* The id of the XDP program attached to @ifindex, 0 if none. */
static int
xdp_prog_id(unsigned ifindex, uint32_t *id)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	const struct nlmsghdr *nh;
	const struct rtattr *xdp, *a;
	char *buf;
	ssize_t n;
	int fd, rc;

	*id = 0;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = RTM_GETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = (int)ifindex;
	buf = malloc(XDP_NL_BUF);
	if (buf == NULL)
		return -ENOMEM;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		rc = -errno;
		goto out;
	}
	/* One answer: the link, or an error. MSG_TRUNC: its real length. */
	n = recv(fd, buf, XDP_NL_BUF, MSG_TRUNC);
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	if ((size_t)n > XDP_NL_BUF || (size_t)n < sizeof(*nh)) {
		rc = -EMSGSIZE;
		goto out;
	}
	nh = (const struct nlmsghdr *)buf;
	if (nh->nlmsg_len > (size_t)n || nh->nlmsg_len < sizeof(*nh)) {
		rc = -EBADMSG;
		goto out;
	}
	if (nh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nh);

		rc = -EBADMSG;
		if (nh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error < 0)
			rc = e->error;
		goto out;
	}
	if (nh->nlmsg_type != RTM_NEWLINK ||
	    nh->nlmsg_len < NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct ifinfomsg)))) {
		rc = -EBADMSG;
		goto out;
	}
	rc = 0;
	xdp = xdp_rta_find(buf + NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct ifinfomsg))),
			   nh->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct ifinfomsg))),
			   IFLA_XDP);
	if (xdp == NULL)
		goto out;
	a = xdp_rta_find(RTA_DATA(xdp), RTA_PAYLOAD(xdp), IFLA_XDP_PROG_ID);
	if (a != NULL && RTA_PAYLOAD(a) >= sizeof(*id))
		memcpy(id, RTA_DATA(a), sizeof(*id));
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* The bulk_xdp_addrs map of the program attached to @ifindex: its fd, or
 * -ENOENT when there is no program or it is not ours. */
static int
xdp_addrs_map(unsigned ifindex)
{
	uint32_t ids[XDP_MAX_MAPS];
	struct bpf_prog_info pi;
	union bpf_attr attr;
	uint32_t prog_id, i, n;
	int prog_fd, rc;

	rc = xdp_prog_id(ifindex, &prog_id);
	if (rc < 0)
		return rc;
	if (prog_id == 0)
		return -ENOENT;
	memset(&attr, 0, sizeof(attr));
	attr.prog_id = prog_id;
	prog_fd = xdp_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
	if (prog_fd < 0)
		return prog_fd == -ENOENT ? -ESRCH : prog_fd; /* detached meanwhile */
	memset(&pi, 0, sizeof(pi));
	pi.nr_map_ids = XDP_MAX_MAPS;
	pi.map_ids = (uint64_t)(uintptr_t)ids;
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)prog_fd;
	attr.info.info_len = sizeof(pi);
	attr.info.info = (uint64_t)(uintptr_t)&pi;
	rc = xdp_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr);
	close(prog_fd);
	if (rc < 0)
		return rc;
	n = pi.nr_map_ids < XDP_MAX_MAPS ? pi.nr_map_ids : XDP_MAX_MAPS;
	for (i = 0; i < n; i++) {
		struct bpf_map_info mi;
		int fd;

		memset(&attr, 0, sizeof(attr));
		attr.map_id = ids[i];
		fd = xdp_bpf(BPF_MAP_GET_FD_BY_ID, &attr);
		if (fd < 0)
			continue;
		memset(&mi, 0, sizeof(mi));
		memset(&attr, 0, sizeof(attr));
		attr.info.bpf_fd = (uint32_t)fd;
		attr.info.info_len = sizeof(mi);
		attr.info.info = (uint64_t)(uintptr_t)&mi;
		if (xdp_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) == 0 && mi.type == BPF_MAP_TYPE_HASH &&
		    mi.key_size == sizeof(struct bulk_xdp_addr) && mi.value_size == sizeof(__u32) &&
		    strncmp(mi.name, BULK_XDP_ADDRS_MAP, sizeof(mi.name)) == 0)
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/* Add @delta (+1 or -1) to the count of @key; a count reaching 0 goes. */
static int
xdp_key_add(int map_fd, const struct bulk_xdp_addr *key, int delta)
{
	union bpf_attr attr;
	__u32 refs = 0;
	int rc;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)map_fd;
	attr.key = (uint64_t)(uintptr_t)key;
	attr.value = (uint64_t)(uintptr_t)&refs;
	rc = xdp_bpf(BPF_MAP_LOOKUP_ELEM, &attr);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (delta < 0 && refs <= 1) {
		if (rc == -ENOENT)
			return 0; /* never held (or dropped twice): nothing to undo */
		memset(&attr, 0, sizeof(attr));
		attr.map_fd = (uint32_t)map_fd;
		attr.key = (uint64_t)(uintptr_t)key;
		rc = xdp_bpf(BPF_MAP_DELETE_ELEM, &attr);
		return rc == -ENOENT ? 0 : rc;
	}
	refs = delta < 0 ? refs - 1 : refs + 1;
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)map_fd;
	attr.key = (uint64_t)(uintptr_t)key;
	attr.value = (uint64_t)(uintptr_t)&refs;
	attr.flags = BPF_ANY;
	return xdp_bpf(BPF_MAP_UPDATE_ELEM, &attr);
}

static int
xdp_addr_change(unsigned ifindex, uint32_t ip, uint16_t udp_port, int delta)
{
	const struct bulk_xdp_addr keys[2] = {
		{ .ip = htonl(ip), .udp_port = htons(udp_port) }, /* bulk frames */
		{ .ip = htonl(ip), .udp_port = 0 },		  /* ARP */
	};
	int fd, rc;

	if (ifindex == 0 || ip == 0 || udp_port == 0)
		return -EINVAL;
	fd = xdp_addrs_map(ifindex);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	rc = xdp_key_add(fd, &keys[0], delta);
	if (rc == 0) {
		rc = xdp_key_add(fd, &keys[1], delta);
		if (rc < 0 && delta > 0)
			(void)xdp_key_add(fd, &keys[0], -1); /* all or nothing */
	}
	close(fd);
	return rc < 0 ? rc : 1;
}

int
dpdk_xdp_addr_hold(unsigned ifindex, uint32_t ip, uint16_t udp_port)
{
	return xdp_addr_change(ifindex, ip, udp_port, 1);
}

int
dpdk_xdp_addr_drop(unsigned ifindex, uint32_t ip, uint16_t udp_port)
{
	return xdp_addr_change(ifindex, ip, udp_port, -1);
}
