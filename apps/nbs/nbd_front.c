/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nbs's NBD front end (nbd_front.h). lib/nbd owns the protocol (the
 * handshake, validating every request, framing every reply); this file
 * owns the sockets and the store requests:
 *
 *   socket --recv--> request header  --nbd_request_parse()-->
 *   WRITE payload --recvmsg--> the request's own buffer --store write-->
 *   store --read--> the request's buffer --writev (header + data)--> socket
 *
 * so a write's payload is copied once, by the kernel, from the socket into
 * the buffer the store writes from; a read's data goes from the buffer the
 * store filled to the socket. While a write's payload arrives, recvmsg
 * reads it and the next request header in one call, into two iovecs; only
 * payload bytes that arrived in a batch of small requests (read with the
 * headers before them) are copied out of the input buffer again, and
 * those are counted (copied_in at exit).
 *
 * Many requests are in flight per connection; replies go out in the order
 * the store completes them. One thread: the sockets are in this front
 * end's epoll fd (level triggered), which the block service server
 * watches, and nbs_nbd_poll() runs in each of its poll rounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <bulk/bulk_bs.h>

#include "app.h"
#include "nbd.h"
#include "nbd_front.h"
#include "store.h"

#define NF_IN_CAP	    (256u << 10) /* input buffer: headers, handshake */
#define NF_MAX_INFLIGHT	    256u	 /* requests per connection before reading stops */
#define NF_OUT_HIGH	    (16u << 20)	 /* reply bytes queued before reading stops */
#define NF_IOV		    64u		 /* iovecs per writev */
#define NF_EVENTS	    64u
#define NF_FREE_MAX	    1024u /* request records kept for reuse */
#define NF_MAX_CONNS	    64u
#define NF_READ_ROUNDS	    16u	  /* recv calls per connection per poll round */
#define NF_BUF_ALIGN	    4096u
#define SD_LISTEN_FDS_START 3

enum nf_kind { NF_LISTENER = 1, NF_CONN };

struct nf_listener {
	int kind; /* NF_LISTENER; first, as in struct nf_conn */
	int fd;
	bool is_unix, adopted;
	char uri[NI_MAXHOST + NI_MAXSERV + 512];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unlinked at close */
};

struct nf_conn;

/* One request: its store request, its data buffer, its reply. */
struct nf_io {
	struct nbs_store_req sr;
	struct nf_conn *conn;
	struct nbd_request req;
	struct nf_io *next; /* output queue or free list */
	uint8_t *buf;	    /* READ: the store's destination; WRITE: the payload */
	size_t cap;
	size_t hlen, dlen; /* reply header bytes, then dlen bytes of buf */
	size_t sent;	   /* of hlen + dlen */
	uint8_t hdr[NBD_REPLY_ERROR_MAX];
};

struct nf_conn {
	int kind; /* NF_CONN */
	int fd;
	uint64_t id;
	struct nbs_nbd *n;
	struct nbd_conn *c;
	struct nf_conn *prev, *next; /* every connection */
	struct nf_conn *dirty_next;  /* replies queued or state changed */
	bool dirty;
	bool closing; /* no more requests: DISC, a protocol error, EOF, shutdown */
	bool dead;    /* the socket failed: nothing more is sent */
	bool unwatched; /* taken out of the epoll set (dead: HUP would repeat) */
	uint32_t events;
	/* Input. */
	uint8_t *in;
	size_t in_len;
	/* A payload being received: into pl_io->buf, or dropped (pl_io NULL). */
	bool pl_active;
	struct nbd_request pl_req;
	struct nf_io *pl_io;
	uint64_t pl_got, pl_left;
	/* Output, in completion order. */
	struct nf_io *out_head, *out_tail;
	size_t out_bytes;
	unsigned inflight; /* with the store */
	uint64_t requests;
};

struct nbs_nbd {
	struct nbs_store *store;
	struct bulk_bs_server *srv;
	int epfd;
	struct nbd_export exp;
	struct nbd_server_ops ops;
	struct nf_listener lis[2 * NBS_NBD_MAX_LISTEN];
	unsigned nlis;
	struct nf_conn *conns;
	unsigned nconns, max_conns;
	struct nf_conn *dirty;
	struct nf_io *free_ios;
	unsigned nfree;
	uint64_t inflight, next_id;
	/* Totals, printed at close. */
	uint64_t accepted, requests, errors, copied_in, bytes_in, bytes_out;
};

