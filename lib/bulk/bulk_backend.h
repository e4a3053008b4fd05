/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file bulk_backend.h
 * The backend contract: the shape of the core objects a backend reads,
 * the operations table a backend provides, and the core entry points a
 * backend calls when descriptors arrive. What only the core itself may call
 * is in bulk_core.h; what users see is include/bulk/.
 *
 * Division of labour (spec 6.5.1): the core checks every precondition and
 * changes buffer states; a backend only carries descriptors and may assume
 * that what it is asked to send is valid. On receive the backend hands each
 * descriptor to the core, which validates it against this domain's view
 * (pool known and assigned, index and length in range, the sender allowed to
 * do this to this buffer) before anything changes.
 */
#ifndef BULK_BACKEND_H
#define BULK_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>

#include "bulk_mem.h"

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

#define BULK_CACHE_LINE 64
/* The one spelling of "inline, whatever the optimiser thinks". */
#define BULK_ALWAYS_INLINE inline __attribute__((always_inline))
#define bulk_likely(x) __builtin_expect(!!(x), 1)
#define bulk_unlikely(x) __builtin_expect(!!(x), 0)

/** Descriptor types carried by every backend. */
enum bulk_msg_type {
	BULK_MSG_MOVE = 1,
	BULK_MSG_PASS,
	BULK_MSG_COPY,
	BULK_MSG_RELEASE,
	BULK_MSG_POOL_ASSIGN,
	BULK_MSG_POOL_ASSIGN_REPLY,
	BULK_MSG_POOL_REMOVE,
	BULK_MSG_BIND_REPLY,
	BULK_MSG_TEARDOWN,
	BULK_MSG_TEARDOWN_ACK,
	BULK_MSG_TYPE_MAX
};

/* Buffer flags (struct bulk_buffer.flags). */
#define BULK_BUF_F_FREE 0x01 /* in the pool view's free list */

struct bulk_domain {
	char name[32];
	struct bulk_pool *pools;     /* the domain pool list */
	struct bulk_channel *chans;  /* every channel of this domain */
	unsigned nendpoints;
	uint32_t mark_gen;           /* burst duplicate detection */
	unsigned in_poll;            /* a poll is running: frees are deferred */
	bool free_pending;           /* some channel waits for a deferred free */
};

struct bulk_endpoint {
	const struct bulk_backend_ops *ops;
	struct bulk_domain *dom;
	/* Names a place other processes can reach (shm socket): any domain,
	 * its own included, may bind through it; the creator then checks. */
	bool by_name;
	/* Channel created on this endpoint; published with a release store
	 * because a binder in another thread reads it (acquire). */
	struct bulk_channel *chan;
};

/** A pool view's link to one channel it is assigned to. */
struct bulk_pool_link {
	struct bulk_channel *ch;
	uint16_t slot;
};

/** How a pool view got its memory, and how to give it back. */
struct bulk_pool_mapper {
	/** Set view->base (and fd, map_len); return 0 or a negative code. */
	int (*map)(void *arg, struct bulk_pool *view);
	/** Undo map when the view is destroyed (may be NULL). */
	void (*unmap)(struct bulk_pool *view);
	/**
	 * The peer named a pool this domain already has @p view of: return 1
	 * only if the memory the peer offers is provably that view's memory
	 * (same file, same address space), else 0. NULL: never provable. Only
	 * asked on channels that share memory; the core refuses the pool
	 * otherwise (-BULK_E_POOL_FORGED).
	 */
	int (*same)(void *arg, const struct bulk_pool *view);
	void *arg;
};

struct bulk_pool {
	struct bulk_pool_id id;
	struct bulk_domain *dom;
	struct bulk_pool *next;      /* domain pool list */
	uint8_t *base;
	size_t map_len;
	uint32_t buffer_size;
	uint32_t count;
	enum bulk_trust trust;
	enum bulk_mem_kind mem;
	int fd;
	bool owns_memory;            /* allocated here, by bulk_pool_alloc() */
	bool orphan;                 /* received, and its only channel's peer died */
	/* Another domain may map this memory: the view was ever on a channel
	 * that shares memory (sticky). Decides what a peer on a channel that
	 * does not share memory may do with it (pool_assign.c, bulk_core_rx_one()). */
	bool shared;
	void (*unmap)(struct bulk_pool *view);
	/* Set by a backend that enforces access with page protections (shm
	 * HALF): called after the core changed buffer @p index's state off the
	 * fast path (voided copies, buffers back from a dead peer). */
	void (*protect)(struct bulk_pool *view, uint32_t index);
	void *backend_data;          /* backend's per-view data (local: origin view) */
	struct bulk_buffer *bufs;
	uint32_t *free_stack;
	uint32_t nfree;
	unsigned nlinks;
	unsigned npending;           /* our assignments of this view awaiting an answer */
	struct bulk_pool_link links[BULK_POOL_MAX_CHANNELS];
};

