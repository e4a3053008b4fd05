/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file bulk.h
 * libbulk core: domains, endpoints, channels, pools, buffers and the
 * operations move, pass, copy, release and full copy, as specified in Part I
 * chapters 4-6 of "Bulk Transfer over Shared Memory" (ETH Zurich, 2014).
 *
 * Model in one paragraph. A *domain* is an ownership context (a process, or
 * one thread of one, in the local backend). Every object belongs to exactly
 * one domain and is touched only by the thread that drives that domain. A
 * *pool* is a contiguous region of equal-sized *buffers*; each domain has its
 * own view of a pool (its own struct bulk_pool with the same id), and each
 * buffer of a view carries the state of that buffer *as this domain sees
 * it*: INVALID (no access), READ_ONLY (holds a copy), RO_OWNED (owns it, copies
 * are out) or READ_WRITE (owns it, no copies). A *channel* connects two
 * endpoints in two domains, with a direction (the TX side is the source), a
 * role, a trust level and a per-buffer meta size.
 *
 * Calls never block and never run callbacks: callbacks and continuations run
 * inside bulk_channel_poll() / bulk_domain_poll() on the domain's thread.
 *
 * Errors: functions return 0 or a count on success and a negative code on
 * failure: a negative errno for system failures, or a negative enum
 * bulk_errno for violations of the specification. bulk_strerror() names both.
 * A call refused by a precondition changes no state.
 */
#ifndef BULK_BULK_H
#define BULK_BULK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** First code of the spec's own errors; above every errno value. */
#define BULK_EBASE 4096

/**
 * Violations of the specification, returned negated (-BULK_E_NOT_OWNER, ...).
 * The order in which the core checks them is fixed (see bulk_channel_move_burst()).
 */
enum bulk_errno {
	BULK_E_NOT_OWNER = BULK_EBASE, /**< the domain does not own the buffer */
	BULK_E_NO_ACCESS,              /**< copy: neither owner nor holder of a copy */
	BULK_E_WRONG_DIRECTION,        /**< operation not allowed on this side of the channel */
	BULK_E_NOT_CONNECTED,          /**< channel is not in state CONNECTED */
	BULK_E_POOL_NOT_ASSIGNED,      /**< buffer's pool is not assigned to the channel */
	BULK_E_POOL_ASSIGNED,          /**< pool already assigned (or assignment pending) */
	BULK_E_POOL_UNKNOWN,           /**< pool is not in this domain's pool list */
	BULK_E_POOL_EXISTS,            /**< a pool with this id already exists in the domain */
	BULK_E_POOL_IN_USE,            /**< pool still has buffers away or is assigned */
	BULK_E_POOL_GEOMETRY,          /**< pool size/alignment unfit for the channel */
	BULK_E_BUFFER_COPIED,          /**< buffer has copies outstanding */
	BULK_E_COPY_EXISTS,            /**< buffer already copied over this channel */
	BULK_E_NOT_COPY,               /**< release: buffer was not received as a copy here */
	BULK_E_COPY_REACHABILITY,      /**< release would leave this domain's own copies unreachable */
	BULK_E_BUFFER_FREE,            /**< buffer sits in its pool's free list */
	BULK_E_VETOED,                 /**< peer vetoed the pool assignment */
	BULK_E_TRUST_MISMATCH,         /**< pool trust differs from channel trust */
	BULK_E_TRUST_UNSUPPORTED,      /**< backend cannot provide this trust level */
	BULK_E_EP_IN_USE,              /**< endpoint already has a channel */
	BULK_E_EP_NO_CHANNEL,          /**< remote endpoint has no channel to bind to */
	BULK_E_ALREADY_BOUND,          /**< channel already bound (or a bind is pending) */
	BULK_E_BIND_MISMATCH,          /**< bind parameters do not match the creator's */
	BULK_E_BIND_REFUSED,           /**< creator refused the bind request */
	BULK_E_WRONG_DOMAIN,           /**< object belongs to another domain */
	BULK_E_DUPLICATE,              /**< the same buffer appears twice in one burst */
	BULK_E_BAD_LENGTH,             /**< payload length larger than the buffer */
	BULK_E_PEER_GONE,              /**< the peer closed or died */
	BULK_E_CLOSED,                 /**< the channel is closed or tearing down */
	BULK_E_BAD_DESC,               /**< a received descriptor failed validation */
	BULK_E_NO_BACKEND,             /**< backend not built into this library */
	BULK_E_POOL_FORGED,            /**< peer named a pool we know but did not prove it is that memory */
	BULK_E_POOL_LIMIT,             /**< peer's pools would exceed this channel's limits */
	BULK_E_POOL_NOT_SHAREABLE,     /**< pool memory cannot be mapped by another process (use BULK_MEM_MEMFD) */
	BULK_E_LAST                    /**< one past the last code */
};

