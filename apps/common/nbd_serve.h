/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An NBD server's sockets and request flow, for nbs (in front of its
 * store, apps/nbs/nbd_front.c) and nbs-proxy (in front of an upstream
 * libbulk-bs client, apps/proxy/nbd.c). lib/nbd speaks the protocol;
 * this layer owns the listeners (unix:PATH, tcp:HOST:PORT, systemd's
 * LISTEN_FDS), the connections, the handshake bytes, request headers,
 * payloads and replies, in one thread, event driven (its sockets sit in
 * an epoll fd of its own, nbd_serve_fd(), which the program's loop
 * watches). What a request does is the backend's, through a small ops
 * table:
 *
 *   header --nbd_request_parse()--> prepare(io): io->iov = the backend's
 *     buffers for req.len bytes (a READ's destination, a WRITE's payload)
 *   WRITE payload --recvmsg--> straight into io->iov
 *   submit(io) ... later nbd_serve_io_done(io, status)
 *   reply header + io->iov --sendmsg--> socket; then release(io)
 *
 * so the payload is copied once, by the kernel, between the socket and
 * the backend's buffers, in either direction. BLOCK_STATUS (one extent,
 * all data), CACHE (a no-op) and DISC are answered here.
 */
#ifndef NBD_SERVE_H
#define NBD_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nbd.h"

/* Most listen addresses (plus as many socket-activated fds). */
#define NBD_SERVE_MAX_LISTEN 8
/* Most extents in one BLOCK_STATUS reply (what a reply record's header holds). */
#define NBD_SERVE_EXTENTS_MAX 16u

struct bulk_bs_server;
struct nbd_serve;
struct nbd_serve_conn;

/*
 * One request. The backend reads req and conn, and sets iov/niov in
 * prepare() for READ and WRITE (pieces covering req.len bytes, in order);
 * priv is its own (io_priv_size bytes, kept while the record is reused).
 */
struct nbd_serve_io {
	struct nbd_request req;
	struct nbd_serve_conn *conn;
	struct iovec *iov;
	unsigned niov;
	/*
	 * Set by prepare() for a READ whose iov is memory that stays mapped
	 * and readable after release() (a memory store's own blocks, never
	 * a buffer that is reused): the reply's data may then be sent by
	 * reference (vmsplice, then splice to the socket; replies of up to
	 * 64 KiB), and the client reads it from those pages when it takes
	 * the reply. A write to the block that the server runs before then
	 * shows in it; NBD leaves that order open (the read is still in
	 * flight). False by default.
	 */
	bool stable;
	void *priv;
	/* The serve layer's. */
	struct nbd_serve_io *next; /* output queue or free list */
	bool prepared;		   /* release() is owed */
	size_t hlen, dlen;	   /* reply header bytes, then dlen data bytes from iov */
	size_t sent;		   /* of hlen + dlen */
	uint8_t hdr[NBD_REPLY_ERROR_MAX];
};
_Static_assert(NBD_REPLY_BLOCK_STATUS_SIZE(NBD_SERVE_EXTENTS_MAX) <= NBD_REPLY_ERROR_MAX,
	       "a block status reply of NBD_SERVE_EXTENTS_MAX extents fits a record's header");

/* What a backend does; @p arg is nbd_serve_params.arg. */
struct nbd_serve_ops {
	/*
	 * A connection reached transmission (the client chose the export):
	 * set up what its requests need; *user is passed to the other ops.
	 * @return 0; < 0 closes the connection. May be NULL.
	 */
	int (*conn_open)(void *arg, struct nbd_serve_conn *c, void **user);
	/* The connection is gone: nothing of it is in flight or held. May be NULL. */
	void (*conn_close)(void *arg, void *user);
	/*
	 * Take what a valid READ, WRITE, FLUSH, TRIM or WRITE_ZEROES needs
	 * (READ and WRITE: io->iov covering req.len bytes).
	 * @return 0; -EAGAIN (not now, e.g. no free buffer: the connection
	 *   stops reading and asks again once one of its requests released
	 *   what it held, or after nbd_serve_conn_wake()); another negative
	 *   errno: the request is answered with it (its payload dropped).
	 *   Required.
	 */
	int (*prepare)(void *arg, void *user, struct nbd_serve_io *io);
	/*
	 * Start a prepared request (a WRITE's payload is in io->iov). It
	 * completes later with nbd_serve_io_done(), never inside this call.
	 * @return 0; a negative errno: answered with it now. Required.
	 */
	int (*submit)(void *arg, void *user, struct nbd_serve_io *io);
	/* Give back what prepare() took (after the reply is sent, or dropped). May be NULL. */
	void (*release)(void *arg, void *user, struct nbd_serve_io *io);
	/* A record is freed: free what priv holds. May be NULL. */
	void (*fini)(void *arg, struct nbd_serve_io *io);
	/* Run completions; called in every nbd_serve_poll(). @return work done. May be NULL. */
	int (*poll)(void *arg);
	/* At close: complete everything in flight (blocking). May be NULL. */
	void (*drain)(void *arg);
	/*
	 * Which bytes of [offset, offset + len) (inside the export) are holes
	 * that read as zeros: ext[i].flags NBD_STATE_HOLE | NBD_STATE_ZERO, or
	 * 0 for data; never a hole where there may be data. Synchronous.
	 * BLOCK_STATUS answers from it, and a structured READ wholly inside
	 * a hole is answered with one OFFSET_HOLE chunk without touching the
	 * backend's data. @return extents written (1..max) covering a prefix
	 * of the range; < 0: answered as all data. May be NULL (all data).
	 */
	int (*extents)(void *arg, void *user, uint64_t offset, uint64_t len,
		       struct nbd_extent *ext, unsigned max);
};