/** Geometry of a pool as announced by an assigning peer. */
struct bulk_pool_desc {
	struct bulk_pool_id id;
	uint32_t count;
	uint32_t buffer_size;
	enum bulk_trust trust;
};

enum bulk_slot_state {
	BULK_SLOT_FREE = 0,
	BULK_SLOT_PENDING,   /* we asked, waiting for the peer's answer */
	BULK_SLOT_ASSIGNED,
};

/** One pool's assignment to one channel, indexed by its wire slot number. */
struct bulk_chan_pool {
	struct bulk_pool *pool;
	uint64_t *copy_out;  /* bit per buffer: we copied it over this channel */
	uint64_t *copy_in;   /* bit per buffer: we received it as a copy here */
	uint64_t *away;      /* bit per buffer: we moved/passed it to the peer here */
	uint8_t state;       /* enum bulk_slot_state */
	bool mine;           /* assigned by this side */
	bool set_trust;      /* this assignment fixed the pool's trust */
	struct bulk_cont cont;
	/* Counted against the channel's peer_pool_* caps (peer's assignments). */
	uint64_t peer_bufs, peer_bytes;
};

struct bulk_cont_rec {
	uint64_t seq;        /* complete when the peer consumed this many descriptors */
	struct bulk_cont cont;
};

struct bulk_channel {
	const struct bulk_backend_ops *ops;
	struct bulk_domain *dom;
	struct bulk_endpoint *ep;    /* creator: local endpoint; binder: remote one */
	struct bulk_channel *next;   /* domain's channel list */
	struct bulk_channel_callbacks cb;
	enum bulk_channel_state state;
	enum bulk_direction direction;
	enum bulk_role role;
	enum bulk_trust trust;
	uint32_t meta_size;
	uint32_t queue_size;
	uint8_t side;                /* 0: creator, 1: binder; parity of our slot numbers */
	/* Both sides map the pools' memory (ops->shares_memory, not NONE):
	 * decided by the core once the trust is known (create, bulk_side_apply()). */
	bool shares_memory;
	bool fire_destroy;           /* destroy of an unbound channel: fire at next poll */
	bool in_poll;                /* nested polls are refused */
	bool free_pending;           /* freed from inside a poll: freed when it ends */
	void *user;
	struct bulk_channel_stats stats;
	struct bulk_cont bind_cont;
	struct bulk_cont destroy_cont;
	/* What the peer's assignments have made us allocate, and the caps. */
	uint64_t peer_pool_buffers, peer_pool_buffers_max;
	uint64_t peer_pool_bytes, peer_pool_bytes_max;
	/* Continuations waiting for the peer to consume descriptors: a FIFO
	 * ordered by seq, grown on demand (slow path only). */
	struct bulk_cont_rec *conts;
	uint32_t cont_head, cont_tail, cont_cap;
	/* Scratch for delivering received bursts. */
	struct bulk_buffer **rx_bufs;
	uint32_t *rx_lens;
	uint8_t *rx_meta;
	unsigned rx_cap;
	struct bulk_chan_pool slots[BULK_CHANNEL_MAX_POOLS];
};

/** Control message handed to a backend (never data). */
struct bulk_ctrl_msg {
	enum bulk_msg_type type;
	uint16_t slot;
	int32_t status;
	uint32_t index;          /* RELEASE sent by the library itself */
	struct bulk_pool *pool;  /* POOL_ASSIGN: the assigner's view */
};

/**
 * Operations table of a backend. The core calls these only with valid
 * arguments, in the channel's domain thread.
 */