/**
 * Name an error code.
 * @param err  0, a negative errno or a negative enum bulk_errno value
 *             (the sign is ignored).
 * @return a static, never-NULL string.
 */
const char *bulk_strerror(int err);

/** Direction of data flow for one side of a channel (TX side = source). */
enum bulk_direction {
	BULK_DIRECTION_TX = 0,
	BULK_DIRECTION_RX = 1,
};

/** Role of one side; GENERIC only at create, resolved at bind. */
enum bulk_role {
	BULK_ROLE_GENERIC = 0,
	BULK_ROLE_MASTER = 1,
	BULK_ROLE_SLAVE = 2,
};

/** Trust levels of channels and pools. UNINITIALIZED: a pool never assigned. */
enum bulk_trust {
	BULK_TRUST_UNINITIALIZED = 0,
	BULK_TRUST_NONE = 1,
	BULK_TRUST_HALF = 2,
	BULK_TRUST_FULL = 3,
};

/** Channel states, in the spec's order. */
enum bulk_channel_state {
	BULK_STATE_UNINITIALIZED = 0,
	BULK_STATE_INITIALIZED,   /**< created, waiting for a binder */
	BULK_STATE_BINDING,       /**< bind request sent, waiting for the reply */
	BULK_STATE_BIND_NEGOTIATE,
	BULK_STATE_CONNECTED,
	BULK_STATE_TEARDOWN,      /**< teardown sent; in-flight messages still arrive */
	BULK_STATE_CLOSED,
};

/** A buffer's state as seen by the domain whose view it is. */
enum bulk_buffer_state {
	BULK_BUFFER_INVALID = 0,    /**< no access */
	BULK_BUFFER_READ_ONLY = 1,  /**< holds a copy */
	BULK_BUFFER_RO_OWNED = 2,   /**< owns it, copies are out */
	BULK_BUFFER_READ_WRITE = 3, /**< owns it, no copies */
};

/** Largest per-buffer meta size a channel may carry. */
#define BULK_META_MAX 64u
/** Pools one channel can have assigned at once (both sides together). */
#define BULK_CHANNEL_MAX_POOLS 256u
/** Channels one pool view can be assigned to at once. */
#define BULK_POOL_MAX_CHANNELS 16u
/** Most buffers one pool may have. */
#define BULK_POOL_MAX_BUFFERS (1u << 24)
/** Default descriptors per direction of a channel. */
#define BULK_CHANNEL_DEFAULT_QUEUE 1024u
/**
 * Default cap on the buffers of the pools a peer has assigned to one channel
 * at once: about 3.5 MiB of bookkeeping, the most a peer can make us
 * allocate before the application's pool_assigned callback runs.
 */
#define BULK_PEER_POOL_BUFFERS_DEFAULT 65536u
/** Default cap on pool memory a peer can make us allocate (non-sharing backends). */
#define BULK_PEER_POOL_BYTES_DEFAULT (4ull << 30)

struct bulk_domain;
struct bulk_endpoint;
struct bulk_channel;
struct bulk_pool;

/** Pool identity, unique across machines: host id, pid, per-process counter. */
struct bulk_pool_id {
	uint64_t host;
	uint32_t pid;
	uint32_t seq;
};

