/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nbs-proxy's NBD front end (--nbd): unmodified NBD clients (qemu-img,
 * qemu-io, nbdinfo, nbdcopy, fio's nbd engine) served the upstream's
 * export, their requests carried upstream over libbulk-bs. The sockets,
 * the handshake and the replies are apps/common/nbd_serve.c's, as in nbs;
 * this file is its backend over upstream clients:
 *
 *   WRITE: socket --recvmsg--> pool buffer(s) of the connection's upstream
 *          client --move--> upstream (the buffer itself travels)
 *   READ:  upstream --pass--> the same pool buffer(s) --sendmsg--> socket
 *
 * so the proxy's only copy of a payload byte is the kernel's, between the
 * socket and the buffer; the upstream hop adds its own (none over shm, the
 * receive copy over dpdk).
 *
 * Each NBD connection that reaches transmission gets an upstream session
 * of its own (a bulk_bs_client with a pool of --nbd-buffers buffers of
 * --nbd-buffer-size bytes, over --via, at a dpdk endpoint of its own),
 * like each native user. A READ or WRITE longer than a buffer is split
 * into one upstream request per buffer, all in flight at once; its reply
 * goes out once every piece is back (header + the pieces in order, one
 * sendmsg). TRIM and WRITE_ZEROES longer than the native protocol's 32-bit
 * length go as consecutive pieces in one buffer. WRITE_ZEROES with
 * NO_HOLE (the range must stay allocated), which the native protocol
 * cannot say, is sent as WRITEs of a zeroed buffer.
 *
 * Losing the upstream: every request there fails (lib/bs brings the
 * buffers back with -ECONNRESET) and is answered EIO; requests that come
 * while it is away are answered EIO at once, never held. The session is
 * closed once the front end holds none of its buffers, and opened again
 * (blocking, --connect-timeout) when a request arrives after a backoff of
 * 50 ms doubling to 2 s.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bulk/bulk.h>
#include <bulk/bulk_bs.h>

#include "app.h"
#include "bs_dpdk.h"
#include "nbd.h"
#include "nbd_serve.h"
#include "cache.h"
#include "proxy.h"

#define PN_BACKOFF_FIRST_NS (50 * APP_MS_NS)
#define PN_BACKOFF_MAX_NS   (2 * APP_SEC_NS)
#define PN_MAX_PIECES	    64u /* buffers one request may take */
#define PN_BATCH	    256u /* pieces gathered per connection before they go upstream */

/* How a request's pieces are made. */
enum pn_kind {
	PN_DATA,  /* READ, WRITE: one piece per buffer, all at once */
	PN_RANGE, /* TRIM, WRITE_ZEROES: pieces of at most range_max, one after another */
	PN_ZWRITE /* WRITE_ZEROES with NO_HOLE: WRITEs of a zeroed buffer, one after another */
};

struct pn_conn;

/* The backend's part of a request (nbd_serve_io.priv). */
struct pn_io {
	struct nbd_serve_io *io;
	struct pn_conn *pc;
	struct pn_io *resub_next;
	enum pn_kind kind;
	uint64_t off, end; /* PN_RANGE, PN_ZWRITE: what is still to go */
	unsigned nbuf, npend;
	int status;
	struct bulk_buffer *bufs[PN_MAX_PIECES];
	struct iovec iov[PN_MAX_PIECES];
};

/* One NBD connection's upstream session. */
struct pn_conn {
	struct px_nbd *n;
	struct pn_conn *prev, *next;
	struct nbd_serve_conn *sc;
	struct bulk_bs_client *up; /* NULL while there is none */
	bool lost;		   /* its loss was seen: closed once nothing is held */
	unsigned held;		   /* buffers taken by requests */
	unsigned inflight;	   /* pieces upstream */
	unsigned sessions;
	int fds[BULK_BS_MAX_CHANNELS];
	int nfds;
	uint64_t next_try, backoff;
	struct pn_io *resub; /* requests with a next piece to submit */
	struct bs_hop hop;   /* its sessions that ended */
	/* Pieces of this round's requests, submitted upstream together (one
	 * move burst, one wakeup of the upstream) by pn_flush(). */
	unsigned nbatch;
	struct bulk_bs_io batch[PN_BATCH];
};