/* ------------------------------------------------------------ exports */

static int
nf_lookup(void *opaque, const char *name, struct nbd_export *exp)
{
	struct nbs_nbd *n = opaque;

	/* "" is the default export; a name, if nbs has one, must match. */
	if (name[0] != '\0' && strcmp(name, n->exp.name) != 0 && n->exp.name[0] != '\0')
		return -ENOENT;
	*exp = n->exp;
	return 0;
}

static int
nf_list(void *opaque, size_t index, struct nbd_export *exp)
{
	struct nbs_nbd *n = opaque;

	if (index > 0)
		return -ENOENT;
	*exp = n->exp;
	return 0;
}

/*
 * The caps follow the store's flags. CAN_MULTI_CONN: every connection of
 * this process submits to the one store, and the store's FLUSH makes every
 * write it has completed durable, whichever connection submitted it (the
 * memory store has nothing volatile; the file store's flush is an fsync of
 * the one file, which covers every completed write to it). A write is
 * answered only after the store completed it, so a FLUSH on any connection
 * covers every write any connection has seen answered.
 */
static uint32_t
nf_caps(const struct nbs_store *st)
{
	uint32_t caps = NBD_EXPORT_CAN_MULTI_CONN | NBD_EXPORT_CAN_CACHE | NBD_EXPORT_BLOCK_STATUS;

	if (st->flags & NBS_STORE_FLAG_READ_ONLY)
		caps |= NBD_EXPORT_READ_ONLY;
	if (st->flags & NBS_STORE_FLAG_FLUSH)
		caps |= NBD_EXPORT_CAN_FLUSH;
	if (st->flags & NBS_STORE_FLAG_FUA)
		caps |= NBD_EXPORT_CAN_FUA;
	if (!(st->flags & NBS_STORE_FLAG_READ_ONLY)) {
		if (st->flags & NBS_STORE_FLAG_TRIM)
			caps |= NBD_EXPORT_CAN_TRIM;
		if (st->flags & NBS_STORE_FLAG_ZERO) {
			caps |= NBD_EXPORT_CAN_ZERO;
			if (st->flags & NBS_STORE_FLAG_FAST_ZERO)
				caps |= NBD_EXPORT_CAN_FAST_ZERO;
		}
	}
	return caps;
}

/* ------------------------------------------------------ request records */

static struct nf_io *
io_get(struct nbs_nbd *n, struct nf_conn *cl, size_t need)
{
	struct nf_io *io = n->free_ios;

	if (io != NULL) {
		n->free_ios = io->next;
		n->nfree--;
	} else {
		io = calloc(1, sizeof(*io));
		if (io == NULL)
			return NULL;
	}
	if (need > io->cap) {
		size_t cap = (need + NF_BUF_ALIGN - 1) / NF_BUF_ALIGN * NF_BUF_ALIGN;

		free(io->buf);
		io->buf = aligned_alloc(NF_BUF_ALIGN, cap);
		io->cap = io->buf != NULL ? cap : 0;
		if (io->buf == NULL) {
			free(io);
			return NULL;
		}
	}
	io->conn = cl;
	io->next = NULL;
	io->hlen = io->dlen = io->sent = 0;
	return io;
}

static void
io_put(struct nbs_nbd *n, struct nf_io *io)
{
	if (n->nfree >= NF_FREE_MAX) {
		free(io->buf);
		free(io);
		return;
	}
	io->next = n->free_ios;
	n->free_ios = io;
	n->nfree++;
}

/* ------------------------------------------------------------ replies */

static void
conn_mark_dirty(struct nf_conn *cl)
{
	if (cl->dirty)
		return;
	cl->dirty = true;
	cl->dirty_next = cl->n->dirty;
	cl->n->dirty = cl;
}