/**
 * One buffer of a pool view. The fields above `user` are read-only for
 * applications; `state` is this domain's view (enum bulk_buffer_state).
 * The fields after `user` are reserved: the library's own bookkeeping,
 * neither to be read nor written by applications, and free to change.
 */
struct bulk_buffer {
	void *addr;              /**< start of the buffer's memory */
	struct bulk_pool *pool;  /**< the view this buffer belongs to */
	uint32_t index;          /**< index in the pool */
	uint8_t state;           /**< enum bulk_buffer_state */
	uint8_t flags;           /**< reserved */
	uint16_t copies_in;      /**< channels this domain holds a copy from */
	uint32_t copies_out;     /**< copies this domain made that are not released */
	uint32_t mark;           /**< reserved */
	void *user;              /**< free for the application */
	uint16_t slot;           /**< reserved */
	uint16_t rsvd;           /**< reserved */
};

/** Continuation: fires once, inside a poll, when an operation completed. */
typedef void (*bulk_cont_fn)(void *arg, int err, struct bulk_channel *ch);

/** Continuation {handler, arg}; a NULL handler means "no notification". */
struct bulk_cont {
	bulk_cont_fn fn;
	void *arg;
};

#ifdef __cplusplus
#define BULK_CONT_NONE (bulk_cont{ nullptr, nullptr })
#else
#define BULK_CONT_NONE ((struct bulk_cont){ NULL, NULL })
#endif

/** What a creator's bind_received callback is told about the binder. */
struct bulk_bind_info {
	enum bulk_role binder_role;   /**< role the binder will have */
	enum bulk_trust trust;        /**< trust of the channel */
	uint32_t meta_size;
};

/**
 * Channel callbacks. Any may be NULL. Buffer callbacks get bursts: n buffers,
 * their payload lengths, and n * meta_size bytes of meta, all valid only for
 * the duration of the call.
 */
struct bulk_channel_callbacks {
	/** Creator only: a binder arrived. Return 0 to accept, < 0 to refuse. */
	int (*bind_received)(struct bulk_channel *ch, const struct bulk_bind_info *info);
	/** The peer assigns a pool. Return 0 to accept, < 0 to veto. */
	int (*pool_assigned)(struct bulk_channel *ch, struct bulk_pool *pool);
	/** The peer removed a pool from the channel. */
	void (*pool_removed)(struct bulk_channel *ch, struct bulk_pool *pool);
	/** Buffers moved to us (we now own them, READ_WRITE). */
	void (*move_received)(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
			      const uint32_t *lens, const void *meta, unsigned n);
	/** Buffers passed back to us (we now own them, READ_WRITE). */
	void (*buffer_received)(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
				const uint32_t *lens, const void *meta, unsigned n);
	/** Read-only copies received. */
	void (*copy_received)(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
			      const uint32_t *lens, const void *meta, unsigned n);
	/** Copies we made came back; owners see READ_WRITE after the last one. */
	void (*copy_released)(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
			      unsigned n);
	/** The peer tore the channel down or went away; the channel is CLOSED. */
	void (*teardown_received)(struct bulk_channel *ch, int reason);
};

/** Channel parameters for bulk_channel_create(); zero means default. */
struct bulk_channel_params {
	enum bulk_direction direction; /**< creator's direction */
	enum bulk_role role;           /**< GENERIC (default): the binder decides */
	enum bulk_trust trust;         /**< 0: BULK_TRUST_FULL */
	uint32_t meta_size;            /**< bytes of meta per buffer, <= BULK_META_MAX */
	uint32_t queue_size;           /**< descriptors per direction (power of two), 0: default */
	void *user;                    /**< returned by bulk_channel_user() */
	/** Buffers of pools the peer may have assigned to this channel at once
	 * (their per-buffer bookkeeping is allocated before pool_assigned can
	 * veto); 0: BULK_PEER_POOL_BUFFERS_DEFAULT. */
	uint32_t peer_pool_buffers_max;
	/** Bytes of pool memory the peer may make this side allocate (backends
	 * that do not share memory: dpdk, shm NONE); 0: BULK_PEER_POOL_BYTES_DEFAULT. */
	uint64_t peer_pool_bytes_max;
};

