/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small NBD server over a Unix socket, built on lib/nbd: one thread,
 * epoll, non-blocking sockets, an in-memory export. It exists so that real
 * clients (nbdinfo, qemu-img, qemu-io, nbdcopy) can be pointed at the
 * library (tests/nbd/test_nbd_clients.sh), and to show the I/O-free API
 * in use: the socket is this file's business, the protocol lib/nbd's.
 *
 *   nbd_echo_server -u SOCKET [-s SIZE[K|M]] [-r DIR] [-S] [-E]
 *
 * Exports: "mem" (the default, read-write) and "ro" (the same bytes,
 * read-only). -r DIR records each connection's client bytes in
 * DIR/conn-N.bin (the fuzz corpus comes from there); -S and -E refuse
 * structured replies and extended headers. Prints "ready" when listening;
 * runs until killed.
 *
 * A write's payload is received straight into the export's memory (the
 * bytes already read with the header are copied; the rest never touch
 * another buffer); a read is sent from the export's memory with writev
 * after a header lib/nbd built. Holes (4 KiB blocks never written, or
 * trimmed) are sent as OFFSET_HOLE chunks and reported by block status.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "nbd.h"

#define BLK	    4096u
#define IN_CAP	    (256u << 10)
#define OUT_HIGH    (8u << 20) /* stop reading requests above this backlog */
#define MAX_EXTENTS 1024u

static uint8_t *mem;
static uint8_t *alloc_map; /* one byte per BLK block: written since trimmed */
static uint64_t mem_size;
static const char *record_dir;
static unsigned conn_seq;

/* ------------------------------------------------------------ exports */

#define CAPS_RW                                                                                  \
	(NBD_EXPORT_CAN_FLUSH | NBD_EXPORT_CAN_FUA | NBD_EXPORT_CAN_TRIM | NBD_EXPORT_CAN_ZERO | \
	 NBD_EXPORT_CAN_FAST_ZERO | NBD_EXPORT_CAN_MULTI_CONN | NBD_EXPORT_CAN_CACHE |           \
	 NBD_EXPORT_BLOCK_STATUS)

static void
fill_export(struct nbd_export *exp, bool ro)
{
	memset(exp, 0, sizeof(*exp));
	exp->name = ro ? "ro" : "mem";
	exp->description = ro ? "in-memory export, read-only" : "in-memory export";
	exp->size = mem_size;
	/* One process, one copy of the bytes: a FLUSH on any connection
	 * covers every write any connection has completed. */
	exp->caps = ro ? NBD_EXPORT_READ_ONLY | NBD_EXPORT_CAN_FLUSH | NBD_EXPORT_CAN_MULTI_CONN |
				    NBD_EXPORT_CAN_CACHE | NBD_EXPORT_BLOCK_STATUS
		       : CAPS_RW;
	exp->block_max = 32u << 20;
}

static int
srv_lookup(void *opaque, const char *name, struct nbd_export *exp)
{
	(void)opaque;
	if (name[0] == '\0' || strcmp(name, "mem") == 0)
		fill_export(exp, false);
	else if (strcmp(name, "ro") == 0)
		fill_export(exp, true);
	else
		return -ENOENT;
	return 0;
}

static int
srv_list(void *opaque, size_t index, struct nbd_export *exp)
{
	(void)opaque;
	if (index > 1)
		return -ENOENT;
	fill_export(exp, index == 1);
	return 0;
}

static const struct nbd_server_ops srv_ops = { .lookup = srv_lookup, .list = srv_list };
static struct nbd_conn_params srv_params;

/* ---------------------------------------------------------- the store */

static bool
blk_allocated(uint64_t b)
{
	return alloc_map[b] != 0;
}

static void
mark(uint64_t off, uint64_t len, bool allocated)
{
	uint64_t b;

	if (len == 0)
		return;
	for (b = off / BLK; b <= (off + len - 1) / BLK; b++) {
		if (allocated) {
			alloc_map[b] = 1;
		} else if (b * BLK >= off && (b + 1) * BLK <= off + len) {
			alloc_map[b] = 0; /* only whole blocks become holes */
		}
	}
}

/* Zero [off, off + len); punch whole blocks if @p punch. */
static void
zero_range(uint64_t off, uint64_t len, bool punch)
{
	memset(mem + off, 0, len);
	if (punch)
		mark(off, len, false);
}

