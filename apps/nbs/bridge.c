/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * From libbulk-bs to the store and back: a valid request (its data in the
 * client's own buffer, mapped here) becomes a store request on that very
 * buffer, and its completion completes the block service request, which
 * passes the buffer back. The store's one copy (memory: memcpy between
 * its block and the buffer; file: the kernel's page-cache copy) is the
 * only copy of the payload in nbs, and is counted per client.
 */
#include <errno.h>
#include <stdlib.h>

#include "app.h"
#include "bs_dpdk.h"
#include "bs_hop.h"
#include "nbs.h"

/* A store request and the block service request it serves. */
struct nbs_io {
	struct nbs_store_req sreq;
	struct bulk_bs_request *req;
	struct nbs_bridge *b;
	struct nbs_io *next; /* free list */
};

static const uint8_t nbs_op_map[] = {
	[BULK_BS_OP_READ] = NBS_STORE_OP_READ,
	[BULK_BS_OP_WRITE] = NBS_STORE_OP_WRITE,
	[BULK_BS_OP_FLUSH] = NBS_STORE_OP_FLUSH,
	[BULK_BS_OP_TRIM] = NBS_STORE_OP_TRIM,
	[BULK_BS_OP_WRITE_ZEROES] = NBS_STORE_OP_WRITE_ZEROES,
};

/* Copies the store made since the last look belong to @p req's client. */
static void
attribute_copies(struct nbs_bridge *b, struct bulk_bs_request *req)
{
	struct nbs_client *cl = bulk_bs_conn_user(req->conn);
	uint64_t now = b->store->stats.bytes_copied;

	if (cl != NULL)
		cl->store_copied += now - b->last_copied;
	b->last_copied = now;
}

static void
io_done(struct nbs_store_req *sr, int status)
{
	struct nbs_io *io = sr->user;
	struct nbs_bridge *b = io->b;

	/* The file store counts its copy just before it calls back. */
	attribute_copies(b, io->req);
	(void)bulk_bs_request_complete(io->req, status);
	b->inflight--;
	io->next = b->free_ios;
	b->free_ios = io;
}

static void
on_request(void *arg, struct bulk_bs_request *req)
{
	struct nbs_bridge *b = arg;
	struct nbs_io *io = b->free_ios;
	unsigned flags = (req->flags & BULK_BS_CMD_FUA) ? NBS_STORE_REQ_FUA : 0;
	int rc;

	if (io != NULL) {
		b->free_ios = io->next;
	} else {
		io = calloc(1, sizeof(*io));
		if (io == NULL) {
			(void)bulk_bs_request_complete(req, -ENOMEM);
			return;
		}
		io->b = b;
	}
	io->req = req;
	nbs_store_req_init(&io->sreq, nbs_op_map[req->op], flags, req->offset, req->length,
			   req->data, io_done, io);
	b->submitted++;
	rc = nbs_store_submit(b->store, &io->sreq);
	/* The memory store copies at submit. */
	attribute_copies(b, req);
	if (rc < 0) {
		b->failed_submit++;
		io->next = b->free_ios;
		b->free_ios = io;
		(void)bulk_bs_request_complete(req, rc);
		return;
	}
	b->inflight++;
}

static int
on_open(void *arg, struct bulk_bs_conn *c)
{
	struct nbs_client *cl = calloc(1, sizeof(*cl));

	(void)arg;
	if (cl == NULL)
		return -ENOMEM;
	bulk_bs_conn_set_user(c, cl);
	return 0;
}

static void
on_close(void *arg, struct bulk_bs_conn *c, int reason)
{
	struct nbs_client *cl = bulk_bs_conn_user(c);

	(void)arg;
	nbs_report_client(c, reason, cl);
	bulk_bs_conn_set_user(c, NULL);
	free(cl);
}

/* The channels still exist: what only their backend counts is read now. */
static int
on_closing(void *arg, struct bulk_bs_conn *c, int reason)
{
	struct nbs_client *cl = bulk_bs_conn_user(c);
	struct bs_hop h = { 0 };

	(void)arg;
	(void)reason;
	for (unsigned k = 0; k < BULK_BS_MAX_CHANNELS; k++)
		bs_hop_add_channel(&h, bulk_bs_conn_channel(c, k));
	if (cl != NULL)
		cl->tx_copied_frames = h.tx_copied_frames;
	return 0;
}

const struct bulk_bs_server_ops nbs_bridge_ops = {
	.request = on_request,
	.conn_open = on_open,
	.conn_close = on_close,
	.conn_closing = on_closing,
};

int
nbs_bridge_poll(void *arg)
{
	struct nbs_bridge *b = arg;
	int n, d = 0;

	if (b->dpdk != NULL && (d = bs_dpdk_poll(b->dpdk)) < 0)
		d = 0;
	if (b->inflight == 0)
		return d;
	n = nbs_store_poll(b->store, 0);
	if (n < 0) {
		app_err("store poll: %s", bulk_strerror(n));
		return 0;
	}
	/* Still waiting for the store: arm it, and if work is ready say so,
	 * so that the server does not go to sleep over it. */
	if (n == 0 && b->inflight > 0 && nbs_store_arm(b->store) == 1)
		n = 1;
	return n + d;
}

static void
flush_done(struct nbs_store_req *sr, int status)
{
	*(int *)sr->user = status == 0 ? 1 : status;
}

int
nbs_bridge_flush(struct nbs_bridge *b)
{
	struct nbs_store_req sr;
	int result = 0, rc;

	if (!(b->store->flags & NBS_STORE_FLAG_FLUSH))
		return 0;
	nbs_store_req_init(&sr, NBS_STORE_OP_FLUSH, 0, 0, 0, NULL, flush_done, &result);
	rc = nbs_store_submit(b->store, &sr);
	if (rc < 0)
		return rc;
	rc = nbs_store_drain(b->store);
	if (rc < 0)
		return rc;
	return result == 1 ? 0 : (result < 0 ? result : -EIO);
}

void
nbs_bridge_fini(struct nbs_bridge *b)
{
	while (b->free_ios != NULL) {
		struct nbs_io *io = b->free_ios;

		b->free_ios = io->next;
		free(io);
	}
}