/** Bind parameters; zero means "adopt the creator's". */
struct bulk_bind_params {
	enum bulk_role role;     /**< wanted role; GENERIC: the opposite of the creator's, or SLAVE */
	enum bulk_trust trust;   /**< 0: adopt; else must equal the creator's */
	uint32_t meta_size;      /**< 0: adopt; else must equal the creator's */
	void *user;
	uint32_t queue_size;     /**< 0: adopt; else must equal the creator's */
	/** As in struct bulk_channel_params, for this side (not negotiated). */
	uint32_t peer_pool_buffers_max;
	uint64_t peer_pool_bytes_max;
};

/** Per-channel statistics (this side). */
struct bulk_channel_stats {
	uint64_t tx_msgs;        /**< descriptors sent, control messages included */
	uint64_t rx_msgs;        /**< descriptors received */
	uint64_t tx_bufs;        /**< buffers sent by move/pass/copy/release/full copy */
	uint64_t rx_bufs;
	uint64_t tx_bytes;       /**< payload bytes of buffers sent */
	uint64_t rx_bytes;
	uint64_t moves_tx, passes_tx, copies_tx, releases_tx;
	uint64_t moves_rx, passes_rx, copies_rx, releases_rx;
	uint64_t lib_copies;     /**< buffers copied with memcpy by the library (full copy) */
	uint64_t lib_copy_bytes;
	uint64_t queue_full;     /**< sends cut short because the queue was full */
	uint64_t bad_desc;       /**< received descriptors rejected */
	uint64_t wakeups;        /**< wakeup syscalls made for the peer */
	uint64_t retransmits;    /**< network backends */
	uint64_t copies_bounced; /**< copies of buffers we could read already, released at once */
	uint64_t trust_copies;   /**< buffers copied because the trust level demands it (shm NONE) */
	uint64_t trust_copy_bytes;
	uint64_t reclaimed;      /**< buffers the peer held that came back when it went away */
	uint64_t pools_refused;  /**< peer's pool assignments refused as forged or over the limits */
};

/* ---------------------------------------------------------------- domains */

/**
 * Create a domain (an ownership context).
 * @param name  short name for diagnostics (may be NULL)
 * @param out   receives the domain
 * @return 0, -EINVAL (out NULL), -ENOMEM.
 */
int bulk_domain_create(const char *name, struct bulk_domain **out);

/**
 * Destroy a domain; frees its CLOSED channels and its pools.
 * @return 0, -EBUSY (a channel is not CLOSED, or an endpoint still exists),
 *         -BULK_E_POOL_IN_USE (a pool it allocated has buffers away, or it
 *         owns buffers of a pool it received: pass them home first; a
 *         received pool whose only channel's peer died may be freed, and
 *         any received view on no channel may be given up: bulk_pool_drop()).
 */
int bulk_domain_destroy(struct bulk_domain *d);

/**
 * Poll every channel of the domain once.
 * @param budget  maximum descriptors handled per channel (0: default 64)
 * @return number of descriptors handled (>= 0), or a negative code.
 */
int bulk_domain_poll(struct bulk_domain *d, unsigned budget);

/** @return the domain's name. */
const char *bulk_domain_name(const struct bulk_domain *d);

/**
 * Look up the domain's view of a pool by id (the spec's domain pool list).
 * @return the pool, or NULL if this domain has no view of it.
 */
struct bulk_pool *bulk_domain_pool_lookup(struct bulk_domain *d, const struct bulk_pool_id *id);

/* -------------------------------------------------------------- endpoints */

/**
 * Free an endpoint that has no live channel.
 * @return 0, -EINVAL, -EBUSY (its channel is not freed yet).
 */
int bulk_endpoint_free(struct bulk_endpoint *ep);

/* --------------------------------------------------------------- channels */

