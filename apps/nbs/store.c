/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The store's front end: spec parsing, the one request check, dispatch to
 * the kind's ops, the queue of completions that are ready at the next
 * poll, and the counters. The kinds only do the I/O.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store_impl.h"

static const struct nbs_store_ops *const store_kinds[] = {
	&nbs_store_memory_ops,
	&nbs_store_file_ops,
};

static const char *const store_op_names[NBS_STORE_OP_COUNT] = {
	[NBS_STORE_OP_READ] = "READ",
	[NBS_STORE_OP_WRITE] = "WRITE",
	[NBS_STORE_OP_FLUSH] = "FLUSH",
	[NBS_STORE_OP_TRIM] = "TRIM",
	[NBS_STORE_OP_WRITE_ZEROES] = "WRITE_ZEROES",
};

const char *
nbs_store_op_name(unsigned op)
{
	return op < NBS_STORE_OP_COUNT ? store_op_names[op] : "?";
}

void
nbs_store_errf(const struct nbs_store_params *p, const char *fmt, ...)
{
	va_list ap;

	if (p == NULL || p->err == NULL || p->err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(p->err, p->err_len, fmt, ap);
	va_end(ap);
}

int
nbs_store_open(const char *spec, const struct nbs_store_params *params, struct nbs_store **out)
{
	struct nbs_store_params p = { 0 };
	const struct nbs_store_ops *ops = NULL;
	struct nbs_store *s = NULL;
	const char *colon;
	size_t klen;
	int rc;

	if (params != NULL)
		p = *params;
	if (p.err != NULL && p.err_len > 0)
		p.err[0] = '\0';
	if (spec == NULL || out == NULL) {
		nbs_store_errf(&p, "no store spec");
		return -EINVAL;
	}
	colon = strchr(spec, ':');
	klen = colon != NULL ? (size_t)(colon - spec) : 0;
	for (size_t i = 0; colon != NULL && i < sizeof(store_kinds) / sizeof(store_kinds[0]); i++) {
		if (strlen(store_kinds[i]->name) == klen &&
		    memcmp(store_kinds[i]->name, spec, klen) == 0)
			ops = store_kinds[i];
	}
	if (ops == NULL) {
		nbs_store_errf(&p, "store '%s': expected memory:SIZE or file:PATH", spec);
		return -EINVAL;
	}
	if (p.block_size == 0)
		p.block_size = NBS_STORE_DEFAULT_BLOCK_SIZE;
	if ((p.block_size & (p.block_size - 1)) != 0 || p.block_size < NBS_STORE_MIN_BLOCK_SIZE ||
	    p.block_size > NBS_STORE_MAX_BLOCK_SIZE) {
		nbs_store_errf(&p, "block size %u: not a power of two in [%u, %u]", p.block_size,
			       NBS_STORE_MIN_BLOCK_SIZE, NBS_STORE_MAX_BLOCK_SIZE);
		return -EINVAL;
	}
	if (p.queue_depth == 0)
		p.queue_depth = NBS_STORE_DEFAULT_QUEUE_DEPTH;
	if ((p.queue_depth & (p.queue_depth - 1)) != 0 || p.queue_depth > 4096) {
		nbs_store_errf(&p, "queue depth %u: not a power of two <= 4096", p.queue_depth);
		return -EINVAL;
	}
	rc = ops->open(colon + 1, &p, &s);
	if (rc < 0)
		return rc;
	s->ops = ops;
	if (p.read_only)
		s->flags |= NBS_STORE_FLAG_READ_ONLY;
	if (s->max_io == 0 || s->max_io > NBS_STORE_MAX_IO)
		s->max_io = NBS_STORE_MAX_IO;
	if (s->min_block_size == 0)
		s->min_block_size = 1;
	memset(&s->stats, 0, sizeof(s->stats));
	s->core.ready = NULL;
	s->core.ready_tail = &s->core.ready;
	s->core.inflight = 0;
	s->core.in_poll = false;
	*out = s;
	return 0;
}

int
nbs_store_close(struct nbs_store *s)
{
	int rc, crc;

	if (s == NULL)
		return -EINVAL;
	if (s->core.in_poll)
		return -EBUSY;
	/* The kernel may still be writing into callers' buffers: finish first. */
	rc = nbs_store_drain(s);
	crc = s->ops->close(s);
	return rc < 0 ? rc : crc;
}

int
nbs_store_check(const struct nbs_store *s, unsigned op, unsigned flags, uint64_t offset,
		uint64_t len)
{
	static const uint32_t need[NBS_STORE_OP_COUNT] = {
		[NBS_STORE_OP_FLUSH] = NBS_STORE_FLAG_FLUSH,
		[NBS_STORE_OP_TRIM] = NBS_STORE_FLAG_TRIM,
		[NBS_STORE_OP_WRITE_ZEROES] = NBS_STORE_FLAG_ZERO,
	};
	bool writes;

	if (s == NULL || op >= NBS_STORE_OP_COUNT || (flags & ~NBS_STORE_REQ_MASK) != 0)
		return -EINVAL;
	if ((flags & (NBS_STORE_REQ_NO_HOLE | NBS_STORE_REQ_FAST_ZERO)) != 0 &&
	    op != NBS_STORE_OP_WRITE_ZEROES)
		return -EINVAL;
	writes = op == NBS_STORE_OP_WRITE || op == NBS_STORE_OP_TRIM ||
		 op == NBS_STORE_OP_WRITE_ZEROES;
	if (writes && (s->flags & NBS_STORE_FLAG_READ_ONLY) != 0)
		return -EPERM;
	if ((s->flags & need[op]) != need[op])
		return -EOPNOTSUPP;
	if ((flags & NBS_STORE_REQ_FUA) != 0 && (s->flags & NBS_STORE_FLAG_FUA) == 0)
		return -EOPNOTSUPP;
	if ((flags & NBS_STORE_REQ_FAST_ZERO) != 0 && (s->flags & NBS_STORE_FLAG_FAST_ZERO) == 0)
		return -EOPNOTSUPP;
	if (op == NBS_STORE_OP_FLUSH)
		return offset == 0 && len == 0 ? 0 : -EINVAL;
	if (len == 0)
		return -EINVAL;
	if ((op == NBS_STORE_OP_READ || op == NBS_STORE_OP_WRITE) && len > s->max_io)
		return -EOVERFLOW;
	if (offset > UINT64_MAX - len)
		return -EINVAL;
	if (offset + len > s->size)
		return op == NBS_STORE_OP_WRITE || op == NBS_STORE_OP_WRITE_ZEROES ? -ENOSPC
										    : -EINVAL;
	return 0;
}

int
nbs_store_submit(struct nbs_store *s, struct nbs_store_req *req)
{
	nbs_store_io_fn fn = NULL;
	int rc;

	if (s == NULL || req == NULL || req->done == NULL)
		return -EINVAL;
	rc = nbs_store_check(s, req->op, req->flags, req->offset, req->len);
	if (rc < 0)
		return rc;
	switch (req->op) {
	case NBS_STORE_OP_READ:
		fn = s->ops->read;
		break;
	case NBS_STORE_OP_WRITE:
		fn = s->ops->write;
		break;
	case NBS_STORE_OP_FLUSH:
		fn = s->ops->flush;
		break;
	case NBS_STORE_OP_TRIM:
		fn = s->ops->trim;
		break;
	case NBS_STORE_OP_WRITE_ZEROES:
		fn = s->ops->write_zeroes;
		break;
	}
	if ((req->op == NBS_STORE_OP_READ || req->op == NBS_STORE_OP_WRITE) && req->buf == NULL)
		return -EINVAL;
	if (fn == NULL)
		return -EOPNOTSUPP;
	memset(&req->priv, 0, sizeof(req->priv));
	/* Counted before the op: a kind may finish it inside the call. */
	s->core.inflight++;
	rc = fn(s, req);
	if (rc < 0) {
		s->core.inflight--;
		return rc;
	}
	s->stats.ops[req->op]++;
	if (s->core.inflight > s->stats.inflight_max)
		s->stats.inflight_max = s->core.inflight;
	return 0;
}

void
nbs_store_complete(struct nbs_store *s, struct nbs_store_req *req, int status)
{
	s->core.inflight--;
	if (status < 0)
		s->stats.errors++;
	else if (req->op == NBS_STORE_OP_READ)
		s->stats.bytes_read += req->len;
	else if (req->op == NBS_STORE_OP_WRITE)
		s->stats.bytes_written += req->len;
	/* Last touch of req: the callback may free or resubmit it. */
	req->done(req, status);
}

void
nbs_store_defer(struct nbs_store *s, struct nbs_store_req *req, int status)
{
	req->priv.status = status;
	req->priv.next = NULL;
	*s->core.ready_tail = req;
	s->core.ready_tail = &req->priv.next;
}

int
nbs_store_poll(struct nbs_store *s, unsigned max)
{
	unsigned n = 0;

	if (s == NULL)
		return -EINVAL;
	if (s->core.in_poll)
		return -EBUSY;
	if (max == 0)
		max = NBS_STORE_DEFAULT_POLL;
	s->core.in_poll = true;
	/*
	 * Only what is in the queue now: a callback that submits again (as a
	 * closed-loop workload does) gets its completion at the next poll, so
	 * one poll is bounded by max and by what was ready when it began.
	 */
	{
		struct nbs_store_req *head = s->core.ready;

		s->core.ready = NULL;
		s->core.ready_tail = &s->core.ready;
		while (head != NULL && n < max) {
			struct nbs_store_req *req = head;

			head = req->priv.next;
			nbs_store_complete(s, req, req->priv.status);
			n++;
		}
		if (head != NULL) {
			/* Left over past max: back in front of what callbacks queued. */
			struct nbs_store_req *tail = head;

			while (tail->priv.next != NULL)
				tail = tail->priv.next;
			tail->priv.next = s->core.ready;
			if (s->core.ready == NULL)
				s->core.ready_tail = &tail->priv.next;
			s->core.ready = head;
		}
	}
	if (n < max && s->ops->poll != NULL) {
		int rc = s->ops->poll(s, max - n);

		if (rc < 0) {
			s->core.in_poll = false;
			return n > 0 ? (int)n : rc;
		}
		n += (unsigned)rc;
	}
	s->core.in_poll = false;
	return (int)n;
}

int
nbs_store_drain(struct nbs_store *s)
{
	int total = 0;

	if (s == NULL)
		return -EINVAL;
	if (s->core.in_poll)
		return -EBUSY;
	while (s->core.inflight > 0) {
		int rc = nbs_store_poll(s, 0);

		if (rc < 0)
			return rc;
		total += rc;
		if (rc == 0 && s->core.ready == NULL) {
			/* Nothing ready here: what is left is the kernel's. */
			if (s->ops->wait == NULL)
				return -EIO; /* a kind lost a request: should not happen */
			rc = s->ops->wait(s);
			if (rc < 0)
				return rc;
		}
	}
	return total;
}

int
nbs_store_fd(struct nbs_store *s)
{
	if (s == NULL)
		return -EINVAL;
	return s->ops->fd != NULL ? s->ops->fd(s) : -ENOTSUP;
}

int
nbs_store_arm(struct nbs_store *s)
{
	int rc = 0;

	if (s == NULL)
		return -EINVAL;
	if (s->ops->arm != NULL)
		rc = s->ops->arm(s);
	if (rc >= 0 && s->core.ready != NULL)
		rc = 1;
	return rc;
}

int
nbs_store_is_sync(struct nbs_store *s)
{
	if (s == NULL)
		return -EINVAL;
	return nbs_store_fd(s) == -ENOTSUP;
}

uint64_t
nbs_store_inflight(const struct nbs_store *s)
{
	return s != NULL ? s->core.inflight : 0;
}

int
nbs_store_extents(struct nbs_store *s, uint64_t offset, uint64_t len,
		  struct nbs_store_extent *ext, unsigned max)
{
	if (s == NULL || ext == NULL || max == 0 || len == 0 || offset > s->size ||
	    len > s->size - offset)
		return -EINVAL;
	if (s->ops->extents == NULL) {
		ext[0].length = len;
		ext[0].hole = false;
		return 1;
	}
	return s->ops->extents(s, offset, len, ext, max);
}

int
nbs_store_read_map(struct nbs_store *s, uint64_t offset, uint64_t len, struct iovec *iov,
		   unsigned max)
{
	int rc;

	if (s == NULL || iov == NULL || max == 0)
		return -EINVAL;
	rc = nbs_store_check(s, NBS_STORE_OP_READ, 0, offset, len);
	if (rc < 0)
		return rc;
	if (s->ops->map == NULL)
		return -ENOTSUP;
	rc = s->ops->map(s, offset, len, iov, max);
	if (rc > 0) {
		s->stats.ops[NBS_STORE_OP_READ]++;
		s->stats.bytes_read += len;
	}
	return rc;
}

int
nbs_store_write_map(struct nbs_store *s, uint64_t offset, uint64_t len, struct iovec *iov,
		    unsigned max)
{
	int rc;

	if (s == NULL || iov == NULL || max == 0)
		return -EINVAL;
	rc = nbs_store_check(s, NBS_STORE_OP_WRITE, 0, offset, len);
	if (rc < 0)
		return rc;
	if (s->ops->wmap == NULL || s->ops->wdone == NULL)
		return -ENOTSUP;
	return s->ops->wmap(s, offset, len, iov, max);
}

void
nbs_store_write_mapped(struct nbs_store *s, uint64_t offset, uint64_t len)
{
	s->ops->wdone(s, offset, len);
	s->stats.ops[NBS_STORE_OP_WRITE]++;
	s->stats.bytes_written += len;
}

int
nbs_store_stats_get(const struct nbs_store *s, struct nbs_store_stats *st)
{
	if (s == NULL || st == NULL)
		return -EINVAL;
	*st = s->stats;
	return 0;
}