static void
out_push(struct nf_conn *cl, struct nf_io *io)
{
	if (cl->dead) {
		io_put(cl->n, io);
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
reply_error(struct nf_conn *cl, struct nf_io *io, uint32_t err, const char *why)
{
	ssize_t r = nbd_reply_error(cl->c, &io->req, err, why, io->hdr, sizeof(io->hdr));

	cl->n->errors++;
	if (r < 0) { /* cannot happen: the buffer fits any error */
		io_put(cl->n, io);
		cl->closing = true;
		return;
	}
	io->hlen = (size_t)r;
	io->dlen = 0;
	out_push(cl, io);
}

static void
reply_ok(struct nf_conn *cl, struct nf_io *io)
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

/* The store completed @p sr: frame the reply; it goes out after this poll. */
static void
io_done(struct nbs_store_req *sr, int status)
{
	struct nf_io *io = sr->user;
	struct nf_conn *cl = io->conn;
	ssize_t r;

	cl->inflight--;
	cl->n->inflight--;
	conn_mark_dirty(cl);
	if (cl->dead) {
		io_put(cl->n, io);
		return;
	}
	if (status < 0) {
		reply_error(cl, io, nbd_errno_to_wire(status, io->req.flags), strerror(-status));
		return;
	}
	if (io->req.type != NBD_CMD_READ) {
		reply_ok(cl, io);
		return;
	}
	/* One OFFSET_DATA chunk (with DONE) or a simple reply: the header,
	 * then the data straight from the buffer the store filled. The store
	 * ops table cannot say which ranges are holes, so none are sent. */
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

static void
io_submit(struct nf_conn *cl, struct nf_io *io, enum nbs_store_op op, unsigned flags)
{
	int rc;

	nbs_store_req_init(&io->sr, op, flags, op == NBS_STORE_OP_FLUSH ? 0 : io->req.offset,
			   op == NBS_STORE_OP_FLUSH ? 0 : io->req.len,
			   op == NBS_STORE_OP_READ || op == NBS_STORE_OP_WRITE ? io->buf : NULL,
			   io_done, io);
	rc = nbs_store_submit(cl->n->store, &io->sr);
	if (rc < 0) {
		reply_error(cl, io, nbd_errno_to_wire(rc, io->req.flags), strerror(-rc));
		return;
	}
	cl->inflight++;
	cl->n->inflight++;
}

/* A request lib/nbd validated, its payload (if any) in io->buf. */
static void
dispatch(struct nf_conn *cl, struct nf_io *io)
{
	const struct nbd_request *req = &io->req;
	unsigned fua = req->flags & NBD_CMD_FLAG_FUA ? NBS_STORE_REQ_FUA : 0;

	cl->requests++;
	cl->n->requests++;
	if (req->error != 0) {
		reply_error(cl, io, req->error, req->why);
		return;
	}
	switch (req->type) {
	case NBD_CMD_READ:
		io_submit(cl, io, NBS_STORE_OP_READ, 0);
		return;
	case NBD_CMD_WRITE:
		io_submit(cl, io, NBS_STORE_OP_WRITE, fua);
		return;
	case NBD_CMD_FLUSH:
		io_submit(cl, io, NBS_STORE_OP_FLUSH, 0);
		return;
	case NBD_CMD_TRIM:
		io_submit(cl, io, NBS_STORE_OP_TRIM, fua);
		return;
	case NBD_CMD_WRITE_ZEROES:
		io_submit(cl, io, NBS_STORE_OP_WRITE_ZEROES,
			  fua | (req->flags & NBD_CMD_FLAG_NO_HOLE ? NBS_STORE_REQ_NO_HOLE : 0) |
				  (req->flags & NBD_CMD_FLAG_FAST_ZERO ? NBS_STORE_REQ_FAST_ZERO
								       : 0));
		return;
	case NBD_CMD_BLOCK_STATUS: {
		/* The ops table cannot tell holes: all data, one extent. */
		struct nbd_extent ext = { .length = req->len, .flags = 0 };
		uint64_t size = cl->n->exp.size;
		ssize_t r;

		if (req->offset + ext.length > size)
			ext.length = size - req->offset;
		if (ext.length == 0) {
			reply_error(cl, io, NBD_EINVAL, "block status at the end");
			return;
		}
		r = nbd_reply_block_status(cl->c, req, &ext, 1, true, NULL, io->hdr,
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
	case NBD_CMD_CACHE: /* a hint: the memory store is cache, the file's is the kernel's */
		reply_ok(cl, io);
		return;
	default:
		reply_error(cl, io, NBD_EINVAL, "unsupported command");
		return;
	}
}

/* ---------------------------------------------------------- connections */

static void
conn_log(const struct nf_conn *cl, const char *what, const char *why)
{
	app_say("nbd: client=%" PRIu64 " %s: %s", cl->id, what, why);
}

static bool
conn_throttled(const struct nf_conn *cl)
{
	return cl->inflight >= NF_MAX_INFLIGHT || cl->out_bytes > NF_OUT_HIGH;
}

/* The payload of cl->pl_req is all in: execute or answer it. */
static void
payload_done(struct nf_conn *cl)
{
	struct nf_io *io = cl->pl_io;

	cl->pl_active = false;
	cl->pl_io = NULL;
	if (io == NULL) { /* dropped: answer the error it carries */
		io = io_get(cl->n, cl, 0);
		if (io == NULL) {
			cl->closing = true;
			return;
		}
		io->req = cl->pl_req;
	}
	dispatch(cl, io);
}

/* Take what cl->in holds: handshake, request headers, payload bytes. */
static void
conn_process(struct nf_conn *cl)
{
	struct nbd_request req;
	size_t used = 0, k;
	ssize_t r;

	while (!cl->closing) {
		enum nbd_phase ph = nbd_conn_phase(cl->c);

		if (cl->pl_active) {
			k = cl->in_len - used;
			if (k > cl->pl_left)
				k = (size_t)cl->pl_left;
			if (k == 0)
				break;
			if (cl->pl_io != NULL) {
				memcpy(cl->pl_io->buf + cl->pl_got, cl->in + used, k);
				cl->n->copied_in += k;
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
		if (req.type == NBD_CMD_DISC) {
			cl->closing = true; /* what is in flight is answered, then the close */
			break;
		}
		if (req.payload != NBD_PAYLOAD_NONE) {
			cl->pl_active = true;
			cl->pl_req = req;
			cl->pl_got = 0;
			cl->pl_left = req.payload_len;
			cl->pl_io = NULL;
			if (req.payload == NBD_PAYLOAD_DATA) {
				cl->pl_io = io_get(cl->n, cl, (size_t)req.payload_len);
				if (cl->pl_io == NULL) {
					conn_log(cl, "closing", "out of memory for a payload");
					cl->closing = true;
					break;
				}
				cl->pl_io->req = req;
			}
			continue;
		}
		{
			struct nf_io *io = io_get(cl->n, cl, (size_t)(req.type == NBD_CMD_READ &&
								    req.error == 0
							    ? req.len
							    : 0));

			if (io == NULL) {
				conn_log(cl, "closing", "out of memory for a read");
				cl->closing = true;
				break;
			}
			io->req = req;
			dispatch(cl, io);
		}
	}
	if (used > 0) {
		memmove(cl->in, cl->in + used, cl->in_len - used);
		cl->in_len -= used;
	}
}

/* Read from the socket; @return work done. */
static int
conn_read(struct nf_conn *cl)
{
	int work = 0;

	for (unsigned round = 0; round < NF_READ_ROUNDS; round++) {
		struct iovec iov[2];
		struct msghdr mh = { .msg_iov = iov };
		size_t hdr = nbd_conn_phase(cl->c) == NBD_PHASE_TRANSMISSION
				     ? nbd_conn_request_size(cl->c)
				     : NF_IN_CAP;
		ssize_t r;

		if (cl->closing || cl->dead)
			break;
		if (cl->pl_active && cl->in_len == 0 && cl->pl_io != NULL) {
			/* The payload straight into its buffer, the next header
			 * behind it. */
			iov[0].iov_base = cl->pl_io->buf + cl->pl_got;
			iov[0].iov_len = (size_t)cl->pl_left;
			iov[1].iov_base = cl->in;
			iov[1].iov_len = hdr;
			mh.msg_iovlen = 2;
		} else {
			if (conn_throttled(cl) && !cl->pl_active)
				break;
			if (cl->in_len == NF_IN_CAP)
				break;
			iov[0].iov_base = cl->in + cl->in_len;
			iov[0].iov_len = NF_IN_CAP - cl->in_len;
			mh.msg_iovlen = 1;
		}
		r = recvmsg(cl->fd, &mh, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r <= 0) {
			/* EOF or an error: at a request boundary that is a
			 * client that went away; mid-request, the request is
			 * dropped. Either way what is in flight completes. */
			if (cl->pl_active || cl->in_len > 0)
				conn_log(cl, "closing", "the client stopped mid-request");
			cl->closing = true;
			if (r < 0)
				cl->dead = true;
			work++;
			break;
		}
		work++;
		cl->n->bytes_in += (uint64_t)r;
		if (mh.msg_iovlen == 2) {
			size_t k = (size_t)r < iov[0].iov_len ? (size_t)r : iov[0].iov_len;

			cl->pl_got += k;
			cl->pl_left -= k;
			cl->in_len = (size_t)r - k;
			if (cl->pl_left == 0)
				payload_done(cl);
		} else {
			cl->in_len += (size_t)r;
		}
		conn_process(cl);
	}
	return work;
}

/* Send what is queued: lib/nbd's handshake output, then the replies. */
static int
conn_write(struct nf_conn *cl)
{
	int work = 0;

	while (!cl->dead) {
		struct iovec iov[NF_IOV];
		struct msghdr mh = { .msg_iov = iov };
		const void *d;
		size_t hs = nbd_conn_output(cl->c, &d), k = 0;
		ssize_t r;

		if (hs > 0) {
			iov[k].iov_base = (void *)(uintptr_t)d;
			iov[k++].iov_len = hs;
		}
		for (struct nf_io *io = cl->out_head; io != NULL && k + 2 <= NF_IOV;
		     io = io->next) {
			size_t s = io->sent;

			if (s < io->hlen) {
				iov[k].iov_base = io->hdr + s;
				iov[k++].iov_len = io->hlen - s;
				s = 0;
			} else {
				s -= io->hlen;
			}
			if (io->dlen > s) {
				iov[k].iov_base = io->buf + s;
				iov[k++].iov_len = io->dlen - s;
			}
		}
		if (k == 0)
			break;
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
		cl->n->bytes_out += (uint64_t)r;
		if (hs > 0) {
			size_t t = (size_t)r < hs ? (size_t)r : hs;

			(void)nbd_conn_output_consume(cl->c, t);
			r -= (ssize_t)t;
		}
		while (r > 0 && cl->out_head != NULL) {
			struct nf_io *io = cl->out_head;
			size_t left = io->hlen + io->dlen - io->sent;

			if ((size_t)r < left) {
				io->sent += (size_t)r;
				cl->out_bytes -= (size_t)r;
				break;
			}
			r -= (ssize_t)left;
			cl->out_bytes -= left;
			cl->out_head = io->next;
			if (cl->out_head == NULL)
				cl->out_tail = NULL;
			io_put(cl->n, io);
		}
	}
	return work;
}

static bool
conn_output_pending(const struct nf_conn *cl)
{
	const void *d;

	return cl->out_head != NULL || nbd_conn_output(cl->c, &d) > 0;
}

static void
conn_free(struct nf_conn *cl)
{
	struct nbs_nbd *n = cl->n;

	if (cl->dirty) {
		struct nf_conn **pp = &n->dirty;

		while (*pp != cl)
			pp = &(*pp)->dirty_next;
		*pp = cl->dirty_next;
	}
	if (!cl->unwatched)
		(void)epoll_ctl(n->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
	close(cl->fd);
	while (cl->out_head != NULL) {
		struct nf_io *io = cl->out_head;

		cl->out_head = io->next;
		io_put(n, io);
	}
	if (cl->pl_io != NULL)
		io_put(n, cl->pl_io);
	if (cl->prev != NULL)
		cl->prev->next = cl->next;
	else
		n->conns = cl->next;
	if (cl->next != NULL)
		cl->next->prev = cl->prev;
	n->nconns--;
	nbd_conn_destroy(cl->c);
	free(cl->in);
	free(cl);
}

/*
 * Make progress on one connection: parse what is buffered (after a
 * throttle lifts), send, set the epoll interest, and free it once it is
 * closing with nothing in flight and nothing left to send.
 * @return true if it still exists.
 */
static bool
conn_settle(struct nf_conn *cl, int *work)
{
	uint32_t ev;

	if (!cl->closing && cl->in_len > 0 && !conn_throttled(cl))
		conn_process(cl);
	*work += conn_write(cl);
	if (cl->closing && cl->inflight == 0 && (cl->dead || !conn_output_pending(cl))) {
		conn_free(cl);
		return false;
	}
	if (cl->dead) {
		/* EPOLLHUP and EPOLLERR are reported whatever the interest. */
		if (!cl->unwatched)
			(void)epoll_ctl(cl->n->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
		cl->unwatched = true;
		return true;
	}
	ev = (!cl->closing && !conn_throttled(cl) ? EPOLLIN : 0) |
	     (conn_output_pending(cl) ? EPOLLOUT : 0);
	if (ev != cl->events) {
		struct epoll_event e = { .events = ev, .data.ptr = cl };

		(void)epoll_ctl(cl->n->epfd, EPOLL_CTL_MOD, cl->fd, &e);
		cl->events = ev;
	}
	return true;
}

static int
conn_accept(struct nbs_nbd *n, struct nf_listener *l)
{
	static const struct nbd_conn_params params = { 0 };
	struct epoll_event e = { .events = EPOLLIN };
	struct nf_conn *cl;
	int fd, one = 1, work = 0;

	for (;;) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		work++;
		if (n->nconns >= n->max_conns) {
			app_err("nbd: %u clients already: refusing one", n->nconns);
			close(fd);
			continue;
		}
		if (!l->is_unix)
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		cl = calloc(1, sizeof(*cl));
		if (cl == NULL || (cl->in = malloc(NF_IN_CAP)) == NULL ||
		    nbd_conn_create(&n->ops, n, &params, &cl->c) < 0) {
			app_err("nbd: out of memory for a client");
			if (cl != NULL)
				free(cl->in);
			free(cl);
			close(fd);
			continue;
		}
		cl->kind = NF_CONN;
		cl->fd = fd;
		cl->n = n;
		cl->id = n->next_id++;
		cl->events = EPOLLIN;
		e.data.ptr = cl;
		if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
			app_err("nbd: epoll: %s", strerror(errno));
			nbd_conn_destroy(cl->c);
			free(cl->in);
			free(cl);
			close(fd);
			continue;
		}
		cl->next = n->conns;
		if (n->conns != NULL)
			n->conns->prev = cl;
		n->conns = cl;
		n->nconns++;
		n->accepted++;
		conn_mark_dirty(cl); /* the greeting */
	}
	return work;
}

/* -------------------------------------------------------------- poll */

static int
settle_dirty(struct nbs_nbd *n)
{
	int work = 0;

	while (n->dirty != NULL) {
		struct nf_conn *cl = n->dirty;

		n->dirty = cl->dirty_next;
		cl->dirty = false;
		(void)conn_settle(cl, &work);
	}
	return work;
}

int
nbs_nbd_poll(struct nbs_nbd *n)
{
	struct epoll_event ev[NF_EVENTS];
	int work = 0, k;

	if (n == NULL)
		return 0;
	k = epoll_wait(n->epfd, ev, NF_EVENTS, 0);
	for (int i = 0; i < k; i++) {
		int kind = *(int *)ev[i].data.ptr;

		if (kind == NF_LISTENER) {
			work += conn_accept(n, ev[i].data.ptr);
			continue;
		}
		struct nf_conn *cl = ev[i].data.ptr;

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
	if (k == (int)NF_EVENTS)
		work++; /* more may be ready: do not let the server sleep */
	/* Start what was submitted; run the store's completions (the bridge
	 * polls the store too; each callback finds its own front end). */
	if (n->inflight > 0) {
		int c = nbs_store_poll(n->store, 0);

		if (c > 0)
			work += c;
		else if (n->inflight > 0 && nbs_store_arm(n->store) == 1)
			work++;
	}
	work += settle_dirty(n);
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
uri_unix(struct nf_listener *l, const char *path, const char *name)
{
	if (snprintf(l->uri, sizeof(l->uri), "nbd+unix:///%s?socket=%s", name, path) >=
	    (int)sizeof(l->uri))
		snprintf(l->uri, sizeof(l->uri), "nbd+unix:///(too long)");
}

static void
uri_inet(struct nf_listener *l, const struct sockaddr *sa, const char *name)
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
uri_from_fd(struct nf_listener *l, const char *name)
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
listen_unix(struct nf_listener *l, const char *path, const char *name)
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
listen_tcp(struct nf_listener *l, const char *hp, const char *name)
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
adopt_systemd(struct nbs_nbd *n, char *err, size_t err_len)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end;
	long nfds;

	if (pid == NULL || fds == NULL || strtol(pid, &end, 10) != (long)getpid())
		return 0;
	nfds = strtol(fds, &end, 10);
	if (*end != '\0' || nfds < 0 || nfds > NBS_NBD_MAX_LISTEN)
		return set_err(err, err_len, -EINVAL, "LISTEN_FDS=%s: %s", fds);
	for (long i = 0; i < nfds; i++) {
		struct nf_listener *l = &n->lis[n->nlis];
		int fd = SD_LISTEN_FDS_START + (int)i, fl = fcntl(fd, F_GETFL);

		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
			return set_err(err, err_len, -EBADF, "LISTEN_FDS fd %s: %s", "3..");
		l->kind = NF_LISTENER;
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

int
nbs_nbd_open(const struct nbs_nbd_params *p, struct nbs_nbd **out, char *err, size_t err_len)
{
	struct nbs_nbd *n;
	int rc;

	if (p == NULL || out == NULL || p->store == NULL || p->srv == NULL ||
	    p->naddrs > NBS_NBD_MAX_LISTEN)
		return -EINVAL;
	*out = NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->store = p->store;
	n->srv = p->srv;
	n->max_conns = p->max_conns ? p->max_conns : NF_MAX_CONNS;
	n->ops.lookup = nf_lookup;
	n->ops.list = nf_list;
	n->exp.name = p->export_name != NULL ? p->export_name : "";
	n->exp.description = "nbs";
	n->exp.size = p->size;
	n->exp.caps = nf_caps(p->store);
	n->exp.block_min = p->block_min;
	n->exp.block_pref = p->block_pref;
	n->exp.block_max = p->block_max;
	n->exp.opaque = p->store;
	rc = nbd_export_check(&n->exp);
	if (rc < 0) {
		set_err(err, err_len, rc, "export %s: %s", n->exp.name);
		goto fail;
	}
	n->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (n->epfd < 0) {
		rc = set_err(err, err_len, -errno, "epoll%s: %s", "");
		goto fail_free;
	}
	for (unsigned i = 0; i < p->naddrs; i++) {
		struct nf_listener *l = &n->lis[n->nlis];
		const char *a = p->addrs[i];

		l->kind = NF_LISTENER;
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
	rc = bulk_bs_server_watch_fd(p->srv, n->epfd);
	if (rc < 0) {
		set_err(err, err_len, rc, "watching the NBD sockets%s: %s", "");
		goto fail_close;
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
	goto fail_free;
fail:
fail_free:
	free(n);
	return rc;
}

unsigned
nbs_nbd_listeners(const struct nbs_nbd *n)
{
	return n != NULL ? n->nlis : 0;
}

unsigned
nbs_nbd_conns(const struct nbs_nbd *n)
{
	return n != NULL ? n->nconns : 0;
}

size_t
nbs_nbd_uris(const struct nbs_nbd *n, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	for (unsigned i = 0; n != NULL && i < n->nlis && used + 1 < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? " " : "", n->lis[i].uri);

		if (w < 0)
			break;
		used += (size_t)w < len - used ? (size_t)w : len - used - 1;
	}
	return used;
}

void
nbs_nbd_close(struct nbs_nbd *n)
{
	if (n == NULL)
		return;
	(void)bulk_bs_server_unwatch_fd(n->srv, n->epfd);
	for (unsigned i = 0; i < n->nlis; i++) {
		(void)epoll_ctl(n->epfd, EPOLL_CTL_DEL, n->lis[i].fd, NULL);
		close(n->lis[i].fd);
		if (n->lis[i].path[0] != '\0')
			(void)unlink(n->lis[i].path);
	}
	/* No more requests; what the store has completes and is answered
	 * where the socket takes it now. */
	for (struct nf_conn *cl = n->conns; cl != NULL; cl = cl->next) {
		cl->closing = true;
		conn_mark_dirty(cl);
	}
	if (n->inflight > 0)
		(void)nbs_store_drain(n->store);
	(void)settle_dirty(n);
	while (n->conns != NULL) {
		n->conns->dead = true;
		conn_free(n->conns);
	}
	app_say("nbd: stats: clients=%" PRIu64 " requests=%" PRIu64 " errors=%" PRIu64
		" bytes_in=%" PRIu64 " bytes_out=%" PRIu64 " copied_in=%" PRIu64,
		n->accepted, n->requests, n->errors, n->bytes_in, n->bytes_out, n->copied_in);
	while (n->free_ios != NULL) {
		struct nf_io *io = n->free_ios;

		n->free_ios = io->next;
		free(io->buf);
		free(io);
	}
	close(n->epfd);
	free(n);
}
