/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Local backend: two domains in one process, each driven by one thread (or
 * both by the same one). A channel is a "link" of two single-producer /
 * single-consumer descriptor rings, one per direction: everything one side
 * sends, data and control and the replies the library makes by itself,
 * goes through its one outbound ring, so the peer sees it in FIFO order
 * (the lesson of spec Part II 4.2.4).
 *
 * Ring protocol (free-running 32-bit indices):
 *   producer: write descriptors, then store-release head      (pairs with A)
 *   consumer: load-acquire head                              (A)
 *             read descriptors, then store-release tail      (pairs with B)
 *   producer: load-acquire tail before reusing slots         (B)
 * Each side caches the other's index so the shared cache line is read
 * only when the cached value says the ring is full/empty.
 *
 * Pool memory is simply shared (same address space), so only FULL trust is
 * meaningful here; HALF and NONE are refused at create/bind.
 */
#include <errno.h>
#include <stdalign.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <bulk/bulk_local.h>

#include "bulk_backend.h"

struct local_desc {
	uint32_t index;
	uint32_t len;
	uint16_t slot;
	uint8_t type;
	uint8_t pad;
	int32_t status;
};
_Static_assert(sizeof(struct local_desc) == 16, "local_desc is 16 bytes");

struct local_ring {
	/* Producer's line. */
	alignas(BULK_CACHE_LINE) uint32_t head;
	uint32_t tail_cache;
	/* Consumer's line. */
	alignas(BULK_CACHE_LINE) uint32_t tail;
	uint32_t head_cache;
	/* Need-wakeup: the consumer sets it before sleeping, the producer
	 * clears it when it signals. */
	alignas(BULK_CACHE_LINE) uint32_t need_wakeup;
	uint32_t wake_enabled;
	int efd;                   /* the consumer's eventfd */
	/* Read-only after set-up. */
	alignas(BULK_CACHE_LINE) uint32_t size;
	uint32_t mask;
	uint32_t meta_size;
	struct local_desc *desc;
	uint8_t *meta;
};
_Static_assert(offsetof(struct local_ring, tail) - offsetof(struct local_ring, head) >=
		       BULK_CACHE_LINE,
	       "producer and consumer indices on separate cache lines");

/* ring[0]: creator -> binder, ring[1]: binder -> creator. */
struct local_link {
	struct local_ring ring[2];
	int refs;
};

struct local_chan {
	struct bulk_channel ch; /* must be first */
	struct local_link *link;
	struct local_ring *tx;
	struct local_ring *rx;
	/* Creator: a binder waiting to be answered (CAS by the binder). */
	struct local_chan *pending;
	/* Immutable copies of the creator's parameters for binders to read. */
	enum bulk_direction c_dir;
	enum bulk_role c_role;
	enum bulk_trust c_trust;
	uint32_t c_meta;
	uint32_t c_queue;
	enum bulk_role binder_role;
	int efd;
	bool efd_owned;         /* else the link's ring owns it */
	bool want_wake;         /* bulk_channel_fd() was called: wakeups wanted */
	struct local_desc *backlog;
	uint32_t nbacklog, backlog_cap;
};

static const uint8_t local_zero_meta[BULK_META_MAX];

/* `pending` of a creator destroyed before anyone bound: binders are refused. */
#define LOCAL_CLOSED ((struct local_chan *)(uintptr_t)1)

static inline struct local_chan *
lchan(struct bulk_channel *ch)
{
	return container_of(ch, struct local_chan, ch);
}

/* ------------------------------------------------------------- link */

static void
ring_fini(struct local_ring *r)
{
	bulk_free(r->desc);
	bulk_free(r->meta);
	if (r->efd >= 0)
		close(r->efd);
}