/* Zero means default where noted. */
struct nbd_serve_params {
	const struct nbd_serve_ops *ops;
	void *arg;
	/* The one export (name NULL: "", answering any name); strings kept by pointer. */
	struct nbd_export exp;
	const char *const *addrs; /* unix:PATH or tcp:HOST:PORT */
	unsigned naddrs;	  /* at most NBD_SERVE_MAX_LISTEN */
	unsigned max_conns;	  /* 0: 64 */
	size_t io_priv_size;	  /* bytes of nbd_serve_io.priv */
	/*
	 * Read a connection's socket only up to the end of the next request
	 * header, so that no write payload is ever read into the input
	 * buffer and copied from there (copied_in stays 0; only payload a
	 * client pipelined behind its handshake is copied, copied_early):
	 * one recvmsg per request instead of one per batch of requests. Without it, payload bytes that came in one read with the
	 * headers before them (many small pipelined writes) are copied once.
	 */
	bool exact_payload;
	/*
	 * NULL, or the block service server whose poll is the program's loop:
	 * the serve layer's epoll fd is watched there (and unwatched at
	 * close), so that a sleeping loop wakes for NBD sockets.
	 */
	struct bulk_bs_server *srv;
};

/**
 * Listen on every address and adopt the fds systemd passed (LISTEN_FDS
 * and LISTEN_PID: fds 3.. are NBD listeners).
 * @return 0 and *out; -EINVAL (a bad address or export); -ENOMEM; a
 *   negative errno of socket(), bind(), listen(), epoll. @p err (if not
 *   NULL) gets a one-line reason.
 */
int nbd_serve_open(const struct nbd_serve_params *p, struct nbd_serve **out, char *err,
		   size_t err_len);

/** @return the epoll fd to watch (readable when a socket wants attention). */
int nbd_serve_fd(const struct nbd_serve *ns);

/** @return the number of listeners (0 for NULL). */
unsigned nbd_serve_listeners(const struct nbd_serve *ns);

/**
 * Write the listeners' URIs (nbd://HOST:PORT[/NAME],
 * nbd+unix:///[NAME]?socket=PATH), separated by blanks.
 * @return the length written (truncated to @p len - 1).
 */
size_t nbd_serve_uris(const struct nbd_serve *ns, char *buf, size_t len);

/** @return connections open (0 for NULL). */
unsigned nbd_serve_conns(const struct nbd_serve *ns);

/** @return requests submitted to the backend and not completed (0 for NULL). */
uint64_t nbd_serve_inflight(const struct nbd_serve *ns);

/**
 * Whether the loop should spin (for a while) rather than sleep in epoll:
 * requests are with the backend, a payload is partly received, replies
 * wait for the socket to drain, or a client has less than 128 KiB of
 * replies still to read: it is waiting on us, or soon will be, and a
 * sleep would put a wake-up (tens of microseconds on a VM) into its
 * latency. A client further behind than that is the bottleneck itself
 * (a deep queue): its next request comes when it has read ours, and
 * the loop sleeps until then instead of spending its CPU on waiting.
 * @return false for NULL.
 */
bool nbd_serve_busy(const struct nbd_serve *ns);

/**
 * Accept, read requests, prepare and submit them, run the backend's
 * poll, send replies. Never blocks.
 * @return work items handled (>= 0).
 */
int nbd_serve_poll(struct nbd_serve *ns);

/**
 * A submitted request completed (0 or a negative errno, which goes to the
 * wire through nbd_errno_to_wire()); its reply goes out at the next poll.
 */
void nbd_serve_io_done(struct nbd_serve_io *io, int status);

/** A stalled prepare() may succeed now: try it again at the next poll. */
void nbd_serve_conn_wake(struct nbd_serve_conn *c);

/** @return the connection's number (0, 1, ... in accept order). */
uint64_t nbd_serve_conn_id(const struct nbd_serve_conn *c);

/**
 * Stop listening, let the backend finish what is in flight (drain), send
 * the replies where the sockets take them, close every connection, print
 * "nbd: stats: ..." and free everything. A connection the backend still
 * holds requests of after drain is left to the process's exit (said on
 * stderr). NULL is ignored.
 */
void nbd_serve_close(struct nbd_serve *ns);

#endif /* NBD_SERVE_H */