/**
 * Create a channel on a local endpoint and wait for a binder (Algorithm 3).
 * The channel is INITIALIZED; a binder arriving runs bind_received in a poll.
 * @return 0;
 *   -EINVAL (NULL argument, bad direction/role/trust enum, meta_size > BULK_META_MAX,
 *   queue_size not a power of two in [2, 2^24]);
 *   -BULK_E_EP_IN_USE (the endpoint already has a channel, or is a remote one);
 *   -BULK_E_TRUST_UNSUPPORTED (the backend cannot give this trust level);
 *   -ENOMEM.
 */
int bulk_channel_create(struct bulk_endpoint *ep, const struct bulk_channel_callbacks *cb,
			const struct bulk_channel_params *params, struct bulk_channel **out);

/**
 * Bind to a remote endpoint (Algorithm 4). The channel is BINDING until the
 * creator answers; then CONNECTED and @p cont fires with 0, or CLOSED and
 * @p cont fires with the error.
 * @param d       the binding domain
 * @param remote  the creator's endpoint (descriptor)
 * @return 0;
 *   -EINVAL (NULL argument, bad enum, meta_size too large);
 *   -BULK_E_EP_NO_CHANNEL (no channel was created on @p remote);
 *   -BULK_E_ALREADY_BOUND (the remote channel is bound or a bind is pending);
 *   -BULK_E_BIND_MISMATCH (role, trust, meta size or queue size differ from the
 *   creator's; a backend whose creator answers asynchronously, as shm, gives
 *   this and the creator's other refusals to @p cont instead);
 *   -BULK_E_WRONG_DOMAIN (the remote endpoint is in @p d itself);
 *   -ENOMEM; backends may return -BULK_E_PEER_GONE or a negative errno.
 */
int bulk_channel_bind(struct bulk_domain *d, struct bulk_endpoint *remote,
		      const struct bulk_channel_callbacks *cb, const struct bulk_bind_params *params,
		      struct bulk_cont cont, struct bulk_channel **out);

/**
 * Start an orderly teardown. Messages already in flight are still delivered;
 * nothing new can be sent. @p cont fires when the peer acknowledged, and the
 * channel is CLOSED. An unbound (INITIALIZED) channel closes at once (its
 * continuation fires at the next poll) and refuses binders from then on.
 * Buffers keep the owner they have; nothing is lost. Copies must be
 * released first: this side may have no copy out over the channel and hold
 * none received over it. (Should a copy still cross during the teardown, it
 * is voided when the channel closes, and pending pool assignments fail with
 * -BULK_E_CLOSED.)
 * @return 0; -EINVAL; -EBUSY (a bind is still in progress: poll until it
 *   completes); -BULK_E_BUFFER_COPIED (copies over this channel are still
 *   out or held); -BULK_E_CLOSED (already tearing down or closed).
 */
int bulk_channel_destroy(struct bulk_channel *ch, struct bulk_cont cont);

/**
 * Free a CLOSED (or never bound) channel and detach its pools. Allowed from
 * inside a callback or continuation: the channel then goes when the poll
 * that runs it ends.
 * A creator's channel must not be freed while another thread may still
 * call bulk_channel_bind() on its endpoint (destroy it first: a destroyed
 * creator refuses binders).
 * @return 0; -EINVAL; -EBUSY (the channel is not CLOSED or INITIALIZED, or
 *   the continuation of a destroy has not fired yet: poll first).
 */
int bulk_channel_free(struct bulk_channel *ch);

/**
 * Handle up to @p budget received descriptors: runs callbacks and continuations.
 * Callbacks may send, assign, destroy and free, but not poll again.
 * @return number of descriptors handled (>= 0); -EINVAL; -EBUSY (called
 *   from inside a poll of the same channel or domain).
 */
int bulk_channel_poll(struct bulk_channel *ch, unsigned budget);

/**
 * A file descriptor that becomes readable when descriptors arrive, for
 * epoll users. Only signalled after bulk_channel_arm() (need-wakeup); get
 * it before the peer starts sending. A continuation that waits only for
 * the peer to consume what we sent is seen at the next poll, not signalled.
 * @return the fd (owned by the channel); -ENOTSUP; negative errno.
 */
int bulk_channel_fd(struct bulk_channel *ch);