static uint32_t
blk_status(uint64_t b)
{
	uint64_t off = b * BLK, n = mem_size - off < BLK ? mem_size - off : BLK, i;

	if (!blk_allocated(b))
		return NBD_STATE_HOLE | NBD_STATE_ZERO;
	for (i = 0; i < n; i++)
		if (mem[off + i] != 0)
			return 0;
	return NBD_STATE_ZERO;
}

/* ------------------------------------------------------------ clients */

struct client {
	int fd;
	struct nbd_conn *c;
	uint8_t in[IN_CAP];
	size_t in_len;
	/* A payload being received: into dst (the export), or dropped. */
	bool pl_active;
	struct nbd_request pl_req;
	uint8_t *pl_dst;
	uint64_t pl_left;
	/* Output: a byte queue; reads append their data too. */
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	FILE *rec;
	bool closing;
};

static int epfd;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
out_put(struct client *cl, const void *p, size_t n)
{
	if (cl->out_len + n > cl->out_cap) {
		size_t cap = cl->out_cap ? cl->out_cap : 65536;

		while (cap < cl->out_len + n)
			cap *= 2;
		cl->out = realloc(cl->out, cap);
		if (cl->out == NULL)
			die("realloc");
		cl->out_cap = cap;
	}
	memcpy(cl->out + cl->out_len, p, n);
	cl->out_len += n;
}

/* Move what lib/nbd queued (handshake replies) to the socket queue. */
static void
out_from_conn(struct client *cl)
{
	const void *d;
	size_t n = nbd_conn_output(cl->c, &d);

	if (n > 0) {
		out_put(cl, d, n);
		nbd_conn_output_consume(cl->c, n);
	}
}

static void
reply_error(struct client *cl, const struct nbd_request *req, uint32_t err, const char *why)
{
	uint8_t b[NBD_REPLY_ERROR_MAX];
	ssize_t n = nbd_reply_error(cl->c, req, err, why, b, sizeof(b));

	if (n > 0)
		out_put(cl, b, (size_t)n);
}

static void
reply_ok(struct client *cl, const struct nbd_request *req)
{
	uint8_t b[NBD_REPLY_HDR_MAX];
	ssize_t n = nbd_reply_ok(cl->c, req, b, sizeof(b));

	if (n > 0)
		out_put(cl, b, (size_t)n);
}

static void
do_read(struct client *cl, const struct nbd_request *req)
{
	uint8_t h[NBD_REPLY_HOLE_MAX];
	uint64_t off = req->offset, end = req->offset + req->len, run;
	bool hole;
	ssize_t n;

	if (req->len == 0 || nbd_conn_reply_mode(cl->c) == NBD_REPLY_SIMPLE ||
	    (req->flags & NBD_CMD_FLAG_DF)) {
		if (req->len == 0) {
			reply_ok(cl, req);
			return;
		}
		n = nbd_reply_read_data(cl->c, req, off, req->len, true, h, sizeof(h));
		out_put(cl, h, (size_t)n);
		out_put(cl, mem + off, req->len);
		return;
	}
	/* Runs of holes and data, one chunk each; the last one is DONE. */
	while (off < end) {
		hole = !blk_allocated(off / BLK);
		run = (off / BLK + 1) * BLK - off;
		while (off + run < end && blk_allocated((off + run) / BLK) != hole)
			run += BLK;
		if (off + run > end)
			run = end - off;
		if (hole)
			n = nbd_reply_read_hole(cl->c, req, off, run, off + run == end, h,
						sizeof(h));
		else
			n = nbd_reply_read_data(cl->c, req, off, run, off + run == end, h,
						sizeof(h));
		if (n < 0) {
			fprintf(stderr, "read reply: %s\n", strerror((int)-n));
			exit(1);
		}
		out_put(cl, h, (size_t)n);
		if (!hole)
			out_put(cl, mem + off, run);
		off += run;
	}
}

static void
do_block_status(struct client *cl, const struct nbd_request *req)
{
	struct nbd_extent ext[MAX_EXTENTS];
	uint8_t b[NBD_REPLY_BLOCK_STATUS_SIZE(MAX_EXTENTS)];
	uint64_t off = req->offset, blk;
	size_t n = 0;
	uint32_t st;
	ssize_t r;

	if (req->len == 0 || off >= mem_size) {
		reply_error(cl, req, NBD_EINVAL, "empty block status");
		return;
	}
	while (off < req->offset + req->len && off < mem_size && n < MAX_EXTENTS) {
		blk = off / BLK;
		st = blk_status(blk);
		if (n > 0 && ext[n - 1].flags == st) {
			ext[n - 1].length += (blk + 1) * BLK - off;
		} else {
			ext[n].length = (blk + 1) * BLK - off;
			ext[n].flags = st;
			n++;
		}
		off = (blk + 1) * BLK;
	}
	if (off > mem_size)
		ext[n - 1].length -= off - mem_size;
	r = nbd_reply_block_status(cl->c, req, ext, n, true, NULL, b, sizeof(b));
	if (r < 0) {
		fprintf(stderr, "block status reply: %s\n", strerror((int)-r));
		exit(1);
	}
	out_put(cl, b, (size_t)r);
}