struct bulk_backend_ops {
	const char *name;
	size_t chan_size;            /* backend channel struct, bulk_channel first */
	uint32_t trust_mask;         /* bit (1u << trust) per supported trust level */
	/* Both sides map the same pool memory (at every trust level but NONE):
	 * a receive then needs no copy, and a peer can prove a pool's identity. */
	bool shares_memory;
	/** Creator side set-up after the core filled @p ch. */
	int (*create)(struct bulk_channel *ch);
	/** Binder side: reach @p remote, negotiate (bulk_core_negotiate()), send the request. */
	int (*bind)(struct bulk_channel *ch, struct bulk_endpoint *remote,
		    const struct bulk_bind_params *bp);
	/** Release backend resources of a channel the core is freeing. */
	void (*free)(struct bulk_channel *ch);
	/** Free a backend endpoint (may be NULL: plain free). */
	void (*ep_free)(struct bulk_endpoint *ep);
	/**
	 * Queue up to @p n data descriptors (MOVE, PASS, COPY, RELEASE) in order.
	 * The core has validated each buffer and left its channel slot number
	 * in bufs[i]->slot; @p lens NULL means full buffers, @p meta NULL means
	 * zero meta.
	 * @return how many were queued (0..n); never fails otherwise.
	 */
	unsigned (*tx_burst)(struct bulk_channel *ch, enum bulk_msg_type type,
			     struct bulk_buffer *const *bufs, const uint32_t *lens,
			     const void *meta, unsigned n);
	/**
	 * Queue one control message, in order after everything queued before.
	 * Must not lose it: a backend keeps a backlog when its queue is full.
	 * @return 0 or a negative code (-ENOMEM).
	 */
	int (*tx_ctrl)(struct bulk_channel *ch, const struct bulk_ctrl_msg *msg);
	/** Receive up to @p budget descriptors, handing them to the core. */
	int (*poll)(struct bulk_channel *ch, unsigned budget);
	/** Optional: an fd for epoll users. */
	int (*fd)(struct bulk_channel *ch);
	/** Optional: request a wakeup; 1 if work is already pending. */
	int (*arm)(struct bulk_channel *ch);
	/** Optional: an unbound creator is destroyed; refuse binders from now on. */
	void (*unlisten)(struct bulk_channel *ch);
};

/* ------------------------------------------------ core entry points (SDK) */

/** What bind negotiation settles for one side of a channel. */
struct bulk_side {
	enum bulk_direction direction;
	enum bulk_role role;
	enum bulk_trust trust;
	uint32_t meta_size;
};

/**
 * Resolve the binder's side from the creator's parameters and the binder's
 * request.
 * @return 0 (and @p out filled) or -BULK_E_BIND_MISMATCH.
 */
int bulk_core_negotiate(enum bulk_direction c_dir, enum bulk_role c_role,
			enum bulk_trust c_trust, uint32_t c_meta,
			const struct bulk_bind_params *bp, struct bulk_side *out);

/** Give a binder's channel the side negotiation settled. */
static inline void
bulk_side_apply(struct bulk_channel *ch, const struct bulk_side *s)
{
	ch->direction = s->direction;
	ch->role = s->role;
	ch->trust = s->trust;
	ch->meta_size = s->meta_size;
	ch->shares_memory = ch->ops->shares_memory && s->trust != BULK_TRUST_NONE;
}

/**
 * Creator: a binder asks to connect. Runs bind_received; on acceptance the
 * creator's role is resolved and the channel is CONNECTED.
 * @return 0 if accepted, else the (negative) refusal to send back.
 */
int bulk_core_rx_bind_request(struct bulk_channel *ch, enum bulk_role binder_role);

/** Binder: the creator answered. 0: CONNECTED; else CLOSED. Fires the bind continuation. */
void bulk_core_rx_bind_reply(struct bulk_channel *ch, int status);

/**
 * A control message as a backend decoded it from its wire, before any
 * check: the core validates every field (one set of rules and limits for
 * every backend) and acts on it.
 */
struct bulk_ctrl_rx {
	uint32_t type;               /**< enum bulk_msg_type, as received */
	uint32_t slot;               /**< as received */
	int32_t status;              /**< replies: the peer's answer */
	/**
	 * POOL_ASSIGN: the geometry the peer announced, and how to give a new
	 * view memory (mapper.map) or prove an existing one is the same
	 * memory (mapper.same). A backend that could not make sense of the
	 * transport's part of the message (shm: no fd, the wrong one) sets
	 * @p refuse to the code to answer (-BULK_E_BAD_DESC is also counted).
	 */
	struct bulk_pool_desc pool;
	const struct bulk_pool_mapper *mapper;
	int32_t refuse;
};

/**
 * Handle one received control message (POOL_ASSIGN, POOL_ASSIGN_REPLY,
 * POOL_REMOVE, TEARDOWN, TEARDOWN_ACK; anything else is counted in
 * bad_desc). Answers a pool assignment itself, through tx_ctrl.
 */
void bulk_core_rx_ctrl(struct bulk_channel *ch, const struct bulk_ctrl_rx *m);

/** The peer is gone (hang-up, death, timeout): CLOSED, continuations fail. */
void bulk_core_peer_gone(struct bulk_channel *ch, int reason);

/**
 * The peer has consumed @p consumed descriptors in total (this side's count,
 * control messages included). Fires due continuations.
 */
void bulk_core_tx_complete(struct bulk_channel *ch, uint64_t consumed);