struct px_nbd {
	struct px *px;
	struct nbd_serve *ns;
	struct pn_conn *conns;
	uint32_t buf_size, nbufs, range_max;
	uint64_t sessions, lost, failed_fast, lost_inflight, reconnects;
};

/* Statuses the client should see as EIO: the upstream is away, or the
 * failure is the proxy's own (libbulk's codes mean nothing on the wire). */
static int
pn_status(int status)
{
	switch (status) {
	case 0:
	case -EPERM:
	case -EINVAL:
	case -ENOSPC:
	case -EOVERFLOW:
	case -ENOTSUP:
	case -ENOMEM:
	case -EIO:
		return status;
	default:
		return -EIO;
	}
}

/* ------------------------------------------------------------ sessions */

static int
pn_connect(struct pn_conn *pc)
{
	struct px_nbd *n = pc->n;
	struct px *px = n->px;
	char err[512] = "";
	int rc;

	rc = px_up_connect_pool(px, n->nbufs, n->buf_size, &pc->up, err, sizeof(err));
	if (rc == 0 && (bulk_bs_client_info(pc->up)->size != px->info.size ||
			bulk_bs_client_info(pc->up)->block_min != px->info.block_min ||
			bulk_bs_client_info(pc->up)->flags != px->info.flags ||
			bulk_bs_client_buffer_size(pc->up) < n->buf_size)) {
		snprintf(err, sizeof(err), "the upstream export is not the one served");
		(void)bulk_bs_client_close(pc->up);
		rc = -EPROTO;
	}
	if (rc < 0) {
		pc->up = NULL;
		pc->next_try = app_now_ns() + pc->backoff;
		pc->backoff = pc->backoff * 2 > PN_BACKOFF_MAX_NS ? PN_BACKOFF_MAX_NS
								  : pc->backoff * 2;
		app_err("nbd: client=%" PRIu64 ": upstream %s: %s (its requests fail with EIO)",
			nbd_serve_conn_id(pc->sc), px->o->upstream,
			err[0] ? err : bulk_strerror(rc));
		return rc;
	}
	pc->lost = false;
	pc->backoff = PN_BACKOFF_FIRST_NS;
	pc->sessions++;
	n->sessions++;
	px->tot.sessions++;
	pc->nfds = bulk_bs_client_fds(pc->up, pc->fds, BULK_BS_MAX_CHANNELS);
	if (pc->nfds < 0)
		pc->nfds = 0;
	for (int i = 0; i < pc->nfds; i++)
		if (bulk_bs_server_watch_fd(px->srv, pc->fds[i]) < 0)
			pc->fds[i] = -1;
	return 0;
}

/* Close the session (nothing of it is held or in flight any more). */
static void
pn_close_up(struct pn_conn *pc, const char *end)
{
	struct px *px = pc->n->px;
	struct bulk_bs_stats st;
	struct bs_hop h = { 0 };
	int rc;

	if (pc->up == NULL)
		return;
	for (int i = 0; i < pc->nfds; i++)
		if (pc->fds[i] >= 0)
			(void)bulk_bs_server_unwatch_fd(px->srv, pc->fds[i]);
	pc->nfds = 0;
	if (bulk_bs_client_stats_get(pc->up, &st) == 0)
		bs_hop_from_stats(&h, &st);
	for (unsigned k = 0; k < BULK_BS_MAX_CHANNELS; k++)
		bs_hop_add_channel(&h, bulk_bs_client_channel(pc->up, k));
	rc = bulk_bs_client_close(pc->up);
	pc->up = NULL;
	if (rc < 0 && rc != -ECONNRESET)
		app_err("nbd: client=%" PRIu64 ": closing its upstream session: %s",
			nbd_serve_conn_id(pc->sc), bulk_strerror(rc));
	app_say("stats: nbd client=%" PRIu64 " session=%u hop=%s requests=%" PRIu64
		" moved_bytes=%" PRIu64 " copied_bytes=%" PRIu64 " tx_copied_frames=%" PRIu64
		" end=%s",
		nbd_serve_conn_id(pc->sc), pc->sessions, h.backend, h.requests, h.moved_bytes,
		h.copied_bytes, h.tx_copied_frames, end);
	bs_hop_sum(&pc->hop, &h);
	bs_hop_sum(&px->tot.up, &h);
}

