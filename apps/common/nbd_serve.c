/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NBD server's sockets and request flow (nbd_serve.h), shared by nbs
 * and nbs-proxy. lib/nbd owns the protocol (the handshake, validating
 * every request, framing every reply); this file owns the sockets; the
 * backend's ops own the buffers and what a request does:
 *
 *   socket --recv--> request header  --nbd_request_parse()--> prepare()
 *   WRITE payload --recvmsg--> the backend's buffers (io->iov) --submit()-->
 *   backend --nbd_serve_io_done()--> reply header + io->iov --sendmsg--> socket
 *
 * so a write's payload is copied once, by the kernel, from the socket into
 * the buffers the backend writes from; a read's data goes from the
 * buffers the backend filled to the socket: copied into it, or, for a
 * backend's memory that stays mapped (io->stable), by reference through
 * a pipe (vmsplice, splice), so that the client's recv is its one copy.
 * While a write's payload arrives, recvmsg reads it and the next request
 * header in one call (the payload's iovecs, then the header's); only
 * payload bytes that arrived in a batch of small requests (read with the
 * headers before them) are copied out of the input buffer again, and
 * those are counted (copied_in at exit).
 *
 * Many requests are in flight per connection; replies go out in the order
 * the backend completes them. A backend that has no buffer free for a
 * request (prepare() says -EAGAIN) stalls its connection: nothing more is
 * read from it until a request of its own gave its buffers back. One
 * thread: the sockets are in this layer's epoll fd (level triggered),
 * which the program's loop watches, and nbd_serve_poll() runs in each of
 * its rounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <bulk/bulk_bs.h>

#include "app.h"
#include "nbd.h"
#include "nbd_serve.h"

#define NS_IN_CAP	    (256u << 10) /* input buffer: headers, handshake */
#define NS_MAX_INFLIGHT	    256u	 /* requests per connection before reading stops */
#define NS_OUT_HIGH	    (16u << 20)	 /* reply bytes queued before reading stops */
#define NS_IOV		    64u		 /* iovecs per sendmsg / recvmsg */
#define NS_EVENTS	    64u
#define NS_FREE_MAX	    1024u /* request records kept for reuse */
#define NS_MAX_CONNS	    64u
#define NS_READ_ROUNDS	    16u /* recv calls per connection per poll round */
/* Exact payload: a recv call per request, so more of them per round (a
 * client's whole queue depth goes to the backend in one round). */
#define NS_READ_EXACT	    64u
#define NS_PEEK_HDRS	    32u /* request headers looked at by one MSG_PEEK */
/* A client with less than this of our replies still to read is waiting on
 * us, or soon will be (nbd_serve_busy()). */
#define NS_SPIN_OUTQ	    (128u << 10)
/* Zero-copy replies (conn_write()): the pipe they pass through, and the
 * memory their headers are copied to, which is never written again while
 * the pipe or the socket may still refer to it (it is replaced instead). */
#define NS_PIPE_SIZE	    (1u << 20)
/* Larger READs are copied: their copy is cheap per byte (sequential), and
 * by reference all of it falls to the client (1 MiB reads at QD 8 on two
 * vCPUs: 3.4 GB/s copied, 2.7 GB/s by reference). */
#define NS_SPLICE_MAX	    (64u << 10)
#define NS_ARENA	    (256u << 10)
_Static_assert(NS_ARENA >= 4 * NBD_REPLY_ERROR_MAX, "the arena holds a few headers of any kind");
#define SD_LISTEN_FDS_START 3
/* A record and its backend's part, which follows it aligned. */
#define NS_IO_HEAD                                                                        \
	((sizeof(struct nbd_serve_io) + alignof(max_align_t) - 1) / alignof(max_align_t) * \
	 alignof(max_align_t))

enum ns_kind { NS_LISTENER = 1, NS_CONN };

struct ns_listener {
	int kind; /* NS_LISTENER; first, as in struct nbd_serve_conn */
	int fd;
	bool is_unix, adopted;
	char uri[NI_MAXHOST + NI_MAXSERV + 512];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unlinked at close */
};

struct nbd_serve_conn {
	int kind; /* NS_CONN */
	int fd;
	uint64_t id;
	struct nbd_serve *ns;
	struct nbd_conn *c;
	void *user;			     /* the backend's, from conn_open */
	struct nbd_serve_conn *prev, *next;  /* every connection */
	struct nbd_serve_conn *dirty_next;   /* replies queued or state changed */
	bool dirty;
	bool opened;	/* conn_open said yes: conn_close is owed */
	bool closing;	/* no more requests: DISC, a protocol error, EOF, shutdown */
	bool dead;	/* the socket failed: nothing more is sent */
	bool unwatched; /* taken out of the epoll set (dead: HUP would repeat) */
	bool early;	/* cl->in still holds bytes read during the handshake */
	bool peek;	/* exact payload: the last request had none (peek_headers()) */
	uint32_t events;
	/* Input. */
	uint8_t *in;
	size_t in_len;
	/* A request whose prepare() said -EAGAIN: tried again before anything else. */
	struct nbd_serve_io *stall_io;
	/* A payload being received: into pl_io's iovecs, or dropped (pl_drop). */
	struct nbd_serve_io *pl_io;
	bool pl_drop;
	uint64_t pl_got, pl_left;
	/* Output, in completion order. */
	struct nbd_serve_io *out_head, *out_tail;
	size_t out_bytes;
	/* Zero-copy output: bytes vmspliced into the pipe and not yet spliced
	 * to the socket; reply headers for it are copied into the arena. */
	int pfd[2];
	size_t pipe_len;
	uint8_t *arena;
	size_t apos;
	bool no_splice; /* splicing failed here: copy from now on */
	unsigned inflight; /* with the backend */
	uint64_t requests;
};

struct nbd_serve {
	const struct nbd_serve_ops *ops;
	void *arg;
	int epfd;
	struct bulk_bs_server *srv; /* watches epfd (nbd_serve_params.srv) */
	bool exact; /* nbd_serve_params.exact_payload */
	bool can_splice; /* vmsplice + splice to a socket work here (probed) */
	size_t io_size;
	struct nbd_export exp;
	struct nbd_server_ops nops;
	struct ns_listener lis[2 * NBD_SERVE_MAX_LISTEN];
	unsigned nlis;
	struct nbd_serve_conn *conns;
	unsigned nconns, max_conns;
	struct nbd_serve_conn *dirty;
	struct nbd_serve_io *free_ios;
	unsigned nfree;
	uint64_t inflight, next_id;
	/* Totals, printed at close. */
	uint64_t accepted, requests, errors, copied_in, copied_early, bytes_in, bytes_out, stalls;
	uint64_t holes; /* READs answered with one OFFSET_HOLE chunk */
	uint64_t spliced; /* reply bytes sent by reference (zero copy) */
};