/**
 * A copy arrived for a buffer this domain can read already: release it back
 * at once, in order with everything else we send. Not delivered.
 */
void bulk_core_copy_bounce(struct bulk_channel *ch, uint16_t slot, uint32_t index);

/**
 * Allocate a pool as bulk_pool_alloc() does (the same checks, a fresh id,
 * every buffer owned READ_WRITE by @p d), its memory from @p mapper: map()
 * sees the view's count and buffer_size and must set base, map_len, fd and
 * mem (params->mem is the caller's to interpret). For a backend whose pool
 * memory comes from elsewhere (bulk_dpdk_pool_alloc()).
 * @return 0; -EINVAL (as bulk_pool_alloc(), or no mapper or map());
 *   -ENOMEM; map()'s negative code.
 */
int bulk_core_pool_alloc(struct bulk_domain *d, const struct bulk_pool_params *params,
			 const struct bulk_pool_mapper *mapper, struct bulk_pool **out);

/* Pool view helpers for backends. */

/** Our slot number of @p pool on @p ch, or -1 if it is not assigned there. */
static inline int
bulk_pool_slot(const struct bulk_pool *pool, const struct bulk_channel *ch)
{
	/* Most pools sit on one or two channels: check the first link inline. */
	if (bulk_likely(pool->nlinks > 0 && pool->links[0].ch == ch))
		return pool->links[0].slot;
	for (unsigned i = 1; i < pool->nlinks; i++)
		if (pool->links[i].ch == ch)
			return pool->links[i].slot;
	return -1;
}

/** Recompute a buffer's state from ownership and its copy counters. */
static inline void
bulk_buffer_restate(struct bulk_buffer *b, bool owner)
{
	if (owner)
		b->state = (b->copies_out || b->copies_in) ? BULK_BUFFER_RO_OWNED
							   : BULK_BUFFER_READ_WRITE;
	else
		b->state = b->copies_in ? BULK_BUFFER_READ_ONLY : BULK_BUFFER_INVALID;
}

static inline bool
bulk_bit_test(const uint64_t *bm, uint32_t i)
{
	return (bm[i >> 6] >> (i & 63)) & 1;
}

static inline void
bulk_bit_set(uint64_t *bm, uint32_t i)
{
	bm[i >> 6] |= 1ull << (i & 63);
}

static inline void
bulk_bit_clear(uint64_t *bm, uint32_t i)
{
	bm[i >> 6] &= ~(1ull << (i & 63));
}

/**
 * A buffer came back to this domain: it is no longer away on any channel
 * (it may have left over one and returned over another).
 */
static BULK_ALWAYS_INLINE void
bulk_buffer_home(struct bulk_buffer *b)
{
	const struct bulk_pool *p = b->pool;

	for (unsigned i = 0; i < p->nlinks; i++) {
		uint64_t *away = p->links[i].ch->slots[p->links[i].slot].away;

		away[b->index >> 6] &= ~(1ull << (b->index & 63));
	}
}

/**
 * Is @p b away over a channel that shares the pool's memory (we moved or
 * passed it there and it has not come back)? Its holder then writes the
 * very memory of our view, so a peer on a channel that does not share it
 * (and cannot prove it holds the memory) must not make us its owner too.
 */
static inline bool
bulk_buffer_away_shared(const struct bulk_buffer *b)
{
	const struct bulk_pool *p = b->pool;

	for (unsigned i = 0; i < p->nlinks; i++) {
		const struct bulk_channel *o = p->links[i].ch;

		if (o->shares_memory && bulk_bit_test(o->slots[p->links[i].slot].away, b->index))
			return true;
	}
	return false;
}

/**
 * For backends that do not share memory and write a payload into the
 * destination before the descriptor is delivered (dpdk: frames arrive in
 * any order): may this domain's copy of @p b be overwritten now? Only if
 * this domain cannot access it and no domain that maps the same memory
 * holds it. The descriptor itself is still judged by bulk_core_rx_one().
 */
static inline bool
bulk_core_rx_may_write(const struct bulk_buffer *b)
{
	if (b->state != BULK_BUFFER_INVALID || (b->flags & BULK_BUF_F_FREE) || b->copies_out)
		return false;
	return !b->pool->shared || !bulk_buffer_away_shared(b);
}

/**
 * Validate one received data descriptor against this domain's view and, if
 * it is valid, apply the receiver's transition. Inline because it runs once
 * per received buffer.
 * @return the buffer, or NULL (counted in bad_desc) if the descriptor is invalid.
 */