/* ------------------------------------------------------------ requests */

static void pn_piece_done(void *arg, int status, struct bulk_buffer *buf);

/* Fill @p bio with @p p's next sequential piece (PN_RANGE, PN_ZWRITE). */
static void
pn_next_piece(struct pn_io *p, struct bulk_bs_io *bio)
{
	const struct nbd_request *req = &p->io->req;
	uint64_t max = p->kind == PN_ZWRITE ? p->pc->n->buf_size : p->pc->n->range_max;
	uint64_t len = p->end - p->off < max ? p->end - p->off : max;

	*bio = (struct bulk_bs_io){
		.op = p->kind == PN_ZWRITE	    ? BULK_BS_OP_WRITE
		      : req->type == NBD_CMD_TRIM ? BULK_BS_OP_TRIM
						  : BULK_BS_OP_WRITE_ZEROES,
		.flags = req->flags & NBD_CMD_FLAG_FUA ? BULK_BS_CMD_FUA : 0,
		.length = (uint32_t)len,
		.offset = p->off,
		.buf = p->bufs[0],
		.done = pn_piece_done,
		.arg = p,
	};
	p->off += len;
}

static int
pn_prepare(void *arg, void *user, struct nbd_serve_io *io)
{
	struct px_nbd *n = arg;
	struct pn_conn *pc = user;
	struct pn_io *p = io->priv;
	const struct nbd_request *req = &io->req;
	unsigned need = 1;

	if (pc->up == NULL && !pc->lost && !n->px->shutting && app_now_ns() >= pc->next_try) {
		if (pn_connect(pc) == 0) {
			n->reconnects++;
			app_say("nbd: client=%" PRIu64 ": upstream session %u open",
				nbd_serve_conn_id(pc->sc), pc->sessions);
		}
	}
	if (pc->up == NULL || pc->lost) {
		n->failed_fast++;
		return -EIO;
	}
	memset(p, 0, offsetof(struct pn_io, bufs));
	p->io = io;
	p->pc = pc;
	p->kind = PN_DATA;
	if (req->type == NBD_CMD_READ || req->type == NBD_CMD_WRITE)
		need = (unsigned)((req->len + n->buf_size - 1) / n->buf_size);
	else if (req->type == NBD_CMD_TRIM || req->type == NBD_CMD_WRITE_ZEROES)
		p->kind = req->type == NBD_CMD_WRITE_ZEROES && (req->flags & NBD_CMD_FLAG_NO_HOLE)
				  ? PN_ZWRITE
				  : PN_RANGE;
	if (need > PN_MAX_PIECES || need > n->nbufs)
		return -EOVERFLOW; /* cannot be: the advertised maximum fits */
	for (unsigned i = 0; i < need; i++) {
		p->bufs[i] = bulk_bs_client_buffer_get(pc->up);
		if (p->bufs[i] == NULL) {
			while (i-- > 0)
				(void)bulk_bs_client_buffer_put(pc->up, p->bufs[i]);
			/* Requests of this connection hold them: wait for one. */
			return pc->held > 0 ? -EAGAIN : -EIO;
		}
	}
	p->nbuf = need;
	pc->held += need;
	if (p->kind == PN_DATA && req->type != NBD_CMD_FLUSH) {
		for (unsigned i = 0; i < need; i++) {
			uint64_t left = req->len - (uint64_t)i * n->buf_size;

			p->iov[i].iov_base = p->bufs[i]->addr;
			p->iov[i].iov_len = left < n->buf_size ? (size_t)left : n->buf_size;
		}
		io->iov = p->iov;
		io->niov = need;
	}
	if (p->kind == PN_ZWRITE)
		memset(p->bufs[0]->addr, 0,
		       req->len < n->buf_size ? (size_t)req->len : n->buf_size);
	p->off = req->offset;
	p->end = req->offset + req->len;
	return 0;
}

