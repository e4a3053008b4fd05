/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nbs's NBD front end (nbd_front.h): the sockets, handshake and replies
 * are apps/common/nbd_serve.c's (shared with nbs-proxy); this file is its
 * backend over the store:
 *
 *   socket --recvmsg--> the request's own buffer --store write-->
 *   store --read--> the request's buffer --sendmsg (header + data)--> socket
 *
 * Each request record keeps an aligned buffer of its own (grown to the
 * largest request it carried, reused with the record), which is what the
 * store reads into and writes from.
 *
 * The memory store is not copied to or from that buffer: a READ's reply
 * is sent straight from the store's memory (nbs_store_read_map()) and a
 * WRITE's payload is received straight into it (nbs_store_write_map()),
 * so the only copy of a byte is the socket's. NBD leaves overlapping
 * requests in flight undefined, and an unfinished WRITE's range
 * undefined, which is what makes this allowed. Such requests finish at the
 * next poll, as the store's would.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <bulk/bulk_bs.h>

#include "app.h"
#include "nbd.h"
#include "nbd_front.h"
#include "nbd_serve.h"
#include "store.h"

#define NF_BUF_ALIGN 4096u

/* Pieces of a READ sent from the store's memory (data runs and holes). */
#define NF_MAP_IOV 8u

struct nbs_nbd {
	struct nbs_store *store;
	struct bulk_bs_server *srv;
	struct nbd_serve *ns;
	struct nbd_serve_io *mapped;  /* READs by reference, answered at the next poll */
	struct nbd_serve_io **mapped_tail;
};

/* A request's part that is the store's: nbd_serve_io.priv. */
struct nf_io {
	struct nbs_store_req sr;
	struct iovec iov;
	uint8_t *buf; /* READ: the store's destination; WRITE: the payload */
	size_t cap;
	bool by_ref;  /* READ: io->iov points into the store (riov) */
	struct iovec riov[NF_MAP_IOV];
	struct nbd_serve_io *next;
};

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

/* ------------------------------------------------------------ backend */

static int
nf_prepare(void *arg, void *user, struct nbd_serve_io *io)
{
	struct nbs_nbd *n = arg;
	struct nf_io *p = io->priv;
	size_t need = (size_t)io->req.len;
	int k;

	(void)user;
	p->by_ref = false;
	if (io->req.type != NBD_CMD_READ && io->req.type != NBD_CMD_WRITE)
		return 0;
	if (io->req.type == NBD_CMD_READ)
		k = nbs_store_read_map(n->store, io->req.offset, io->req.len, p->riov, NF_MAP_IOV);
	else
		k = nbs_store_write_map(n->store, io->req.offset, io->req.len, p->riov,
					NF_MAP_IOV);
	if (k > 0) {
		p->by_ref = true;
		io->iov = p->riov;
		io->niov = (unsigned)k;
		/* The store's own blocks stay mapped: sent by reference. */
		io->stable = io->req.type == NBD_CMD_READ;
		return 0;
	}
	if (need > p->cap) {
		size_t cap = (need + NF_BUF_ALIGN - 1) / NF_BUF_ALIGN * NF_BUF_ALIGN;

		free(p->buf);
		p->buf = aligned_alloc(NF_BUF_ALIGN, cap);
		p->cap = p->buf != NULL ? cap : 0;
		if (p->buf == NULL)
			return -ENOMEM;
	}
	p->iov.iov_base = p->buf;
	p->iov.iov_len = need;
	io->iov = &p->iov;
	io->niov = 1;
	return 0;
}

static void
nf_store_done(struct nbs_store_req *sr, int status)
{
	nbd_serve_io_done(sr->user, status);
}

static int
nf_submit(void *arg, void *user, struct nbd_serve_io *io)
{
	struct nbs_nbd *n = arg;
	struct nf_io *p = io->priv;
	const struct nbd_request *req = &io->req;
	unsigned fua = req->flags & NBD_CMD_FLAG_FUA ? NBS_STORE_REQ_FUA : 0, flags = 0;
	enum nbs_store_op op;

	(void)user;
	switch (req->type) {
	case NBD_CMD_READ:
		if (p->by_ref) {
			/* Nothing to do but answer; never inside submit. */
			p->next = NULL;
			*n->mapped_tail = io;
			n->mapped_tail = &p->next;
			return 0;
		}
		op = NBS_STORE_OP_READ;
		break;
	case NBD_CMD_WRITE:
		if (p->by_ref) {
			/* The payload was received into the store itself. */
			nbs_store_write_mapped(n->store, req->offset, req->len);
			p->next = NULL;
			*n->mapped_tail = io;
			n->mapped_tail = &p->next;
			return 0;
		}
		op = NBS_STORE_OP_WRITE;
		flags = fua;
		break;
	case NBD_CMD_FLUSH:
		op = NBS_STORE_OP_FLUSH;
		break;
	case NBD_CMD_TRIM:
		op = NBS_STORE_OP_TRIM;
		flags = fua;
		break;
	case NBD_CMD_WRITE_ZEROES:
		op = NBS_STORE_OP_WRITE_ZEROES;
		flags = fua | (req->flags & NBD_CMD_FLAG_NO_HOLE ? NBS_STORE_REQ_NO_HOLE : 0) |
			(req->flags & NBD_CMD_FLAG_FAST_ZERO ? NBS_STORE_REQ_FAST_ZERO : 0);
		break;
	default:
		return -EINVAL;
	}
	nbs_store_req_init(&p->sr, op, flags, op == NBS_STORE_OP_FLUSH ? 0 : req->offset,
			   op == NBS_STORE_OP_FLUSH ? 0 : req->len,
			   op == NBS_STORE_OP_READ || op == NBS_STORE_OP_WRITE ? p->buf : NULL,
			   nf_store_done, io);
	return nbs_store_submit(n->store, &p->sr);
}