/**
 * Ask the peer for a wakeup on the fd before sleeping on it: when
 * descriptors arrive, and (shm) when a send that came back short since the
 * last arm can go on. The local backend's fd is an eventfd: read it after
 * waking; other backends' fds are drained by arm itself.
 * @return 1 if work is already pending (do not sleep), 0 if armed; negative code.
 */
int bulk_channel_arm(struct bulk_channel *ch);

/**
 * Assign a pool to the channel (Algorithm 6), two-phase: the peer may veto.
 * @p cont fires with 0 (assigned) or -BULK_E_VETOED / the peer's reason:
 * -BULK_E_POOL_FORGED (the peer already has a view of this pool id and the
 * backend could not show that what we sent is that memory: over shm the fd
 * is a different file; over a backend that does not share memory (dpdk, shm
 * NONE) a domain accepts a pool id only once), -BULK_E_POOL_LIMIT (over the
 * peer's peer_pool_buffers_max / peer_pool_bytes_max), -BULK_E_BAD_DESC,
 * -BULK_E_POOL_GEOMETRY, -ENOSPC, -ENOMEM.
 * The pool's trust is fixed to the channel's at its first assignment.
 * @return 0;
 *   -EINVAL (NULL);
 *   -BULK_E_WRONG_DOMAIN (pool view of another domain);
 *   -BULK_E_NOT_CONNECTED;
 *   -BULK_E_POOL_UNKNOWN (this view is no longer in the domain's pool list;
 *   a pointer to a freed pool is, as anywhere, undefined);
 *   -BULK_E_POOL_ASSIGNED (already assigned or pending on this channel);
 *   -BULK_E_TRUST_MISMATCH;
 *   -BULK_E_POOL_GEOMETRY (buffer size not page-multiple for HALF/NONE);
 *   -ENOSPC (BULK_CHANNEL_MAX_POOLS or BULK_POOL_MAX_CHANNELS reached); -ENOMEM;
 *   shm: -BULK_E_POOL_NOT_SHAREABLE for memory another process cannot map
 *   (FULL and HALF share the pool itself: allocate it with BULK_MEM_MEMFD),
 *   -BULK_E_POOL_GEOMETRY for hugepage memory at HALF (protections work per
 *   4 KiB page) or a base that is not page aligned, -BULK_E_PEER_GONE (the peer died and no
 *   poll has seen it yet), -EAGAIN (the socket is full: poll, then retry).
 */
int bulk_channel_assign_pool(struct bulk_channel *ch, struct bulk_pool *pool,
			     struct bulk_cont cont);

/**
 * Remove a pool from the channel. Only when this domain owns every buffer of
 * the pool with no copies out (nothing of it can be in the peer's hands).
 * @return 0; -EINVAL; -BULK_E_WRONG_DOMAIN; -BULK_E_NOT_CONNECTED;
 *   -BULK_E_POOL_NOT_ASSIGNED; -BULK_E_POOL_IN_USE.
 */
int bulk_channel_remove_pool(struct bulk_channel *ch, struct bulk_pool *pool,
			     struct bulk_cont cont);

/**
 * Move buffers to the sink (Algorithm 7). Validation is all-or-nothing: if
 * any buffer fails, nothing changes and the first failure is returned. Then
 * as many as fit in the queue are sent, in order (0..n, like rte_ring bursts);
 * the rest stay untouched with the caller. @p cont fires once, when the peer
 * has received all that were sent.
 *
 * Checks, in this order, for the channel then for each buffer in turn:
 *   -EINVAL (NULL channel/bufs, n == 0, meta NULL while meta_size > 0),
 *   -BULK_E_NOT_CONNECTED, -BULK_E_WRONG_DIRECTION,
 *   per buffer: -EINVAL (NULL buffer), -BULK_E_WRONG_DOMAIN, -BULK_E_BAD_LENGTH,
 *   -BULK_E_POOL_NOT_ASSIGNED, -BULK_E_NOT_OWNER, -BULK_E_BUFFER_COPIED,
 *   -BULK_E_BUFFER_FREE, -BULK_E_DUPLICATE.
 *
 * @param lens  payload length of each buffer, or NULL for full buffers
 * @param meta  n * meta_size bytes, or NULL when meta_size is 0
 * @return number sent (0..n; 0 means the queue is full), or a negative code.
 */