static int pn_flush(struct pn_conn *pc);

/*
 * --cache: a request that changes the store takes its blocks out of the
 * read cache when it goes upstream and again when it is answered, so that
 * no READ filled in between keeps data from before it (cache.h).
 */
static void
pn_cache_invalidate(const struct pn_io *p)
{
	const struct nbd_request *req = &p->io->req;
	struct px_cache *cache = p->pc->n->px->cache;

	if (cache != NULL && (req->type == NBD_CMD_WRITE || req->type == NBD_CMD_TRIM ||
			      req->type == NBD_CMD_WRITE_ZEROES))
		px_cache_invalidate(cache, req->offset, req->len);
}

/*
 * Queue the request's pieces; they go upstream with the rest of the
 * round's at the backend's next poll (nbd_serve_poll() runs it right
 * after reading the sockets), or at once when the batch is full.
 */
static int
pn_submit(void *arg, void *user, struct nbd_serve_io *io)
{
	struct px_nbd *n = arg;
	struct pn_conn *pc = user;
	struct pn_io *p = io->priv;
	const struct nbd_request *req = &io->req;
	struct bulk_bs_io *bio;
	unsigned k = 0, need = p->kind == PN_DATA && req->type != NBD_CMD_FLUSH ? p->nbuf : 1;

	if (pc->up == NULL || pc->lost)
		return -EIO;
	pn_cache_invalidate(p);
	if (pc->nbatch + need > PN_BATCH)
		(void)pn_flush(pc);
	bio = &pc->batch[pc->nbatch];
	if (req->type == NBD_CMD_FLUSH) {
		bio[k++] = (struct bulk_bs_io){ .op = BULK_BS_OP_FLUSH, .buf = p->bufs[0],
						.done = pn_piece_done, .arg = p };
	} else if (p->kind == PN_DATA) {
		for (; k < p->nbuf; k++)
			bio[k] = (struct bulk_bs_io){
				.op = req->type == NBD_CMD_READ ? BULK_BS_OP_READ : BULK_BS_OP_WRITE,
				.flags = req->type == NBD_CMD_WRITE && (req->flags & NBD_CMD_FLAG_FUA)
						 ? BULK_BS_CMD_FUA
						 : 0,
				.length = (uint32_t)p->iov[k].iov_len,
				.offset = req->offset + (uint64_t)k * n->buf_size,
				.buf = p->bufs[k],
				.done = pn_piece_done,
				.arg = p,
			};
	} else {
		pn_next_piece(p, &bio[k++]);
	}
	pc->nbatch += k;
	p->npend = k;
	pc->inflight += k;
	return 0;
}

/* A request whose pieces could not go upstream is answered with @p status. */
static void
pn_fail_batched(struct pn_io *p, int status)
{
	if (p->status == 0)
		p->status = status;
	p->npend--;
	p->pc->inflight--;
	if (p->npend == 0) {
		pn_cache_invalidate(p);
		nbd_serve_io_done(p->io, pn_status(p->status));
	}
}

/*
 * Submit what pn_submit() gathered, in one call. The upstream checks all
 * or nothing: if it refuses the batch, each piece goes alone and gets its
 * own answer. @return pieces handled.
 */