static int
ring_init(struct local_ring *r, uint32_t size, uint32_t meta_size)
{
	r->size = size;
	r->mask = size - 1;
	r->meta_size = meta_size;
	r->efd = -1;
	r->desc = bulk_zalloc_aligned(BULK_CACHE_LINE, sizeof(*r->desc) * size);
	if (meta_size > 0)
		r->meta = bulk_zalloc_aligned(BULK_CACHE_LINE, (size_t)meta_size * size);
	if (r->desc == NULL || (meta_size > 0 && r->meta == NULL))
		return -ENOMEM;
	return 0;
}

static void
link_put(struct local_link *l)
{
	/* The last side out frees; acq_rel orders its reads before the free. */
	if (__atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		ring_fini(&l->ring[0]);
		ring_fini(&l->ring[1]);
		bulk_free(l);
	}
}

/* ------------------------------------------------------- ring access */

static void
ring_wake(struct bulk_channel *ch, struct local_ring *r)
{
	static const uint64_t one = 1;

	/* Only once the consumer has asked for wakeups at all, so that the
	 * busy-polling case pays no fence. */
	if (__atomic_load_n(&r->wake_enabled, __ATOMIC_RELAXED) == 0)
		return;
	/* Pairs with the fence in local_arm(): either we see need_wakeup or
	 * the consumer sees our head. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_exchange_n(&r->need_wakeup, 0, __ATOMIC_RELAXED)) {
		if (write(r->efd, &one, sizeof(one)) == (ssize_t)sizeof(one))
			ch->stats.wakeups++;
	}
}

static inline uint32_t
ring_free(struct local_ring *r, uint32_t want)
{
	uint32_t free = r->size - (r->head - r->tail_cache);

	if (free < want) {
		/* (B) pairs with the consumer's store-release of tail. */
		r->tail_cache = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
		free = r->size - (r->head - r->tail_cache);
	}
	return free;
}

static inline void
ring_publish(struct local_ring *r, uint32_t head)
{
	/* (A) pairs with the consumer's load-acquire of head. */
	__atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
}

static bool
backlog_flush(struct bulk_channel *ch, struct local_chan *lc)
{
	struct local_ring *r = lc->tx;
	uint32_t free, k, head;

	if (lc->nbacklog == 0)
		return true;
	free = ring_free(r, lc->nbacklog);
	k = free < lc->nbacklog ? free : lc->nbacklog;
	head = r->head;
	for (uint32_t i = 0; i < k; i++) {
		uint32_t idx = (head + i) & r->mask;

		r->desc[idx] = lc->backlog[i];
		if (r->meta_size)
			memset(r->meta + (size_t)idx * r->meta_size, 0, r->meta_size);
	}
	if (k == 0)
		return false;
	ring_publish(r, head + k);
	memmove(lc->backlog, lc->backlog + k, sizeof(*lc->backlog) * (lc->nbacklog - k));
	lc->nbacklog -= k;
	ring_wake(ch, r);
	return lc->nbacklog == 0;
}

static unsigned
local_tx_burst(struct bulk_channel *ch, enum bulk_msg_type type, struct bulk_buffer *const *bufs,
	       const uint32_t *lens, const void *meta, unsigned n)
{
	struct local_chan *lc = lchan(ch);
	struct local_ring *r = lc->tx;
	uint32_t ms = r->meta_size;
	uint32_t head, k, mask;

	/* Control messages waiting in the backlog go first: FIFO. */
	if (bulk_unlikely(lc->nbacklog > 0) && !backlog_flush(ch, lc))
		return 0;
	k = ring_free(r, n);
	if (k > n)
		k = n;
	if (bulk_unlikely(k == 0))
		return 0;
	head = r->head;
	mask = r->mask;
	for (uint32_t i = 0; i < k; i++) {
		struct local_desc *d = &r->desc[(head + i) & mask];
		const struct bulk_buffer *b = bufs[i];

		d->index = b->index;
		d->len = lens ? lens[i] : b->pool->buffer_size;
		d->slot = b->slot;
		d->type = (uint8_t)type;
	}
	if (ms) {
		for (uint32_t i = 0; i < k; i++)
			memcpy(r->meta + (size_t)((head + i) & mask) * ms,
			       meta ? (const uint8_t *)meta + (size_t)i * ms : local_zero_meta, ms);
	}
	ring_publish(r, head + k);
	ring_wake(ch, r);
	return k;
}