static BULK_ALWAYS_INLINE struct bulk_buffer *
bulk_core_rx_one(struct bulk_channel *ch, enum bulk_msg_type type, uint32_t slot,
		 uint32_t index, uint32_t len)
{
	struct bulk_chan_pool *cp;
	struct bulk_buffer *b;

	if (bulk_unlikely(slot >= BULK_CHANNEL_MAX_POOLS))
		goto bad;
	cp = &ch->slots[slot];
	if (bulk_unlikely(cp->state != BULK_SLOT_ASSIGNED || index >= cp->pool->count ||
			  len > cp->pool->buffer_size))
		goto bad;
	b = &cp->pool->bufs[index];
	switch (type) {
	case BULK_MSG_MOVE:
	case BULK_MSG_PASS:
		/* Moves arrive at the sink, passes at the source. */
		if (bulk_unlikely((type == BULK_MSG_MOVE) != (ch->direction == BULK_DIRECTION_RX)))
			goto bad;
		/* The sender owned it with no copies out, so we hold nothing of it
		 * (not even copies of our own made from a copy since voided). */
		if (bulk_unlikely(b->state != BULK_BUFFER_INVALID || b->copies_out ||
				  (b->flags & BULK_BUF_F_FREE)))
			goto bad;
		/* A peer that does not share the memory cannot hold a buffer
		 * we handed to a domain that does: accepting its word would
		 * make two owners of one piece of memory. */
		if (bulk_unlikely(!ch->shares_memory) && bulk_unlikely(cp->pool->shared) &&
		    !bulk_bit_test(cp->away, index) && bulk_buffer_away_shared(b))
			goto bad;
		b->state = BULK_BUFFER_READ_WRITE;
		bulk_buffer_home(b);
		return b;
	case BULK_MSG_COPY:
		if (bulk_unlikely(ch->direction != BULK_DIRECTION_RX ||
				  bulk_bit_test(cp->copy_in, index)))
			goto bad;
		if (bulk_unlikely(!ch->shares_memory) && bulk_unlikely(cp->pool->shared) &&
		    b->state == BULK_BUFFER_INVALID && bulk_buffer_away_shared(b))
			goto bad;
		if (bulk_unlikely(b->state != BULK_BUFFER_INVALID)) {
			/* We can read it already (owner, or a copy from elsewhere):
			 * hand this copy straight back so that copies stay a tree
			 * rooted at the owner (see bulk_core_copy_bounce()). */
			bulk_core_copy_bounce(ch, (uint16_t)slot, index);
			return NULL;
		}
		bulk_bit_set(cp->copy_in, index);
		b->copies_in++;
		bulk_buffer_restate(b, bulk_buffer_is_owner(b));
		return b;
	case BULK_MSG_RELEASE:
		if (bulk_unlikely(ch->direction != BULK_DIRECTION_TX ||
				  !bulk_bit_test(cp->copy_out, index)))
			goto bad;
		bulk_bit_clear(cp->copy_out, index);
		b->copies_out--;
		bulk_buffer_restate(b, bulk_buffer_is_owner(b));
		return b;
	default:
		break;
	}
bad:
	ch->stats.bad_desc++;
	return NULL;
}

/**
 * Deliver a burst of validated buffers of one type to the application
 * (runs the callback, counts statistics). Inline: called once per run.
 */
static BULK_ALWAYS_INLINE void
bulk_core_rx_deliver(struct bulk_channel *ch, enum bulk_msg_type type,
		     struct bulk_buffer *const *bufs, const uint32_t *lens, const void *meta,
		     unsigned n)
{
	uint64_t bytes = 0;

	if (n == 0)
		return;
	for (unsigned i = 0; i < n; i++)
		bytes += lens[i];
	ch->stats.rx_bufs += n;
	ch->stats.rx_bytes += bytes;
	switch (type) {
	case BULK_MSG_MOVE:
		ch->stats.moves_rx += n;
		if (ch->cb.move_received != NULL)
			ch->cb.move_received(ch, bufs, lens, meta, n);
		break;
	case BULK_MSG_PASS:
		ch->stats.passes_rx += n;
		if (ch->cb.buffer_received != NULL)
			ch->cb.buffer_received(ch, bufs, lens, meta, n);
		break;
	case BULK_MSG_COPY:
		ch->stats.copies_rx += n;
		if (ch->cb.copy_received != NULL)
			ch->cb.copy_received(ch, bufs, lens, meta, n);
		break;
	case BULK_MSG_RELEASE:
		ch->stats.releases_rx += n;
		if (ch->cb.copy_released != NULL)
			ch->cb.copy_released(ch, bufs, n);
		break;
	default:
		break;
	}
}

#endif /* BULK_BACKEND_H */