static int
pn_flush(struct pn_conn *pc)
{
	unsigned n = pc->nbatch;
	int rc;

	if (n == 0)
		return 0;
	pc->nbatch = 0;
	if (pc->up == NULL || pc->lost) {
		for (unsigned i = 0; i < n; i++)
			pn_fail_batched(pc->batch[i].arg, -EIO);
		return (int)n;
	}
	rc = bulk_bs_client_submit(pc->up, pc->batch, n);
	if (rc >= 0)
		return (int)n;
	for (unsigned i = 0; i < n; i++) {
		rc = bulk_bs_client_submit(pc->up, &pc->batch[i], 1);
		if (rc < 0)
			pn_fail_batched(pc->batch[i].arg, rc);
	}
	return (int)n;
}

/* One piece is back (inside bulk_bs_client_poll()). */
static void
pn_piece_done(void *arg, int status, struct bulk_buffer *buf)
{
	struct pn_io *p = arg;
	struct pn_conn *pc = p->pc;

	(void)buf; /* one of p->bufs, ours again (no copies were offered) */
	p->npend--;
	pc->inflight--;
	if (status == -ECONNRESET || status == -ESHUTDOWN)
		pc->n->lost_inflight++;
	if (status < 0 && p->status == 0)
		p->status = status;
	if (p->npend > 0)
		return;
	if (p->status == 0 && p->kind != PN_DATA && p->off < p->end) {
		/* The next piece goes after this poll. */
		p->resub_next = pc->resub;
		pc->resub = p;
		return;
	}
	pn_cache_invalidate(p);
	nbd_serve_io_done(p->io, pn_status(p->status));
}

static void
pn_release(void *arg, void *user, struct nbd_serve_io *io)
{
	struct pn_conn *pc = user;
	struct pn_io *p = io->priv;

	(void)arg;
	for (unsigned i = 0; i < p->nbuf; i++)
		(void)bulk_bs_client_buffer_put(pc->up, p->bufs[i]);
	pc->held -= p->nbuf;
	p->nbuf = 0;
}

/* ---------------------------------------------------------- connections */

static int
pn_conn_open(void *arg, struct nbd_serve_conn *c, void **user)
{
	struct px_nbd *n = arg;
	struct pn_conn *pc = calloc(1, sizeof(*pc));

	if (pc == NULL)
		return -ENOMEM;
	pc->n = n;
	pc->sc = c;
	pc->backoff = PN_BACKOFF_FIRST_NS;
	/* Not reached now: its requests fail with EIO until it is. */
	(void)pn_connect(pc);
	pc->next = n->conns;
	if (n->conns != NULL)
		n->conns->prev = pc;
	n->conns = pc;
	*user = pc;
	return 0;
}

static void
pn_conn_close(void *arg, void *user)
{
	struct px_nbd *n = arg;
	struct pn_conn *pc = user;

	pn_close_up(pc, pc->lost ? "lost" : "goodbye");
	if (pc->prev != NULL)
		pc->prev->next = pc->next;
	else
		n->conns = pc->next;
	if (pc->next != NULL)
		pc->next->prev = pc->prev;
	free(pc);
}

static int
pn_conn_poll(struct pn_conn *pc)
{
	int work = 0, rc;

	work += pn_flush(pc);
	if (pc->up == NULL)
		return work;
	if (!pc->lost) {
		rc = bulk_bs_client_poll(pc->up, 0);
		if (rc > 0)
			work += rc;
		if (rc == -ECONNRESET || rc == -ESHUTDOWN) {
			/* Whatever was upstream completed (with -ECONNRESET). */
			app_err("nbd: client=%" PRIu64 ": upstream %s %s; its requests fail with "
				"EIO until it is back",
				nbd_serve_conn_id(pc->sc), pc->n->px->o->upstream,
				rc == -ESHUTDOWN ? "shut down" : "lost");
			pc->lost = true;
			pc->n->lost++;
			pc->n->px->tot.lost++;
			work++;
		}
	}
	while (pc->resub != NULL) {
		struct pn_io *p = pc->resub;

		pc->resub = p->resub_next;
		work++;
		if (pc->lost) {
			nbd_serve_io_done(p->io, -EIO);
			continue;
		}
		if (pc->nbatch == PN_BATCH)
			(void)pn_flush(pc);
		pn_next_piece(p, &pc->batch[pc->nbatch++]);
		p->npend = 1;
		pc->inflight++;
	}
	work += pn_flush(pc);
	if (pc->lost && pc->held == 0 && pc->inflight == 0) {
		/* Nothing of the session is held any more: it can go. */
		pn_close_up(pc, "lost");
		pc->lost = false;
		pc->next_try = app_now_ns() + pc->backoff;
		work++;
	}
	return work;
}