int bulk_channel_move_burst(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
			    const uint32_t *lens, const void *meta, unsigned n,
			    struct bulk_cont cont);

/**
 * Pass buffers back to the source (Algorithm 8); the sink side's move.
 * Same checks and returns as bulk_channel_move_burst(), with
 * -BULK_E_WRONG_DIRECTION when called on the TX side.
 */
int bulk_channel_pass_burst(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
			    const uint32_t *lens, const void *meta, unsigned n,
			    struct bulk_cont cont);

/**
 * Send read-only copies (Algorithm 9). The buffer must be owned by this
 * domain or held as a copy; the owner sees RO_OWNED until every copy came back.
 * A receiver that can read the buffer already (it owns it or holds a copy
 * from another channel) releases the new copy at once without delivering
 * it, so copies always form a tree rooted at the owner (invariant 5 in its
 * intended, path-from-the-owner sense); the sender sees copy_released.
 * Per-buffer checks, in order: -EINVAL, -BULK_E_WRONG_DOMAIN,
 * -BULK_E_BAD_LENGTH, -BULK_E_POOL_NOT_ASSIGNED, -BULK_E_NO_ACCESS,
 * -BULK_E_COPY_EXISTS (already copied over this channel and not released),
 * -BULK_E_BUFFER_FREE, -BULK_E_DUPLICATE. Returns as bulk_channel_move_burst().
 */
int bulk_channel_copy_burst(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
			    const uint32_t *lens, const void *meta, unsigned n,
			    struct bulk_cont cont);

/**
 * Release copies received on this channel back to the source (Algorithm 10).
 * Per-buffer checks, in order: -EINVAL, -BULK_E_WRONG_DOMAIN,
 * -BULK_E_POOL_NOT_ASSIGNED, -BULK_E_NOT_COPY (not received as a copy over
 * this channel), -BULK_E_COPY_REACHABILITY (this domain still has copies of
 * the buffer out and this is its last copy in), -BULK_E_DUPLICATE.
 * Channel checks as for pass (sink side only).
 * @return number released (0..n), or a negative code.
 */
int bulk_channel_release_burst(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
			       unsigned n, struct bulk_cont cont);

/**
 * Full copy: copy each src into dst with memcpy, then move dst (the receiver
 * sees move_received). src must be readable by this domain (owned or a
 * copy, pool need not be assigned); dst is checked as for a move. The data
 * is copied into every dst before queueing; dst buffers the queue could not
 * take stay with the caller, READ_WRITE, holding the copied data.
 * Per-pair checks: src -EINVAL / -BULK_E_WRONG_DOMAIN / -BULK_E_NO_ACCESS,
 * then dst as bulk_channel_move_burst(). Counted in lib_copies.
 */
int bulk_channel_full_copy_burst(struct bulk_channel *ch, struct bulk_buffer *const *src,
				 struct bulk_buffer *const *dst, const uint32_t *lens,
				 const void *meta, unsigned n, struct bulk_cont cont);

/* Single-buffer forms: 0 on success, -ENOBUFS if the queue is full. */

/** Move one buffer; see bulk_channel_move_burst(). @return 0, -ENOBUFS or its errors. */
int bulk_channel_move(struct bulk_channel *ch, struct bulk_buffer *buf, uint32_t len,
		      const void *meta, struct bulk_cont cont);
/** Pass one buffer; see bulk_channel_pass_burst(). @return 0, -ENOBUFS or its errors. */
int bulk_channel_pass(struct bulk_channel *ch, struct bulk_buffer *buf, uint32_t len,
		      const void *meta, struct bulk_cont cont);
/** Copy one buffer; see bulk_channel_copy_burst(). @return 0, -ENOBUFS or its errors. */
int bulk_channel_copy(struct bulk_channel *ch, struct bulk_buffer *buf, uint32_t len,
		      const void *meta, struct bulk_cont cont);