/* A request whose payload (if any) is in: act and answer. */
static void
execute(struct client *cl, const struct nbd_request *req)
{
	if (req->error != 0) {
		reply_error(cl, req, req->error, req->why);
		return;
	}
	switch (req->type) {
	case NBD_CMD_READ:
		do_read(cl, req);
		return;
	case NBD_CMD_WRITE:
		mark(req->offset, req->len, true); /* the data is in place already */
		break;
	case NBD_CMD_TRIM:
		zero_range(req->offset, req->len, true);
		break;
	case NBD_CMD_WRITE_ZEROES:
		zero_range(req->offset, req->len, !(req->flags & NBD_CMD_FLAG_NO_HOLE));
		if (req->flags & NBD_CMD_FLAG_NO_HOLE)
			mark(req->offset, req->len, true);
		break;
	case NBD_CMD_BLOCK_STATUS:
		do_block_status(cl, req);
		return;
	default: /* FLUSH, CACHE: memory is as durable as it gets here */
		break;
	}
	reply_ok(cl, req);
}

/* Take what is buffered in cl->in. */
static void
process(struct client *cl)
{
	struct nbd_request req;
	size_t used = 0, n;
	ssize_t r;

	while (!cl->closing) {
		enum nbd_phase ph = nbd_conn_phase(cl->c);

		if (cl->pl_active) {
			n = cl->in_len - used;
			if (n > cl->pl_left)
				n = (size_t)cl->pl_left;
			if (cl->pl_dst != NULL) {
				memcpy(cl->pl_dst, cl->in + used, n);
				cl->pl_dst += n;
			}
			used += n;
			cl->pl_left -= n;
			if (cl->pl_left > 0)
				break;
			cl->pl_active = false;
			execute(cl, &cl->pl_req);
			continue;
		}
		if (ph == NBD_PHASE_GREETING || ph == NBD_PHASE_OPTIONS) {
			r = nbd_conn_input(cl->c, cl->in + used, cl->in_len - used);
			out_from_conn(cl);
			if (r < 0 || nbd_conn_phase(cl->c) == NBD_PHASE_CLOSED) {
				cl->closing = true;
				break;
			}
			used += (size_t)r;
			if (r == 0 && nbd_conn_phase(cl->c) == ph)
				break;
			continue;
		}
		if (ph != NBD_PHASE_TRANSMISSION) {
			cl->closing = true;
			break;
		}
		if (cl->out_len - cl->out_off > OUT_HIGH)
			break; /* let the client read first */
		r = nbd_request_parse(cl->c, cl->in + used, cl->in_len - used, &req);
		if (r == 0)
			break;
		if (r < 0) {
			fprintf(stderr, "closing: %s\n", req.why ? req.why : strerror((int)-r));
			cl->closing = true;
			break;
		}
		used += (size_t)r;
		if (req.type == NBD_CMD_DISC) {
			cl->closing = true; /* everything before it is answered */
			break;
		}
		if (req.payload != NBD_PAYLOAD_NONE) {
			cl->pl_active = true;
			cl->pl_req = req;
			cl->pl_left = req.payload_len;
			cl->pl_dst = req.payload == NBD_PAYLOAD_DATA ? mem + req.offset : NULL;
			continue;
		}
		execute(cl, &req);
	}
	memmove(cl->in, cl->in + used, cl->in_len - used);
	cl->in_len -= used;
}

static void
client_free(struct client *cl)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, cl->fd, NULL);
	close(cl->fd);
	if (cl->rec != NULL)
		fclose(cl->rec);
	nbd_conn_destroy(cl->c);
	free(cl->out);
	free(cl);
}