static int
pn_poll(void *arg)
{
	struct px_nbd *n = arg;
	int work = 0;

	for (struct pn_conn *pc = n->conns; pc != NULL; pc = pc->next)
		work += pn_conn_poll(pc);
	return work;
}

/* At close: what is upstream completes, for at most --shutdown-timeout. */
static void
pn_drain(void *arg)
{
	struct px_nbd *n = arg;
	uint64_t deadline = app_now_ns() + (uint64_t)(n->px->o->shutdown_timeout * 1e9);

	while (nbd_serve_inflight(n->ns) > 0 && app_now_ns() < deadline) {
		if (n->px->dpdk != NULL)
			(void)bs_dpdk_poll(n->px->dpdk);
		(void)pn_poll(n);
	}
}

static const struct nbd_serve_ops pn_ops = {
	.conn_open = pn_conn_open,
	.conn_close = pn_conn_close,
	.prepare = pn_prepare,
	.submit = pn_submit,
	.release = pn_release,
	.poll = pn_poll,
	.drain = pn_drain,
};

/* ------------------------------------------------------------ the API */

static uint32_t
pn_caps(uint32_t flags)
{
	/*
	 * CAN_MULTI_CONN: every connection's requests go to the one upstream
	 * export (nbs, or a chain of proxies ending in it), a write is
	 * answered only once the upstream completed it, and the upstream's
	 * FLUSH covers every write it completed, whichever session sent it
	 * (nbs's, docs/blockservice.md section 9). FAST_ZERO is not offered:
	 * the native protocol cannot ask for it.
	 */
	uint32_t caps = NBD_EXPORT_CAN_MULTI_CONN | NBD_EXPORT_CAN_CACHE | NBD_EXPORT_BLOCK_STATUS;

	if (flags & BULK_BS_FLAG_READ_ONLY)
		caps |= NBD_EXPORT_READ_ONLY;
	if (flags & BULK_BS_FLAG_FLUSH)
		caps |= NBD_EXPORT_CAN_FLUSH;
	if (flags & BULK_BS_FLAG_FUA)
		caps |= NBD_EXPORT_CAN_FUA;
	if (!(flags & BULK_BS_FLAG_READ_ONLY)) {
		if (flags & BULK_BS_FLAG_TRIM)
			caps |= NBD_EXPORT_CAN_TRIM;
		if (flags & BULK_BS_FLAG_WRITE_ZEROES)
			caps |= NBD_EXPORT_CAN_ZERO;
	}
	return caps;
}

static uint32_t
pow2_floor(uint32_t x)
{
	uint32_t p = 1;

	while (p <= x / 2)
		p *= 2;
	return p;
}