/** Release one copy; see bulk_channel_release_burst(). @return 0, -ENOBUFS or its errors. */
int bulk_channel_release(struct bulk_channel *ch, struct bulk_buffer *buf, struct bulk_cont cont);
/** Full-copy one buffer; see bulk_channel_full_copy_burst(). @return 0, -ENOBUFS or its errors. */
int bulk_channel_full_copy(struct bulk_channel *ch, struct bulk_buffer *src,
			   struct bulk_buffer *dst, uint32_t len, const void *meta,
			   struct bulk_cont cont);

/** @return the channel's state. */
enum bulk_channel_state bulk_channel_state(const struct bulk_channel *ch);
/** @return this side's direction (TX: source). */
enum bulk_direction bulk_channel_direction(const struct bulk_channel *ch);
/** @return this side's role (GENERIC until a creator's bind is resolved). */
enum bulk_role bulk_channel_role(const struct bulk_channel *ch);
/** @return the channel's trust level. */
enum bulk_trust bulk_channel_trust(const struct bulk_channel *ch);
/** @return bytes of meta carried with each buffer. */
uint32_t bulk_channel_meta_size(const struct bulk_channel *ch);
/** @return the user pointer given at create/bind or set later. */
void *bulk_channel_user(const struct bulk_channel *ch);
/** Set the user pointer. */
void bulk_channel_set_user(struct bulk_channel *ch, void *user);
/** @return the domain the channel belongs to. */
struct bulk_domain *bulk_channel_domain(const struct bulk_channel *ch);
/** @return the backend's name ("local", "shm", "dpdk"). */
const char *bulk_channel_backend(const struct bulk_channel *ch);

/**
 * Copy the channel's statistics.
 * @return 0; -EINVAL (NULL).
 */
int bulk_channel_stats_get(const struct bulk_channel *ch, struct bulk_channel_stats *st);

/** @return 1 if @p pool is assigned to @p ch (this side's view), else 0. */
int bulk_channel_has_pool(const struct bulk_channel *ch, const struct bulk_pool *pool);

/* ------------------------------------------------------------------ pools */

/** @return the pool's id (the same in every domain's view). */
const struct bulk_pool_id *bulk_pool_get_id(const struct bulk_pool *p);
/** @return number of buffers in the pool. */
uint32_t bulk_pool_buffer_count(const struct bulk_pool *p);
/** @return bytes per buffer. */
uint32_t bulk_pool_buffer_size(const struct bulk_pool *p);
/** @return the pool's trust (UNINITIALIZED until its first assignment). */
enum bulk_trust bulk_pool_trust(const struct bulk_pool *p);
/** @return the address of buffer 0 in this view. */
void *bulk_pool_base(const struct bulk_pool *p);
/** @return the domain whose view this is. */
struct bulk_domain *bulk_pool_domain(const struct bulk_pool *p);
/** @return buffer @p index of the view, or NULL if out of range. */
struct bulk_buffer *bulk_pool_buffer(struct bulk_pool *p, uint32_t index);
/** @return 1 if the two ids are equal. */
int bulk_pool_id_equal(const struct bulk_pool_id *a, const struct bulk_pool_id *b);

/** @return 1 if this domain owns @p b (READ_WRITE or RO_OWNED). */
static inline int
bulk_buffer_is_owner(const struct bulk_buffer *b)
{
	return b->state == BULK_BUFFER_READ_WRITE || b->state == BULK_BUFFER_RO_OWNED;
}

/** @return 1 if this domain may read @p b. */
static inline int
bulk_buffer_is_readable(const struct bulk_buffer *b)
{
	return b->state != BULK_BUFFER_INVALID;
}

/** @return the name of a buffer state. */
const char *bulk_buffer_state_name(enum bulk_buffer_state s);
/** @return the name of a channel state. */
const char *bulk_channel_state_name(enum bulk_channel_state s);

#ifdef __cplusplus
}
#endif

#endif /* BULK_BULK_H */