/* ------------------------------------------------------------ exports */

static int
ns_lookup(void *opaque, const char *name, struct nbd_export *exp)
{
	struct nbd_serve *ns = opaque;

	/* "" is the default export; a name, if we have one, must match. */
	if (name[0] != '\0' && strcmp(name, ns->exp.name) != 0 && ns->exp.name[0] != '\0')
		return -ENOENT;
	*exp = ns->exp;
	return 0;
}

static int
ns_list(void *opaque, size_t index, struct nbd_export *exp)
{
	struct nbd_serve *ns = opaque;

	if (index > 0)
		return -ENOENT;
	*exp = ns->exp;
	return 0;
}

/* ------------------------------------------------------------- iovecs */

/*
 * Append to @p out (room for @p max) the pieces of @p iov that cover
 * [off, off + len). @return entries added; *all whether the range fit.
 */
static unsigned
iov_slice(const struct iovec *iov, unsigned niov, uint64_t off, uint64_t len, struct iovec *out,
	  unsigned max, bool *all)
{
	unsigned k = 0;

	for (unsigned i = 0; i < niov && len > 0; i++) {
		size_t n = iov[i].iov_len;

		if (off >= n) {
			off -= n;
			continue;
		}
		if (k == max) {
			*all = false;
			return k;
		}
		n -= (size_t)off;
		if (n > len)
			n = (size_t)len;
		out[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		out[k++].iov_len = n;
		len -= n;
		off = 0;
	}
	*all = len == 0;
	return k;
}

/* Copy @p len bytes of @p src into the io's buffers at @p off. */
static void
iov_copy_in(struct nbd_serve_io *io, uint64_t off, const uint8_t *src, size_t len)
{
	struct iovec v[NS_IOV];
	bool all;

	while (len > 0) {
		unsigned k = iov_slice(io->iov, io->niov, off, len, v, NS_IOV, &all);

		for (unsigned i = 0; i < k; i++) {
			memcpy(v[i].iov_base, src, v[i].iov_len);
			src += v[i].iov_len;
			off += v[i].iov_len;
			len -= v[i].iov_len;
		}
		if (k == 0) /* the backend's pieces are shorter than the request: cannot be */
			break;
	}
}

/* ------------------------------------------------------ request records */

static void conn_mark_dirty(struct nbd_serve_conn *cl);

static struct nbd_serve_io *
io_get(struct nbd_serve *ns, struct nbd_serve_conn *cl)
{
	struct nbd_serve_io *io = ns->free_ios;

	if (io != NULL) {
		ns->free_ios = io->next;
		ns->nfree--;
	} else {
		io = calloc(1, ns->io_size);
		if (io == NULL)
			return NULL;
		io->priv = (uint8_t *)io + NS_IO_HEAD;
	}
	io->conn = cl;
	io->next = NULL;
	io->iov = NULL;
	io->niov = 0;
	io->prepared = false;
	io->stable = false;
	io->hlen = io->dlen = io->sent = 0;
	return io;
}

/* Give back what the backend lent the request (once). */
static void
io_release(struct nbd_serve_io *io)
{
	struct nbd_serve_conn *cl = io->conn;
	struct nbd_serve *ns = cl->ns;

	if (!io->prepared)
		return;
	io->prepared = false;
	if (ns->ops->release != NULL)
		ns->ops->release(ns->arg, cl->user, io);
	/* What it held may be what a stalled request waits for. */
	if (cl->stall_io != NULL)
		conn_mark_dirty(cl);
}

static void
io_put(struct nbd_serve *ns, struct nbd_serve_io *io)
{
	io_release(io);
	io->conn = NULL;
	if (ns->nfree >= NS_FREE_MAX) {
		if (ns->ops->fini != NULL)
			ns->ops->fini(ns->arg, io);
		free(io);
		return;
	}
	io->next = ns->free_ios;
	ns->free_ios = io;
	ns->nfree++;
}

/* ------------------------------------------------------------ replies */

static void
conn_mark_dirty(struct nbd_serve_conn *cl)
{
	if (cl->dirty)
		return;
	cl->dirty = true;
	cl->dirty_next = cl->ns->dirty;
	cl->ns->dirty = cl;
}

static void
out_push(struct nbd_serve_conn *cl, struct nbd_serve_io *io)
{
	if (cl->dead) {
		io_put(cl->ns, io);
		return;
	}
	if (cl->out_tail != NULL)
		cl->out_tail->next = io;
	else
		cl->out_head = io;
	cl->out_tail = io;
	io->next = NULL;
	cl->out_bytes += io->hlen + io->dlen;
	conn_mark_dirty(cl);
}

/* Answer @p io's request with an error (an NBD_E* value). */
static void
reply_error(struct nbd_serve_conn *cl, struct nbd_serve_io *io, uint32_t err, const char *why)
{
	ssize_t r = nbd_reply_error(cl->c, &io->req, err, why, io->hdr, sizeof(io->hdr));

	cl->ns->errors++;
	io_release(io); /* nothing of the backend's is sent with an error */
	if (r < 0) {	/* cannot happen: the buffer fits any error */
		io_put(cl->ns, io);
		cl->closing = true;
		return;
	}
	io->hlen = (size_t)r;
	io->dlen = 0;
	out_push(cl, io);
}

static void
reply_ok(struct nbd_serve_conn *cl, struct nbd_serve_io *io)
{
	ssize_t r = nbd_reply_ok(cl->c, &io->req, io->hdr, sizeof(io->hdr));

	if (r < 0) {
		reply_error(cl, io, NBD_EIO, "reply");
		return;
	}
	io->hlen = (size_t)r;
	io->dlen = 0;
	out_push(cl, io);
}

void
nbd_serve_io_done(struct nbd_serve_io *io, int status)
{
	struct nbd_serve_conn *cl = io->conn;
	ssize_t r;

	cl->inflight--;
	cl->ns->inflight--;
	conn_mark_dirty(cl);
	if (cl->dead) {
		io_put(cl->ns, io);
		return;
	}
	if (status < 0) {
		reply_error(cl, io, nbd_errno_to_wire(status, io->req.flags), strerror(-status));
		return;
	}
	if (io->req.type != NBD_CMD_READ) {
		/* Nothing of the backend's goes out: give it back now. */
		io_release(io);
		reply_ok(cl, io);
		return;
	}
	/* One OFFSET_DATA chunk (with DONE) or a simple reply: the header,
	 * then the data straight from the buffers the backend filled. The
	 * backends cannot say which ranges are holes, so none are sent. */
	r = nbd_reply_read_data(cl->c, &io->req, io->req.offset, io->req.len, true, io->hdr,
				sizeof(io->hdr));
	if (r < 0) {
		reply_error(cl, io, NBD_EIO, "read reply");
		return;
	}
	io->hlen = (size_t)r;
	io->dlen = (size_t)io->req.len;
	out_push(cl, io);
}

/*
 * A structured READ wholly inside a hole: one OFFSET_HOLE chunk, and the
 * backend is not asked for the zeros. @return true when answered so.
 */
static bool
read_hole(struct nbd_serve_conn *cl, struct nbd_serve_io *io)
{
	struct nbd_serve *ns = cl->ns;
	const struct nbd_request *req = &io->req;
	struct nbd_extent ext;
	ssize_t r;

	if (ns->ops->extents == NULL || req->len == 0 || req->len > UINT32_MAX ||
	    (req->flags & NBD_CMD_FLAG_DF) || nbd_conn_reply_mode(cl->c) == NBD_REPLY_SIMPLE)
		return false;
	if (ns->ops->extents(ns->arg, cl->user, req->offset, req->len, &ext, 1) != 1 ||
	    ext.length < req->len || !(ext.flags & NBD_STATE_HOLE))
		return false;
	r = nbd_reply_read_hole(cl->c, req, req->offset, req->len, true, io->hdr,
				sizeof(io->hdr));
	if (r < 0)
		return false;
	ns->holes++;
	io_release(io);
	io->hlen = (size_t)r;
	io->dlen = 0;
	out_push(cl, io);
	return true;
}

/* A request lib/nbd validated and the backend prepared, its payload (if any) in io->iov. */
static void
dispatch(struct nbd_serve_conn *cl, struct nbd_serve_io *io)
{
	struct nbd_serve *ns = cl->ns;
	const struct nbd_request *req = &io->req;
	int rc;

	cl->requests++;
	ns->requests++;
	if (req->error != 0) {
		reply_error(cl, io, req->error, req->why);
		return;
	}
	switch (req->type) {
	case NBD_CMD_READ:
		if (read_hole(cl, io))
			return;
		/* fall through */
	case NBD_CMD_WRITE:
	case NBD_CMD_FLUSH:
	case NBD_CMD_TRIM:
	case NBD_CMD_WRITE_ZEROES:
		cl->inflight++;
		ns->inflight++;
		rc = ns->ops->submit(ns->arg, cl->user, io);
		if (rc < 0) {
			cl->inflight--;
			ns->inflight--;
			reply_error(cl, io, nbd_errno_to_wire(rc, req->flags), strerror(-rc));
		}
		return;
	case NBD_CMD_BLOCK_STATUS: {
		/* As many extents as the reply header holds; the client asks
		 * again for the rest. A backend that cannot tell: all data. */
		struct nbd_extent ext[NBD_SERVE_EXTENTS_MAX];
		uint64_t size = ns->exp.size, len = req->len;
		int n = -1;
		ssize_t r;

		if (req->offset + len > size)
			len = size - req->offset;
		if (len == 0) {
			reply_error(cl, io, NBD_EINVAL, "block status at the end");
			return;
		}
		if (ns->ops->extents != NULL)
			n = ns->ops->extents(ns->arg, cl->user, req->offset, len, ext,
					     (req->flags & NBD_CMD_FLAG_REQ_ONE) ? 1u
										: NBD_SERVE_EXTENTS_MAX);
		if (n <= 0) {
			ext[0].length = len;
			ext[0].flags = 0;
			n = 1;
		}
		r = nbd_reply_block_status(cl->c, req, ext, (size_t)n, true, NULL, io->hdr,
					   sizeof(io->hdr));
		if (r < 0) {
			reply_error(cl, io, nbd_errno_to_wire((int)r, req->flags),
				    "block status");
			return;
		}
		io->hlen = (size_t)r;
		io->dlen = 0;
		out_push(cl, io);
		return;
	}
	case NBD_CMD_CACHE: /* a hint; the backends have nothing to warm */
		reply_ok(cl, io);
		return;
	default:
		reply_error(cl, io, NBD_EINVAL, "unsupported command");
		return;
	}
}

/* ---------------------------------------------------------- connections */

static void
conn_log(const struct nbd_serve_conn *cl, const char *what, const char *why)
{
	app_say("nbd: client=%" PRIu64 " %s: %s", cl->id, what, why);
}

/* No more requests are read or started for now. */
static bool
conn_throttled(const struct nbd_serve_conn *cl)
{
	return cl->stall_io != NULL || cl->inflight >= NS_MAX_INFLIGHT ||
	       cl->out_bytes > NS_OUT_HIGH;
}

static bool
needs_backend(const struct nbd_request *req)
{
	return req->error == 0 &&
	       (req->type == NBD_CMD_READ || req->type == NBD_CMD_WRITE ||
		req->type == NBD_CMD_FLUSH || req->type == NBD_CMD_TRIM ||
		req->type == NBD_CMD_WRITE_ZEROES);
}

/*
 * Start a parsed request: the backend's buffers, then its payload or its
 * dispatch. @return false if the backend has no buffers now (the request
 * waits in cl->stall_io and the connection reads nothing more).
 */
static bool
io_start(struct nbd_serve_conn *cl, struct nbd_serve_io *io)
{
	struct nbd_serve *ns = cl->ns;
	struct nbd_request *req = &io->req;
	bool again = cl->stall_io == io;

	cl->stall_io = NULL;
	if (needs_backend(req)) {
		int rc = ns->ops->prepare(ns->arg, cl->user, io);

		if (rc == -EAGAIN) {
			if (!again)
				ns->stalls++;
			cl->stall_io = io;
			return false;
		}
		if (rc < 0) {
			req->error = nbd_errno_to_wire(rc, req->flags);
			req->why = strerror(-rc);
		} else {
			io->prepared = true;
		}
	}
	if (req->payload != NBD_PAYLOAD_NONE) {
		cl->pl_io = io;
		cl->pl_drop = req->payload != NBD_PAYLOAD_DATA || req->error != 0;
		cl->pl_got = 0;
		cl->pl_left = req->payload_len;
		if (cl->pl_left > 0)
			return true;
		cl->pl_io = NULL;
	}
	dispatch(cl, io);
	return true;
}

/* The payload of cl->pl_io is all in: execute or answer it. */
static void
payload_done(struct nbd_serve_conn *cl)
{
	struct nbd_serve_io *io = cl->pl_io;

	cl->pl_io = NULL;
	dispatch(cl, io);
}

/* The client chose its export: the backend sets up (once). */
static int
conn_open(struct nbd_serve_conn *cl)
{
	struct nbd_serve *ns = cl->ns;
	int rc;

	if (cl->opened)
		return 0;
	rc = ns->ops->conn_open != NULL ? ns->ops->conn_open(ns->arg, cl, &cl->user) : 0;
	if (rc < 0) {
		conn_log(cl, "closing", strerror(-rc));
		return rc;
	}
	cl->opened = true;
	cl->early = true;
	return 0;
}

/* Take what cl->in holds: handshake, request headers, payload bytes. */
static void
conn_process(struct nbd_serve_conn *cl)
{
	struct nbd_request req;
	size_t used = 0, k;
	ssize_t r;

	while (!cl->closing) {
		enum nbd_phase ph = nbd_conn_phase(cl->c);

		if (cl->stall_io != NULL) {
			if (!io_start(cl, cl->stall_io))
				break;
			continue;
		}
		if (cl->pl_io != NULL) {
			k = cl->in_len - used;
			if (k > cl->pl_left)
				k = (size_t)cl->pl_left;
			if (k == 0)
				break;
			if (!cl->pl_drop) {
				iov_copy_in(cl->pl_io, cl->pl_got, cl->in + used, k);
				/* Pipelined behind the handshake (read before
				 * the requests could be told apart), or read
				 * with the headers before it. */
				if (cl->early)
					cl->ns->copied_early += k;
				else
					cl->ns->copied_in += k;
			}
			used += k;
			cl->pl_got += k;
			cl->pl_left -= k;
			if (cl->pl_left > 0)
				break;
			payload_done(cl);
			continue;
		}
		if (ph == NBD_PHASE_GREETING || ph == NBD_PHASE_OPTIONS) {
			r = nbd_conn_input(cl->c, cl->in + used, cl->in_len - used);
			conn_mark_dirty(cl); /* handshake output to send */
			if (r < 0 || nbd_conn_phase(cl->c) == NBD_PHASE_CLOSED) {
				if (r < 0)
					conn_log(cl, "handshake", strerror((int)-r));
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
		if (conn_open(cl) < 0) {
			cl->closing = true;
			break;
		}
		if (conn_throttled(cl))
			break;
		r = nbd_request_parse(cl->c, cl->in + used, cl->in_len - used, &req);
		if (r == 0)
			break;
		if (r < 0) {
			conn_log(cl, "closing", req.why != NULL ? req.why : strerror((int)-r));
			cl->closing = true;
			break;
		}
		used += (size_t)r;
		cl->peek = req.payload == NBD_PAYLOAD_NONE;
		if (req.type == NBD_CMD_DISC) {
			cl->closing = true; /* what is in flight is answered, then the close */
			break;
		}
		{
			struct nbd_serve_io *io = io_get(cl->ns, cl);

			if (io == NULL) {
				conn_log(cl, "closing", "out of memory for a request");
				cl->closing = true;
				break;
			}
			io->req = req;
			if (!io_start(cl, io))
				break;
		}
	}
	if (used > 0) {
		memmove(cl->in, cl->in + used, cl->in_len - used);
		cl->in_len -= used;
	}
	if (cl->in_len == 0 && cl->opened)
		cl->early = false;
}

/*
 * Exact payload, at a request boundary after a request without payload
 * (a stream of READs): how many bytes of whole request headers can be
 * read in one call without taking a payload byte. The headers are
 * peeked (at most NS_PEEK_HDRS): every one counts up to and including
 * the first that has a payload (a WRITE's, read afterwards straight into
 * its buffers, like any other) or that ends the stream (DISC).
 * @return bytes to read (whole headers), or 0 (read one header as usual).
 */
static size_t
peek_headers(struct nbd_serve_conn *cl, size_t hdr)
{
	bool ext = nbd_conn_reply_mode(cl->c) == NBD_REPLY_EXTENDED;
	size_t take = 0;
	ssize_t r;

	/* Into cl->in (empty): the real read puts the same bytes there. */
	r = recv(cl->fd, cl->in, NS_PEEK_HDRS * hdr, MSG_PEEK | MSG_DONTWAIT);
	if (r <= 0)
		return 0; /* nothing, EOF or an error: the real read says which */
	while (take + hdr <= (size_t)r) {
		const uint8_t *h = cl->in + take;
		uint16_t flags = nbd_get16(h + offsetof(struct nbd_wire_request, flags));
		uint16_t type = nbd_get16(h + offsetof(struct nbd_wire_request, type));

		take += hdr;
		if (type == NBD_CMD_WRITE || type == NBD_CMD_DISC ||
		    (ext && (flags & NBD_CMD_FLAG_PAYLOAD_LEN)))
			break;
	}
	return take;
}

/* Read from the socket; @return work done. */
static int
conn_read(struct nbd_serve_conn *cl)
{
	unsigned rounds = cl->ns->exact ? NS_READ_EXACT : NS_READ_ROUNDS;
	int work = 0;

	for (unsigned round = 0; round < rounds; round++) {
		struct iovec iov[NS_IOV];
		struct msghdr mh = { .msg_iov = iov };
		size_t hdr = nbd_conn_phase(cl->c) == NBD_PHASE_TRANSMISSION
				     ? nbd_conn_request_size(cl->c)
				     : NS_IN_CAP;
		size_t part = 0, asked = 0;
		bool direct = false;
		ssize_t r;

		if (cl->closing || cl->dead)
			break;
		if (cl->pl_io != NULL && !cl->pl_drop && cl->in_len == 0) {
			/* The payload straight into its buffers, the next header
			 * behind it (if every piece of the payload fits). */
			bool all;
			unsigned k = iov_slice(cl->pl_io->iov, cl->pl_io->niov, cl->pl_got,
					       cl->pl_left, iov, NS_IOV - 1, &all);

			for (unsigned i = 0; i < k; i++)
				part += iov[i].iov_len;
			if (all) {
				iov[k].iov_base = cl->in;
				iov[k++].iov_len = hdr;
			}
			mh.msg_iovlen = k;
			direct = true;
		} else {
			size_t room = NS_IN_CAP - cl->in_len;

			if (conn_throttled(cl) && cl->pl_io == NULL)
				break;
			if (cl->ns->exact && nbd_conn_phase(cl->c) == NBD_PHASE_TRANSMISSION) {
				/* Never past the next request header (after a
				 * dropped payload): a write's payload is read
				 * only into its buffers, never copied from here. */
				uint64_t want = hdr + (cl->pl_io != NULL ? cl->pl_left : 0);

				if (want <= cl->in_len)
					break;
				if (want - cl->in_len < room)
					room = (size_t)(want - cl->in_len);
				if (cl->peek && cl->pl_io == NULL && cl->in_len == 0) {
					size_t more = peek_headers(cl, hdr);

					if (more > room)
						room = more;
				}
			}
			if (room == 0)
				break;
			iov[0].iov_base = cl->in + cl->in_len;
			iov[0].iov_len = room;
			mh.msg_iovlen = 1;
		}
		for (size_t i = 0; i < mh.msg_iovlen; i++)
			asked += iov[i].iov_len;
		r = recvmsg(cl->fd, &mh, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r <= 0) {
			/* EOF or an error: at a request boundary that is a
			 * client that went away; mid-request, the request is
			 * dropped. Either way what is in flight completes. */
			if (cl->pl_io != NULL || cl->in_len > 0)
				conn_log(cl, "closing", "the client stopped mid-request");
			cl->closing = true;
			if (r < 0)
				cl->dead = true;
			work++;
			break;
		}
		work++;
		cl->ns->bytes_in += (uint64_t)r;
		if (direct) {
			size_t k = (size_t)r < part ? (size_t)r : part;

			cl->pl_got += k;
			cl->pl_left -= k;
			cl->in_len = (size_t)r - k;
			if (cl->pl_left == 0)
				payload_done(cl);
		} else {
			cl->in_len += (size_t)r;
		}
		conn_process(cl);
		/* Less than asked for: the socket was empty when it returned,
		 * so another call would only say EAGAIN. Level-triggered
		 * epoll brings us back for what arrives later. */
		if ((size_t)r < asked)
			break;
	}
	return work;
}

/*
 * Zero-copy replies. A READ's data that stays mapped (io->stable: a memory
 * store's own blocks) goes to the socket by reference: vmsplice() puts
 * references to its pages (and to copies of the reply headers, in the
 * arena) into a pipe, splice() moves them to the socket, and the client's
 * recv copies from those pages. The one copy of the data is the client's
 * own; copying it into the socket's buffers was a third of the server's
 * CPU per 4 KiB READ. Replies without such data go by sendmsg() as usual,
 * in order with the rest: the pipe is emptied into the socket before any.
 */

/* A queued reply whose data goes by reference (header-only replies go either way). */
static bool
io_by_ref(const struct nbd_serve_conn *cl, const struct nbd_serve_io *io)
{
	return io->stable && io->dlen > 0 && io->dlen <= NS_SPLICE_MAX && cl->ns->can_splice &&
	       !cl->no_splice;
}

/* Move what the pipe holds to the socket. @return true once it is empty. */
static bool
pipe_flush(struct nbd_serve_conn *cl, int *work)
{
	while (cl->pipe_len > 0) {
		ssize_t r = splice(cl->pfd[0], NULL, cl->fd, NULL, cl->pipe_len,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (r <= 0) {
			cl->dead = true;
			cl->closing = true;
			return false;
		}
		(*work)++;
		cl->pipe_len -= (size_t)r;
		cl->ns->bytes_out += (uint64_t)r;
	}
	return true;
}

/* The pipe and the arena, at a connection's first zero-copy reply. */
static bool
splice_setup(struct nbd_serve_conn *cl)
{
	if (cl->arena != NULL)
		return true;
	if (pipe2(cl->pfd, O_NONBLOCK | O_CLOEXEC) < 0)
		goto fail;
	(void)fcntl(cl->pfd[1], F_SETPIPE_SZ, (int)NS_PIPE_SIZE); /* else the default */
	cl->arena = mmap(NULL, NS_ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0);
	if (cl->arena == MAP_FAILED) {
		cl->arena = NULL;
		close(cl->pfd[0]);
		close(cl->pfd[1]);
		goto fail;
	}
	cl->apos = 0;
	return true;
fail:
	cl->pfd[0] = cl->pfd[1] = -1;
	cl->no_splice = true;
	return false;
}

/*
 * Room for a header in the arena. Bytes handed to vmsplice() stay
 * referenced by the pipe or the socket until the client has read them,
 * which we cannot see: so the arena's pages are dropped from our mapping
 * (they live on while referenced) and fresh zero pages take their place.
 */
static uint8_t *
arena_take(struct nbd_serve_conn *cl, size_t len, bool batch_empty)
{
	uint8_t *p;

	if (cl->apos + len > NS_ARENA) {
		if (!batch_empty) /* this batch's own headers are in it */
			return NULL;
		if (madvise(cl->arena, NS_ARENA, MADV_DONTNEED) < 0)
			return NULL;
		cl->apos = 0;
	}
	p = cl->arena + cl->apos;
	cl->apos += len;
	return p;
}

/* Advance the output queue past @p r bytes that went out (or into the pipe). */
static void
out_advance(struct nbd_serve_conn *cl, size_t r)
{
	while (r > 0 && cl->out_head != NULL) {
		struct nbd_serve_io *io = cl->out_head;
		size_t left = io->hlen + io->dlen - io->sent;

		if (r < left) {
			io->sent += r;
			cl->out_bytes -= r;
			break;
		}
		r -= left;
		cl->out_bytes -= left;
		cl->out_head = io->next;
		if (cl->out_head == NULL)
			cl->out_tail = NULL;
		io_put(cl->ns, io);
	}
}

/*
 * The iovecs of the replies at the head of the queue that go the same
 * way: by reference (@p by_ref; headers copied to the arena) or copied.
 * @return iovecs set (@p k of them already).
 */
static unsigned
out_iov(struct nbd_serve_conn *cl, bool by_ref, struct iovec *iov, unsigned k)
{
	for (struct nbd_serve_io *io = cl->out_head; io != NULL && k < NS_IOV; io = io->next) {
		size_t s = io->sent;
		bool all = true;

		if (io->dlen > 0 && io_by_ref(cl, io) != by_ref)
			break; /* the other way: next time */
		if (s < io->hlen) {
			if (by_ref) {
				uint8_t *h = arena_take(cl, io->hlen - s, k == 0);

				if (h == NULL)
					break;
				memcpy(h, io->hdr + s, io->hlen - s);
				iov[k].iov_base = h;
			} else {
				iov[k].iov_base = io->hdr + s;
			}
			iov[k++].iov_len = io->hlen - s;
			s = 0;
		} else {
			s -= io->hlen;
		}
		if (io->dlen > s)
			k += iov_slice(io->iov, io->niov, s, io->dlen - s, iov + k,
				       NS_IOV - (unsigned)k, &all);
		if (!all) /* the rest of it next time, and nothing after it */
			break;
	}
	return k;
}

/* Send what is queued: lib/nbd's handshake output, then the replies. */
static int
conn_write(struct nbd_serve_conn *cl)
{
	int work = 0;

	while (!cl->dead) {
		struct iovec iov[NS_IOV];
		struct msghdr mh = { .msg_iov = iov };
		const void *d;
		size_t hs, k = 0;
		bool by_ref;
		ssize_t r;

		if (!pipe_flush(cl, &work))
			break;
		hs = nbd_conn_output(cl->c, &d);
		by_ref = hs == 0 && cl->out_head != NULL && io_by_ref(cl, cl->out_head) &&
			 splice_setup(cl);
		if (hs > 0) {
			iov[k].iov_base = (void *)(uintptr_t)d;
			iov[k++].iov_len = hs;
		}
		k = out_iov(cl, by_ref, iov, (unsigned)k);
		if (k == 0 && by_ref) { /* no room for a header: copy instead */
			cl->no_splice = true;
			continue;
		}
		if (k == 0)
			break;
		if (by_ref) {
			r = vmsplice(cl->pfd[1], iov, k, SPLICE_F_NONBLOCK);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				/* Nothing went in: send this batch by copy. */
				app_err("nbd: client=%" PRIu64 ": vmsplice: %s: replies are copied",
					cl->id, r < 0 ? strerror(errno) : "nothing taken");
				cl->no_splice = true;
				continue;
			}
			work++;
			cl->pipe_len += (size_t)r;
			cl->ns->spliced += (uint64_t)r;
			out_advance(cl, (size_t)r);
			continue;
		}
		mh.msg_iovlen = k;
		r = sendmsg(cl->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r < 0) {
			cl->dead = true;
			cl->closing = true;
			break;
		}
		work++;
		cl->ns->bytes_out += (uint64_t)r;
		if (hs > 0) {
			size_t t = (size_t)r < hs ? (size_t)r : hs;

			(void)nbd_conn_output_consume(cl->c, t);
			r -= (ssize_t)t;
		}
		out_advance(cl, (size_t)r);
	}
	return work;
}

static bool
conn_output_pending(const struct nbd_serve_conn *cl)
{
	const void *d;

	return cl->out_head != NULL || cl->pipe_len > 0 || nbd_conn_output(cl->c, &d) > 0;
}

static void
conn_free(struct nbd_serve_conn *cl)
{
	struct nbd_serve *ns = cl->ns;
	struct nbd_serve_io *stall = cl->stall_io, *pl = cl->pl_io;

	/* The records first (giving back what they hold may mark it dirty). */
	cl->stall_io = NULL;
	cl->pl_io = NULL;
	if (stall != NULL)
		io_put(ns, stall);
	if (pl != NULL)
		io_put(ns, pl);
	while (cl->out_head != NULL) {
		struct nbd_serve_io *io = cl->out_head;

		cl->out_head = io->next;
		io_put(ns, io);
	}
	if (cl->dirty) {
		struct nbd_serve_conn **pp = &ns->dirty;

		while (*pp != cl)
			pp = &(*pp)->dirty_next;
		*pp = cl->dirty_next;
	}
	if (cl->opened && ns->ops->conn_close != NULL)
		ns->ops->conn_close(ns->arg, cl->user);
	if (!cl->unwatched)
		(void)epoll_ctl(ns->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
	close(cl->fd);
	if (cl->prev != NULL)
		cl->prev->next = cl->next;
	else
		ns->conns = cl->next;
	if (cl->next != NULL)
		cl->next->prev = cl->prev;
	ns->nconns--;
	if (cl->arena != NULL) {
		/* What the socket still holds of them stays referenced. */
		close(cl->pfd[0]);
		close(cl->pfd[1]);
		munmap(cl->arena, NS_ARENA);
	}
	nbd_conn_destroy(cl->c);
	free(cl->in);
	free(cl);
}

/*
 * Make progress on one connection: parse what is buffered (after a
 * throttle lifts, or a stalled request got its buffers), send, set the
 * epoll interest, and free it once it is closing with nothing in flight
 * and nothing left to send.
 * @return true if it still exists.
 */
static bool
conn_settle(struct nbd_serve_conn *cl, int *work)
{
	uint32_t ev;

	if (!cl->closing && (cl->stall_io != NULL || (cl->in_len > 0 && !conn_throttled(cl))))
		conn_process(cl);
	*work += conn_write(cl);
	if (cl->closing && cl->inflight == 0 && (cl->dead || !conn_output_pending(cl))) {
		conn_free(cl);
		return false;
	}
	if (cl->dead) {
		/* EPOLLHUP and EPOLLERR are reported whatever the interest. */
		if (!cl->unwatched)
			(void)epoll_ctl(cl->ns->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
		cl->unwatched = true;
		return true;
	}
	ev = (!cl->closing && !conn_throttled(cl) ? EPOLLIN : 0) |
	     (conn_output_pending(cl) ? EPOLLOUT : 0);
	if (ev != cl->events) {
		struct epoll_event e = { .events = ev, .data.ptr = cl };

		(void)epoll_ctl(cl->ns->epfd, EPOLL_CTL_MOD, cl->fd, &e);
		cl->events = ev;
	}
	return true;
}

static int
conn_accept(struct nbd_serve *ns, struct ns_listener *l)
{
	static const struct nbd_conn_params params = { 0 };
	struct epoll_event e = { .events = EPOLLIN };
	struct nbd_serve_conn *cl;
	int fd, one = 1, work = 0;

	for (;;) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		work++;
		if (ns->nconns >= ns->max_conns) {
			app_err("nbd: %u clients already: refusing one", ns->nconns);
			close(fd);
			continue;
		}
		if (!l->is_unix)
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		cl = calloc(1, sizeof(*cl));
		if (cl == NULL || (cl->in = malloc(NS_IN_CAP)) == NULL ||
		    nbd_conn_create(&ns->nops, ns, &params, &cl->c) < 0) {
			app_err("nbd: out of memory for a client");
			if (cl != NULL)
				free(cl->in);
			free(cl);
			close(fd);
			continue;
		}
		cl->kind = NS_CONN;
		cl->fd = fd;
		cl->pfd[0] = cl->pfd[1] = -1;
		cl->ns = ns;
		cl->id = ns->next_id++;
		cl->events = EPOLLIN;
		e.data.ptr = cl;
		if (epoll_ctl(ns->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
			app_err("nbd: epoll: %s", strerror(errno));
			nbd_conn_destroy(cl->c);
			free(cl->in);
			free(cl);
			close(fd);
			continue;
		}
		cl->next = ns->conns;
		if (ns->conns != NULL)
			ns->conns->prev = cl;
		ns->conns = cl;
		ns->nconns++;
		ns->accepted++;
		conn_mark_dirty(cl); /* the greeting */
	}
	return work;
}

void
nbd_serve_conn_wake(struct nbd_serve_conn *c)
{
	if (c != NULL)
		conn_mark_dirty(c);
}

uint64_t
nbd_serve_conn_id(const struct nbd_serve_conn *c)
{
	return c != NULL ? c->id : 0;
}

/* -------------------------------------------------------------- poll */

static int
settle_dirty(struct nbd_serve *ns)
{
	int work = 0;

	while (ns->dirty != NULL) {
		struct nbd_serve_conn *cl = ns->dirty;

		ns->dirty = cl->dirty_next;
		cl->dirty = false;
		(void)conn_settle(cl, &work);
	}
	return work;
}

int
nbd_serve_poll(struct nbd_serve *ns)
{
	struct epoll_event ev[NS_EVENTS];
	int work = 0, k;

	if (ns == NULL)
		return 0;
	k = epoll_wait(ns->epfd, ev, NS_EVENTS, 0);
	for (int i = 0; i < k; i++) {
		int kind = *(int *)ev[i].data.ptr;

		if (kind == NS_LISTENER) {
			work += conn_accept(ns, ev[i].data.ptr);
			continue;
		}
		struct nbd_serve_conn *cl = ev[i].data.ptr;

		if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			work += conn_read(cl);
		if (ev[i].events & (EPOLLHUP | EPOLLERR)) {
			/* Both directions are gone: nothing can be sent. */
			cl->closing = true;
			cl->dead = true;
			work++;
		}
		conn_mark_dirty(cl);
	}
	if (k == (int)NS_EVENTS)
		work++; /* more may be ready: do not let the loop sleep */
	/* Start what was submitted; run the backend's completions. */
	if (ns->ops->poll != NULL)
		work += ns->ops->poll(ns->arg);
	work += settle_dirty(ns);
	return work;
}

/* ---------------------------------------------------------- listeners */

static int
set_err(char *err, size_t len, int rc, const char *fmt, const char *a)
{
	if (err != NULL && len > 0)
		snprintf(err, len, fmt, a, strerror(-rc));
	return rc;
}

static void
uri_unix(struct ns_listener *l, const char *path, const char *name)
{
	if (snprintf(l->uri, sizeof(l->uri), "nbd+unix:///%s?socket=%s", name, path) >=
	    (int)sizeof(l->uri))
		snprintf(l->uri, sizeof(l->uri), "nbd+unix:///(too long)");
}

static void
uri_inet(struct ns_listener *l, const struct sockaddr *sa, const char *name)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						       : sizeof(struct sockaddr_in),
			host, sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(l->uri, sizeof(l->uri), "nbd://?");
	else if (snprintf(l->uri, sizeof(l->uri),
			  sa->sa_family == AF_INET6 ? "nbd://[%s]:%s/%s" : "nbd://%s:%s/%s", host,
			  port, name) >= (int)sizeof(l->uri))
		(void)snprintf(l->uri, sizeof(l->uri), "nbd://%s:%s", host, port);
	else if (name[0] == '\0') /* no export name: no trailing slash */
		l->uri[strlen(l->uri) - 1] = '\0';
}

/* The URI of a listener whose fd we got (socket activation). */
static void
uri_from_fd(struct ns_listener *l, const char *name)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(l->uri, sizeof(l->uri), "fd:%d", l->fd);
		return;
	}
	if (ss.ss_family == AF_UNIX) {
		struct sockaddr_un *su = (struct sockaddr_un *)&ss;

		l->is_unix = true;
		if (sl > offsetof(struct sockaddr_un, sun_path) && su->sun_path[0] != '\0')
			uri_unix(l, su->sun_path, name);
		else
			snprintf(l->uri, sizeof(l->uri), "fd:%d", l->fd);
	} else {
		uri_inet(l, (struct sockaddr *)&ss, name);
	}
}

static int
listen_unix(struct ns_listener *l, const char *path, const char *name)
{
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (path[0] == '\0' || strlen(path) >= sizeof(su.sun_path))
		return -EINVAL;
	strcpy(su.sun_path, path);
	/* A socket left by an earlier run is replaced; anything else is not. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&su, sizeof(su)) < 0 || listen(fd, 128) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	l->fd = fd;
	l->is_unix = true;
	strcpy(l->path, path);
	uri_unix(l, path, name);
	return 0;
}

static int
listen_tcp(struct ns_listener *l, const char *hp, const char *name)
{
	char host[256];
	const char *colon = strrchr(hp, ':'), *h = host;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	size_t hl;
	int fd, one = 1, rc;

	if (colon == NULL || colon[1] == '\0' || (size_t)(colon - hp) >= sizeof(host))
		return -EINVAL;
	hl = (size_t)(colon - hp);
	memcpy(host, hp, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		h = host + 1;
	}
	if (getaddrinfo(h[0] != '\0' ? h : NULL, colon + 1, &hints, &ai) != 0 || ai == NULL)
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		freeaddrinfo(ai);
		return rc;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		rc = -errno;
		close(fd);
		freeaddrinfo(ai);
		return rc;
	}
	freeaddrinfo(ai);
	l->fd = fd;
	uri_inet(l, (struct sockaddr *)&ss, name);
	return 0;
}

/* systemd socket activation: fds 3 .. 3 + LISTEN_FDS - 1 are ours. */
static int
adopt_systemd(struct nbd_serve *n, char *err, size_t err_len)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end;
	long nfds;

	if (pid == NULL || fds == NULL || strtol(pid, &end, 10) != (long)getpid())
		return 0;
	nfds = strtol(fds, &end, 10);
	if (*end != '\0' || nfds < 0 || nfds > NBD_SERVE_MAX_LISTEN)
		return set_err(err, err_len, -EINVAL, "LISTEN_FDS=%s: %s", fds);
	for (long i = 0; i < nfds; i++) {
		struct ns_listener *l = &n->lis[n->nlis];
		int fd = SD_LISTEN_FDS_START + (int)i, fl = fcntl(fd, F_GETFL);

		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
			return set_err(err, err_len, -EBADF, "LISTEN_FDS fd %s: %s", "3..");
		l->kind = NS_LISTENER;
		l->fd = fd;
		l->adopted = true;
		uri_from_fd(l, n->exp.name);
		n->nlis++;
	}
	/* Not for our children (none), and not twice. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return 0;
}

/*
 * Whether replies can go by reference here: one byte vmspliced into a
 * pipe and spliced on to a Unix socket (Linux; both since long before
 * the kernels we run on, but a sandbox may forbid them). NBD_SERVE_SPLICE=0
 * in the environment turns it off (to compare, or to rule it out).
 */
static bool
splice_probe(void)
{
	const char *e = getenv("NBD_SERVE_SPLICE");
	static char page[4096] __attribute__((aligned(4096)));
	struct iovec v = { .iov_base = page, .iov_len = 1 };
	int sv[2], pfd[2];
	bool ok = false;
	char c;

	if (e != NULL && strcmp(e, "0") == 0)
		return false;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return false;
	if (pipe2(pfd, O_CLOEXEC) == 0) {
		ok = vmsplice(pfd[1], &v, 1, SPLICE_F_NONBLOCK) == 1 &&
		     splice(pfd[0], NULL, sv[0], NULL, 1, SPLICE_F_NONBLOCK) == 1 &&
		     recv(sv[1], &c, 1, MSG_DONTWAIT) == 1;
		close(pfd[0]);
		close(pfd[1]);
	}
	close(sv[0]);
	close(sv[1]);
	return ok;
}

int
nbd_serve_open(const struct nbd_serve_params *p, struct nbd_serve **out, char *err, size_t err_len)
{
	struct nbd_serve *n;
	int rc;

	if (p == NULL || out == NULL || p->ops == NULL || p->ops->prepare == NULL ||
	    p->ops->submit == NULL || p->naddrs > NBD_SERVE_MAX_LISTEN)
		return -EINVAL;
	*out = NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->ops = p->ops;
	n->arg = p->arg;
	n->io_size = NS_IO_HEAD + p->io_priv_size;
	n->exact = p->exact_payload;
	n->can_splice = splice_probe();
	if (!n->can_splice && getenv("NBD_SERVE_SPLICE") == NULL)
		app_say("nbd: replies are copied: vmsplice or splice to a socket does not work here");
	n->max_conns = p->max_conns ? p->max_conns : NS_MAX_CONNS;
	n->nops.lookup = ns_lookup;
	n->nops.list = ns_list;
	n->exp = p->exp;
	if (n->exp.name == NULL)
		n->exp.name = "";
	rc = nbd_export_check(&n->exp);
	if (rc < 0) {
		set_err(err, err_len, rc, "export %s: %s", n->exp.name);
		goto fail_free;
	}
	n->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (n->epfd < 0) {
		rc = set_err(err, err_len, -errno, "epoll%s: %s", "");
		goto fail_free;
	}
	for (unsigned i = 0; i < p->naddrs; i++) {
		struct ns_listener *l = &n->lis[n->nlis];
		const char *a = p->addrs[i];

		l->kind = NS_LISTENER;
		if (strncmp(a, "unix:", 5) == 0 && a[5] != '@')
			rc = listen_unix(l, a + 5, n->exp.name);
		else if (strncmp(a, "tcp:", 4) == 0)
			rc = listen_tcp(l, a + 4, n->exp.name);
		else
			rc = -EINVAL;
		if (rc < 0) {
			set_err(err, err_len, rc,
				rc == -EINVAL ? "--nbd %s: %s (expected unix:PATH or tcp:HOST:PORT)"
					      : "--nbd %s: %s",
				a);
			goto fail_close;
		}
		n->nlis++;
	}
	rc = adopt_systemd(n, err, err_len);
	if (rc < 0)
		goto fail_close;
	for (unsigned i = 0; i < n->nlis; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &n->lis[i] };

		if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->lis[i].fd, &e) < 0) {
			rc = set_err(err, err_len, -errno, "epoll%s: %s", "");
			goto fail_close;
		}
	}
	if (p->srv != NULL) {
		rc = bulk_bs_server_watch_fd(p->srv, n->epfd);
		if (rc < 0) {
			set_err(err, err_len, rc, "watching the NBD sockets%s: %s", "");
			goto fail_close;
		}
		n->srv = p->srv;
	}
	*out = n;
	return 0;
fail_close:
	for (unsigned i = 0; i < n->nlis; i++) {
		close(n->lis[i].fd);
		if (n->lis[i].path[0] != '\0')
			(void)unlink(n->lis[i].path);
	}
	close(n->epfd);
fail_free:
	free(n);
	return rc;
}