static void
nf_fini(void *arg, struct nbd_serve_io *io)
{
	struct nf_io *p = io->priv;

	(void)arg;
	free(p->buf);
	p->buf = NULL;
	p->cap = 0;
}

/* Start what was submitted; run the store's completions (the bridge
 * polls the store too; each callback finds its own front end). */
static int
nf_poll(void *arg)
{
	struct nbs_nbd *n = arg;
	int c = 0;

	while (n->mapped != NULL) {
		struct nbd_serve_io *io = n->mapped;
		struct nf_io *p = io->priv;

		n->mapped = p->next;
		if (n->mapped == NULL)
			n->mapped_tail = &n->mapped;
		nbd_serve_io_done(io, 0);
		c++;
	}
	if (c > 0)
		return c;
	if (nbd_serve_inflight(n->ns) == 0)
		return 0;
	c = nbs_store_poll(n->store, 0);
	if (c > 0)
		return c;
	if (nbd_serve_inflight(n->ns) > 0 && nbs_store_arm(n->store) == 1)
		return 1;
	return 0;
}

static void
nf_drain(void *arg)
{
	struct nbs_nbd *n = arg;

	(void)nf_poll(n);
	(void)nbs_store_drain(n->store);
}

/* Holes as the store knows them (the memory store's bitmap, SEEK_HOLE). */
static int
nf_extents(void *arg, void *user, uint64_t offset, uint64_t len, struct nbd_extent *ext,
	   unsigned max)
{
	struct nbs_nbd *n = arg;
	struct nbs_store_extent se[NBD_SERVE_EXTENTS_MAX];
	int k;

	(void)user;
	if (max > NBD_SERVE_EXTENTS_MAX)
		max = NBD_SERVE_EXTENTS_MAX;
	k = nbs_store_extents(n->store, offset, len, se, max);
	for (int i = 0; i < k; i++) {
		ext[i].length = se[i].length;
		ext[i].flags = se[i].hole ? NBD_STATE_HOLE | NBD_STATE_ZERO : 0;
	}
	return k;
}

static const struct nbd_serve_ops nf_ops = {
	.prepare = nf_prepare,
	.submit = nf_submit,
	.fini = nf_fini,
	.poll = nf_poll,
	.drain = nf_drain,
	.extents = nf_extents,
};

/* ------------------------------------------------------------ the API */

int
nbs_nbd_open(const struct nbs_nbd_params *p, struct nbs_nbd **out, char *err, size_t err_len)
{
	struct nbd_serve_params sp = { .ops = &nf_ops, .io_priv_size = sizeof(struct nf_io) };
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
	n->mapped_tail = &n->mapped;
	sp.arg = n;
	sp.exp.name = p->export_name != NULL ? p->export_name : "";
	sp.exp.description = "nbs";
	sp.exp.size = p->size;
	sp.exp.caps = nf_caps(p->store);
	sp.exp.block_min = p->block_min;
	sp.exp.block_pref = p->block_pref;
	sp.exp.block_max = p->block_max;
	sp.exp.opaque = p->store;
	sp.addrs = p->addrs;
	sp.naddrs = p->naddrs;
	sp.max_conns = p->max_conns;
	sp.srv = p->srv;
	rc = nbd_serve_open(&sp, &n->ns, err, err_len);
	if (rc < 0) {
		free(n);
		return rc;
	}
	*out = n;
	return 0;
}

unsigned
nbs_nbd_listeners(const struct nbs_nbd *n)
{
	return n != NULL ? nbd_serve_listeners(n->ns) : 0;
}

unsigned
nbs_nbd_conns(const struct nbs_nbd *n)
{
	return n != NULL ? nbd_serve_conns(n->ns) : 0;
}

size_t
nbs_nbd_uris(const struct nbs_nbd *n, char *buf, size_t len)
{
	if (n == NULL) {
		if (len > 0)
			buf[0] = '\0';
		return 0;
	}
	return nbd_serve_uris(n->ns, buf, len);
}

int
nbs_nbd_poll(struct nbs_nbd *n)
{
	return n != NULL ? nbd_serve_poll(n->ns) : 0;
}

bool
nbs_nbd_busy(const struct nbs_nbd *n)
{
	return n != NULL && nbd_serve_busy(n->ns);
}

void
nbs_nbd_close(struct nbs_nbd *n)
{
	if (n == NULL)
		return;
	nbd_serve_close(n->ns);
	free(n);
}