int
px_nbd_open(struct px *px, struct px_nbd **out, char *err, size_t err_len)
{
	const struct px_opts *o = px->o;
	const struct bulk_bs_info *in = &px->info;
	/* The payload is read from the socket into pool buffers only, never
	 * into the input buffer first (exact_payload). */
	struct nbd_serve_params sp = { .ops = &pn_ops,
				       .io_priv_size = sizeof(struct pn_io),
				       .exact_payload = true };
	struct px_nbd *n;
	uint32_t bmax;
	int rc;

	*out = NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->px = px;
	/* A buffer: --nbd-buffer-size, or the upstream's largest request up to
	 * 1 MiB; whole blocks. A request the size of the advertised maximum
	 * must fit in the pool and in PN_MAX_PIECES pieces. */
	n->buf_size = o->nbd_buffer_size ? o->nbd_buffer_size
					 : (in->block_max < (1u << 20) ? in->block_max : 1u << 20);
	if (n->buf_size > in->block_max)
		n->buf_size = in->block_max;
	n->buf_size = n->buf_size / in->block_min * in->block_min;
	if (n->buf_size == 0)
		n->buf_size = in->block_min;
	n->nbufs = o->nbd_buffers ? o->nbd_buffers : 64;
	if (n->nbufs > in->max_buffers)
		n->nbufs = in->max_buffers;
	n->range_max = UINT32_MAX / in->block_min * in->block_min;
	bmax = in->block_max;
	if (bmax > n->buf_size * (n->nbufs < PN_MAX_PIECES ? n->nbufs : PN_MAX_PIECES))
		bmax = n->buf_size * (n->nbufs < PN_MAX_PIECES ? n->nbufs : PN_MAX_PIECES);
	if (bmax > NBD_PAYLOAD_MAX_DEFAULT)
		bmax = NBD_PAYLOAD_MAX_DEFAULT;
	bmax = bmax / in->block_min * in->block_min;
	sp.arg = n;
	sp.exp.name = o->export_name != NULL ? o->export_name : "";
	sp.exp.description = "nbs-proxy";
	sp.exp.size = in->size;
	sp.exp.caps = pn_caps(in->flags);
	sp.exp.block_min = in->block_min;
	sp.exp.block_pref = pow2_floor(in->block_pref > 512 ? in->block_pref : 512);
	if (sp.exp.block_pref < in->block_min)
		sp.exp.block_pref = in->block_min;
	if (sp.exp.block_pref > bmax)
		sp.exp.block_pref = pow2_floor(bmax);
	sp.exp.block_max = bmax;
	sp.addrs = o->nbd;
	sp.naddrs = o->nnbd;
	sp.max_conns = o->max_clients;
	sp.srv = px->srv;
	rc = nbd_serve_open(&sp, &n->ns, err, err_len);
	if (rc < 0) {
		free(n);
		return rc;
	}
	*out = n;
	return 0;
}

unsigned
px_nbd_listeners(const struct px_nbd *n)
{
	return n != NULL ? nbd_serve_listeners(n->ns) : 0;
}

size_t
px_nbd_uris(const struct px_nbd *n, char *buf, size_t len)
{
	return n != NULL ? nbd_serve_uris(n->ns, buf, len) : 0;
}

int
px_nbd_poll(struct px_nbd *n)
{
	return n != NULL ? nbd_serve_poll(n->ns) : 0;
}

int
px_nbd_arm(struct px_nbd *n, int *timeout_ms)
{
	if (n == NULL)
		return 0;
	for (struct pn_conn *pc = n->conns; pc != NULL; pc = pc->next) {
		if (pc->resub != NULL || pc->nbatch > 0)
			return 1;
		if (pc->lost && pc->held == 0 && pc->inflight == 0)
			return 1;
		if (pc->up != NULL && !pc->lost && bulk_bs_client_arm(pc->up, timeout_ms) != 0)
			return 1;
	}
	return 0;
}

void
px_nbd_close(struct px_nbd *n)
{
	if (n == NULL)
		return;
	nbd_serve_close(n->ns);
	app_say("stats: nbd sessions=%" PRIu64 " lost=%" PRIu64 " reconnects=%" PRIu64
		" failed_fast=%" PRIu64 " lost_inflight=%" PRIu64 " buffer_size=%u buffers=%u",
		n->sessions, n->lost, n->reconnects, n->failed_fast, n->lost_inflight,
		n->buf_size, n->nbufs);
	free(n);
}