int
nbd_serve_fd(const struct nbd_serve *ns)
{
	return ns != NULL ? ns->epfd : -EINVAL;
}

unsigned
nbd_serve_listeners(const struct nbd_serve *ns)
{
	return ns != NULL ? ns->nlis : 0;
}

unsigned
nbd_serve_conns(const struct nbd_serve *ns)
{
	return ns != NULL ? ns->nconns : 0;
}

uint64_t
nbd_serve_inflight(const struct nbd_serve *ns)
{
	return ns != NULL ? ns->inflight : 0;
}

bool
nbd_serve_busy(const struct nbd_serve *ns)
{
	if (ns == NULL)
		return false;
	if (ns->inflight > 0)
		return true;
	for (const struct nbd_serve_conn *cl = ns->conns; cl != NULL; cl = cl->next) {
		int q;

		if (cl->dead || cl->requests == 0)
			continue;
		if (cl->pl_io != NULL || cl->out_head != NULL || cl->pipe_len > 0)
			return true;
		if (ioctl(cl->fd, SIOCOUTQ, &q) == 0 && q < (int)NS_SPIN_OUTQ)
			return true;
	}
	return false;
}

size_t
nbd_serve_uris(const struct nbd_serve *ns, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	for (unsigned i = 0; ns != NULL && i < ns->nlis && used + 1 < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? " " : "", ns->lis[i].uri);

		if (w < 0)
			break;
		used += (size_t)w < len - used ? (size_t)w : len - used - 1;
	}
	return used;
}