static int
local_tx_ctrl(struct bulk_channel *ch, const struct bulk_ctrl_msg *m)
{
	struct local_chan *lc = lchan(ch);
	struct local_ring *r = lc->tx;
	struct local_desc d = {
		.type = (uint8_t)m->type,
		.slot = m->slot,
		.status = m->status,
	};

	if (m->type == BULK_MSG_POOL_ASSIGN) {
		/* Same address space: the peer reads the geometry from our view. */
		uint64_t p = (uint64_t)(uintptr_t)m->pool;

		d.index = (uint32_t)p;
		d.len = (uint32_t)(p >> 32);
	} else {
		d.index = m->index;
	}
	if (lc->nbacklog == 0 && ring_free(r, 1) >= 1) {
		uint32_t idx = r->head & r->mask;

		r->desc[idx] = d;
		if (r->meta_size)
			memset(r->meta + (size_t)idx * r->meta_size, 0, r->meta_size);
		ring_publish(r, r->head + 1);
		ring_wake(ch, r);
		return 0;
	}
	/* Ring full: keep it, never drop a message the library owes the peer. */
	if (lc->nbacklog == lc->backlog_cap) {
		uint32_t ncap = lc->backlog_cap ? lc->backlog_cap * 2 : 16;
		struct local_desc *nb = bulk_realloc(lc->backlog, sizeof(*nb) * ncap);

		if (nb == NULL)
			return -ENOMEM;
		lc->backlog = nb;
		lc->backlog_cap = ncap;
	}
	lc->backlog[lc->nbacklog++] = d;
	return 0;
}

/* ------------------------------------------------------------ set-up */

static int
local_create(struct bulk_channel *ch)
{
	struct local_chan *lc = lchan(ch);

	lc->c_dir = ch->direction;
	lc->c_role = ch->role;
	lc->c_trust = ch->trust;
	lc->c_meta = ch->meta_size;
	lc->c_queue = ch->queue_size;
	lc->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (lc->efd < 0)
		return -errno;
	lc->efd_owned = true;
	return 0;
}