/* Send what is queued. @return false if the client is gone. */
static bool
flush_out(struct client *cl)
{
	struct epoll_event ev = { .data.ptr = cl };
	ssize_t n;

	while (cl->out_off < cl->out_len) {
		n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return false;
		cl->out_off += (size_t)n;
	}
	if (cl->out_off == cl->out_len)
		cl->out_off = cl->out_len = 0;
	ev.events = EPOLLIN | (cl->out_len > 0 ? EPOLLOUT : 0);
	epoll_ctl(epfd, EPOLL_CTL_MOD, cl->fd, &ev);
	return !(cl->closing && cl->out_len == 0);
}

static void
client_event(struct client *cl, uint32_t events)
{
	ssize_t n;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (;;) {
			/* A payload with nothing buffered goes straight into place. */
			if (cl->pl_active && cl->in_len == 0 && cl->pl_dst != NULL) {
				n = recv(cl->fd, cl->pl_dst, (size_t)cl->pl_left, 0);
				if (n > 0) {
					if (cl->rec != NULL)
						fwrite(cl->pl_dst, 1, (size_t)n, cl->rec);
					cl->pl_dst += n;
					cl->pl_left -= (uint64_t)n;
					if (cl->pl_left == 0) {
						cl->pl_active = false;
						execute(cl, &cl->pl_req);
						process(cl);
					}
					continue;
				}
			} else {
				if (cl->in_len == IN_CAP)
					break; /* backlogged: wait for EPOLLOUT */
				n = recv(cl->fd, cl->in + cl->in_len, IN_CAP - cl->in_len, 0);
				if (n > 0) {
					if (cl->rec != NULL)
						fwrite(cl->in + cl->in_len, 1, (size_t)n, cl->rec);
					cl->in_len += (size_t)n;
					process(cl);
					if (cl->closing)
						break;
					continue;
				}
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			/* EOF or error: a client that stops mid-request is dropped. */
			client_free(cl);
			return;
		}
	}
	if (!cl->closing)
		process(cl); /* a backlog may have drained */
	if (!flush_out(cl))
		client_free(cl);
}

static void
accept_client(int lfd)
{
	struct epoll_event ev;
	struct client *cl;
	char path[4096];
	int fd, rc;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		die("calloc");
	cl->fd = fd;
	rc = nbd_conn_create(&srv_ops, NULL, &srv_params, &cl->c);
	if (rc < 0) {
		fprintf(stderr, "nbd_conn_create: %s\n", strerror(-rc));
		exit(1);
	}
	if (record_dir != NULL) {
		snprintf(path, sizeof(path), "%s/conn-%u.bin", record_dir, conn_seq++);
		cl->rec = fopen(path, "wb");
	}
	ev.events = EPOLLIN;
	ev.data.ptr = cl;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl");
	out_from_conn(cl); /* the greeting */
	if (!flush_out(cl))
		client_free(cl);
}

static uint64_t
parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	if (*end == 'K' || *end == 'k')
		v <<= 10;
	else if (*end == 'M' || *end == 'm')
		v <<= 20;
	return v;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev, evs[64];
	const char *sock = NULL;
	static int listen_tag;
	int lfd, opt, i, n;

	mem_size = 16u << 20;
	while ((opt = getopt(argc, argv, "u:s:r:SE")) != -1) {
		switch (opt) {
		case 'u':
			sock = optarg;
			break;
		case 's':
			mem_size = parse_size(optarg);
			break;
		case 'r':
			record_dir = optarg;
			break;
		case 'S':
			srv_params.flags |= NBD_CONN_NO_STRUCTURED;
			break;
		case 'E':
			srv_params.flags |= NBD_CONN_NO_EXTENDED;
			break;
		default:
			fprintf(stderr, "usage: %s -u SOCKET [-s SIZE] [-r DIR] [-S] [-E]\n",
				argv[0]);
			return 2;
		}
	}
	if (sock == NULL || strlen(sock) >= sizeof(sa.sun_path) || mem_size == 0 ||
	    mem_size > (1ull << 32)) {
		fprintf(stderr, "need -u SOCKET (and a size of at most 4 GiB)\n");
		return 2;
	}
	mem = calloc(1, (size_t)mem_size);
	alloc_map = calloc(1, (size_t)((mem_size + BLK - 1) / BLK));
	if (mem == NULL || alloc_map == NULL)
		die("calloc");
	signal(SIGPIPE, SIG_IGN);

	strcpy(sa.sun_path, sock);
	unlink(sock);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0)
		die(sock);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.ptr = &listen_tag;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll_ctl");
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		n = epoll_wait(epfd, evs, 64, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == &listen_tag)
				accept_client(lfd);
			else
				client_event(evs[i].data.ptr, evs[i].events);
		}
	}
}