void
nbd_serve_close(struct nbd_serve *ns)
{
	if (ns == NULL)
		return;
	if (ns->srv != NULL)
		(void)bulk_bs_server_unwatch_fd(ns->srv, ns->epfd);
	for (unsigned i = 0; i < ns->nlis; i++) {
		(void)epoll_ctl(ns->epfd, EPOLL_CTL_DEL, ns->lis[i].fd, NULL);
		close(ns->lis[i].fd);
		if (ns->lis[i].path[0] != '\0')
			(void)unlink(ns->lis[i].path);
	}
	/* No more requests; what the backend has completes and is answered
	 * where the socket takes it now. */
	for (struct nbd_serve_conn *cl = ns->conns; cl != NULL; cl = cl->next) {
		cl->closing = true;
		conn_mark_dirty(cl);
	}
	if (ns->inflight > 0 && ns->ops->drain != NULL)
		ns->ops->drain(ns->arg);
	(void)settle_dirty(ns);
	while (ns->conns != NULL) {
		struct nbd_serve_conn *cl = ns->conns;

		if (cl->inflight > 0) {
			/* The backend still has its requests: their records
			 * must outlive us. The process's exit takes them. */
			app_err("nbd: client=%" PRIu64 ": %u requests not completed: left to the exit",
				cl->id, cl->inflight);
			ns->conns = cl->next;
			continue;
		}
		cl->dead = true;
		conn_free(cl);
	}
	app_say("nbd: stats: clients=%" PRIu64 " requests=%" PRIu64 " errors=%" PRIu64
		" bytes_in=%" PRIu64 " bytes_out=%" PRIu64 " copied_in=%" PRIu64
		" copied_early=%" PRIu64 " stalls=%" PRIu64 " hole_reads=%" PRIu64
		" spliced=%" PRIu64,
		ns->accepted, ns->requests, ns->errors, ns->bytes_in, ns->bytes_out, ns->copied_in,
		ns->copied_early, ns->stalls, ns->holes, ns->spliced);
	if (ns->inflight > 0)
		return; /* records still referenced: left to the exit as well */
	while (ns->free_ios != NULL) {
		struct nbd_serve_io *io = ns->free_ios;

		ns->free_ios = io->next;
		if (ns->ops->fini != NULL)
			ns->ops->fini(ns->arg, io);
		free(io);
	}
	close(ns->epfd);
	free(ns);
}