static int
local_bind(struct bulk_channel *ch, struct bulk_endpoint *remote, const struct bulk_bind_params *bp)
{
	struct local_chan *lc = lchan(ch);
	struct bulk_channel *rch;
	struct local_chan *rlc, *expected = NULL;
	struct local_link *l;
	struct bulk_side side;
	static const uint64_t one = 1;
	int creator_efd, rc;

	/* Pairs with the release store in bulk_channel_create(). */
	rch = __atomic_load_n(&remote->chan, __ATOMIC_ACQUIRE);
	if (rch == NULL)
		return -BULK_E_EP_NO_CHANNEL;
	rlc = lchan(rch);
	expected = __atomic_load_n(&rlc->pending, __ATOMIC_ACQUIRE);
	if (expected == LOCAL_CLOSED)
		return -BULK_E_EP_NO_CHANNEL;
	if (expected != NULL)
		return -BULK_E_ALREADY_BOUND;
	creator_efd = rlc->efd;
	rc = bulk_core_negotiate(rlc->c_dir, rlc->c_role, rlc->c_trust, rlc->c_meta, bp, &side);
	if (rc < 0)
		return rc;
	bulk_side_apply(ch, &side);
	if (bp != NULL && bp->queue_size != 0 && bp->queue_size != rlc->c_queue)
		return -BULK_E_BIND_MISMATCH;
	ch->queue_size = rlc->c_queue;
	lc->binder_role = ch->role;

	l = bulk_zalloc_aligned(BULK_CACHE_LINE, sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	l->refs = 1;
	rc = ring_init(&l->ring[0], ch->queue_size, ch->meta_size);
	if (rc == 0)
		rc = ring_init(&l->ring[1], ch->queue_size, ch->meta_size);
	if (rc == 0) {
		l->ring[0].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (l->ring[0].efd < 0)
			rc = -errno;
	}
	if (rc < 0) {
		ring_fini(&l->ring[0]);
		ring_fini(&l->ring[1]);
		bulk_free(l);
		return rc;
	}
	lc->link = l;
	lc->tx = &l->ring[1];
	lc->rx = &l->ring[0];
	lc->efd = l->ring[0].efd;
	lc->efd_owned = false;
	expected = NULL;
	/* Publish ourselves to the creator; the release half pairs with its
	 * acquire load in local_poll(). Only one binder wins. */
	if (!__atomic_compare_exchange_n(&rlc->pending, &expected, lc, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		lc->link = NULL;
		lc->tx = lc->rx = NULL;
		link_put(l);
		return expected == LOCAL_CLOSED ? -BULK_E_EP_NO_CHANNEL : -BULK_E_ALREADY_BOUND;
	}
	/* The creator's efd was read before the CAS: once we are published
	 * the creator may answer, and its owner may free it. */
	if (write(creator_efd, &one, sizeof(one)) < 0) {
		/* The creator polls anyway; a lost wakeup only delays. */
	}
	return 0;
}

/* Creator: answer a waiting binder. */
static void
local_answer_binder(struct bulk_channel *ch, struct local_chan *lc, struct local_chan *b,
		    int refuse)
{
	struct local_link *l = b->link;
	int rc;

	__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
	rc = refuse ? refuse : bulk_core_rx_bind_request(ch, b->binder_role);
	lc->tx = &l->ring[0];
	if (rc == 0) {
		lc->link = l;
		lc->rx = &l->ring[1];
		/* Our eventfd now serves the link; it must be in place before
		 * the binder, which starts sending on our reply, can use it. */
		l->ring[1].efd = lc->efd;
		l->ring[1].wake_enabled = lc->want_wake;
		lc->efd_owned = false;
		if (local_tx_ctrl(ch, &(struct bulk_ctrl_msg){ .type = BULK_MSG_BIND_REPLY }) == 0)
			ch->stats.tx_msgs++;
		return;
	}
	/* Refused: answer on the binder's link, then forget it; the
	 * endpoint can take another binder (unless it is being closed). */
	local_tx_ctrl(ch, &(struct bulk_ctrl_msg){ .type = BULK_MSG_BIND_REPLY, .status = rc });
	lc->tx = NULL;
	__atomic_compare_exchange_n(&lc->pending, &b, NULL, false, __ATOMIC_RELEASE,
				    __ATOMIC_RELAXED);
	link_put(l);
}

static void
local_free(struct bulk_channel *ch)
{
	struct local_chan *lc = lchan(ch);
	struct local_chan *b;

	if (lc->link != NULL) {
		link_put(lc->link);
	} else if (ch->side == 0) {
		/* Refuse binders from now on; one still waiting is told we are gone. */
		b = __atomic_exchange_n(&lc->pending, LOCAL_CLOSED, __ATOMIC_ACQ_REL);
		if (b != NULL && b != LOCAL_CLOSED)
			local_answer_binder(ch, lc, b, -BULK_E_PEER_GONE);
	}
	if (lc->efd_owned && lc->efd >= 0)
		close(lc->efd);
	bulk_free(lc->backlog);
}

/* -------------------------------------------------------------- poll */

static int
local_map(void *arg, struct bulk_pool *view)
{
	const struct bulk_pool *origin = arg;

	/* Same address space: the view shares the origin's memory. */
	view->base = origin->base;
	view->map_len = 0;
	view->fd = -1;
	view->mem = origin->mem;
	view->backend_data = (void *)(uintptr_t)origin;
	return 0;
}

/* One address space: the same memory is the same base address. */
static int
local_same(void *arg, const struct bulk_pool *view)
{
	const struct bulk_pool *origin = arg;

	return origin->base == view->base && origin->count == view->count &&
	       origin->buffer_size == view->buffer_size;
}

/*
 * Validate and deliver one run of same-type data descriptors starting at
 * @p i. Always inlined with a constant @p type, so the core's per-type
 * checks fold into one straight loop per operation.
 * @return index of the first descriptor not in the run.
 */
static BULK_ALWAYS_INLINE uint32_t
local_rx_run(struct bulk_channel *ch, struct local_ring *r, uint32_t tail, uint32_t i, uint32_t n,
	     enum bulk_msg_type type)
{
	uint32_t ms = r->meta_size, mask = r->mask;
	unsigned run = 0;

	for (; i < n; i++) {
		uint32_t idx = (tail + i) & mask;
		const struct local_desc *d = &r->desc[idx];
		struct bulk_buffer *b;

		if (d->type != type)
			break;
		b = bulk_core_rx_one(ch, type, d->slot, d->index, d->len);
		if (bulk_unlikely(b == NULL))
			continue;
		ch->rx_bufs[run] = b;
		ch->rx_lens[run] = d->len;
		if (ms)
			memcpy(ch->rx_meta + (size_t)run * ms, r->meta + (size_t)idx * ms, ms);
		run++;
	}
	if (run > 0)
		bulk_core_rx_deliver(ch, type, ch->rx_bufs, ch->rx_lens, ch->rx_meta, run);
	return i;
}

static void
rx_ctrl(struct bulk_channel *ch, const struct local_desc *d)
{
	struct bulk_ctrl_rx m = { .type = d->type, .slot = d->slot, .status = d->status };
	struct bulk_pool_mapper mapper = { .map = local_map, .same = local_same };

	if (d->type == BULK_MSG_BIND_REPLY) {
		bulk_core_rx_bind_reply(ch, d->status);
		return;
	}
	if (d->type == BULK_MSG_POOL_ASSIGN) {
		/* Same address space: the descriptor carries the origin view. */
		const struct bulk_pool *origin =
			(const struct bulk_pool *)(uintptr_t)((uint64_t)d->index |
							      ((uint64_t)d->len << 32));

		m.pool = (struct bulk_pool_desc){
			.id = origin->id,
			.count = origin->count,
			.buffer_size = origin->buffer_size,
			.trust = origin->trust,
		};
		mapper.arg = (void *)(uintptr_t)origin;
		m.mapper = &mapper;
	}
	bulk_core_rx_ctrl(ch, &m);
}

static int
local_poll(struct bulk_channel *ch, unsigned budget)
{
	struct local_chan *lc = lchan(ch);
	struct local_ring *r;
	uint32_t tail, n;

	if (bulk_unlikely(ch->side == 0 && ch->state == BULK_STATE_INITIALIZED)) {
		/* Pairs with the binder's CAS in local_bind(). */
		struct local_chan *b = __atomic_load_n(&lc->pending, __ATOMIC_ACQUIRE);

		if (b == NULL)
			return 0;
		local_answer_binder(ch, lc, b, 0);
		return 1;
	}
	r = lc->rx;
	if (bulk_unlikely(r == NULL))
		return 0;
	if (bulk_unlikely(lc->nbacklog > 0))
		backlog_flush(ch, lc);

	tail = r->tail;
	n = r->head_cache - tail;
	if (n == 0) {
		/* (A) pairs with the producer's store-release of head. */
		r->head_cache = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
		n = r->head_cache - tail;
	}
	if (n > budget)
		n = budget;
	if (n > ch->rx_cap)
		n = ch->rx_cap;
	for (uint32_t i = 0; i < n;) {
		switch (r->desc[(tail + i) & r->mask].type) {
		case BULK_MSG_MOVE:
			i = local_rx_run(ch, r, tail, i, n, BULK_MSG_MOVE);
			break;
		case BULK_MSG_PASS:
			i = local_rx_run(ch, r, tail, i, n, BULK_MSG_PASS);
			break;
		case BULK_MSG_COPY:
			i = local_rx_run(ch, r, tail, i, n, BULK_MSG_COPY);
			break;
		case BULK_MSG_RELEASE:
			i = local_rx_run(ch, r, tail, i, n, BULK_MSG_RELEASE);
			break;
		default:
			/* Control: what came before it was delivered already. */
			rx_ctrl(ch, &r->desc[(tail + i) & r->mask]);
			i++;
			break;
		}
	}
	if (n > 0) {
		ch->stats.rx_msgs += n;
		/* (B) pairs with the producer's load-acquire of tail. */
		__atomic_store_n(&r->tail, tail + n, __ATOMIC_RELEASE);
	}

	if (ch->cont_head != ch->cont_tail && lc->tx != NULL) {
		/* Consumed = sent - still in the ring - still in the backlog:
		 * exact however many descriptors passed since the last look. */
		uint32_t t = __atomic_load_n(&lc->tx->tail, __ATOMIC_ACQUIRE);

		bulk_core_tx_complete(ch, ch->stats.tx_msgs - (uint32_t)(lc->tx->head - t) -
						  lc->nbacklog);
	}
	return (int)n;
}

static int
local_fd(struct bulk_channel *ch)
{
	struct local_chan *lc = lchan(ch);

	/* From now on the producer checks need_wakeup (one fence per send). */
	lc->want_wake = true;
	if (lc->rx != NULL)
		__atomic_store_n(&lc->rx->wake_enabled, 1, __ATOMIC_RELAXED);
	return lc->efd;
}

static void
local_unlisten(struct bulk_channel *ch)
{
	struct local_chan *lc = lchan(ch);
	struct local_chan *b = __atomic_exchange_n(&lc->pending, LOCAL_CLOSED, __ATOMIC_ACQ_REL);

	if (b != NULL && b != LOCAL_CLOSED)
		local_answer_binder(ch, lc, b, -BULK_E_PEER_GONE);
}

static int
local_arm(struct bulk_channel *ch)
{
	struct local_chan *lc = lchan(ch);
	struct local_ring *r = lc->rx;
	uint64_t v;

	/* Drain the eventfd so that a stale count does not wake us again. */
	if (read(lc->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending. */
	}
	if (r == NULL)
		return __atomic_load_n(&lc->pending, __ATOMIC_ACQUIRE) != NULL &&
		       __atomic_load_n(&lc->pending, __ATOMIC_ACQUIRE) != LOCAL_CLOSED;
	if (lc->nbacklog > 0)
		return 1;
	__atomic_store_n(&r->wake_enabled, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&r->need_wakeup, 1, __ATOMIC_RELAXED);
	/* Pairs with the fence in ring_wake(). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) != r->tail) {
		__atomic_store_n(&r->need_wakeup, 0, __ATOMIC_RELAXED);
		return 1;
	}
	return 0;
}

static const struct bulk_backend_ops local_ops = {
	.name = "local",
	.chan_size = sizeof(struct local_chan),
	.trust_mask = 1u << BULK_TRUST_FULL,
	.shares_memory = true,
	.create = local_create,
	.bind = local_bind,
	.free = local_free,
	.ep_free = NULL,
	.tx_burst = local_tx_burst,
	.tx_ctrl = local_tx_ctrl,
	.poll = local_poll,
	.fd = local_fd,
	.arm = local_arm,
	.unlisten = local_unlisten,
};

int
bulk_local_endpoint_create(struct bulk_domain *d, struct bulk_endpoint **out)
{
	struct bulk_endpoint *ep;

	if (d == NULL || out == NULL)
		return -EINVAL;
	ep = bulk_zalloc(sizeof(*ep));
	if (ep == NULL)
		return -ENOMEM;
	ep->ops = &local_ops;
	ep->dom = d;
	d->nendpoints++;
	*out = ep;
	return 0;
}
