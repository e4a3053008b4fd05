/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file bulk_bs.h
 * libbulk-bs: the block service protocol over bulk channels (Part I,
 * chapter 7 of the specification, made fast): a client half that an
 * application embeds the way programs embed libnbd, and a server half that
 * a block server (nbs) puts in front of its store.
 *
 * A client opens a control connection (unix:PATH or tcp:HOST:PORT) to a
 * server and says hello (protocol version, export name); the server
 * answers with the export's INFO (size, block sizes, flags). The client
 * then creates its data channel(s) at bulk endpoint addresses of its
 * choice (bulk_addr.h: shm:@NAME, dpdk:ip=A.B.C.D,ep=N), sends the
 * addresses, and the server binds (spec 7.2). The client assigns its pool
 * (spec 7.3). From then on the control connection is quiet: every request
 * travels in the per-buffer meta of a buffer the client moves to the
 * server (a WRITE's buffer carries the data), and its status comes back in
 * the meta of the same buffer, passed back (a READ's buffer then carries
 * the data). Many requests are in flight at once and complete in any order.
 * docs/blockservice.md describes the wire formats.
 *
 * Threads: like libbulk, nothing runs behind the caller's back. A client
 * or server belongs to the domain it was given and is driven by the
 * thread that drives that domain, through bulk_bs_client_poll() /
 * bulk_bs_server_poll(); callbacks run inside those calls. When idle, a
 * poll in adaptive mode sleeps on the channels' and sockets' fds (epoll).
 *
 * Errors: 0 or a count on success, a negative errno or negative enum
 * bulk_errno code on failure (bulk_strerror() names both). Request
 * statuses are 0 or a negative errno, the same on both sides of the wire.
 */
#ifndef BULK_BS_H
#define BULK_BS_H

#include <stddef.h>
#include <stdint.h>

#include <bulk/bulk.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The protocol version this library speaks. */
#define BULK_BS_VERSION 1u
/** Longest export name, in bytes. */
#define BULK_BS_EXPORT_NAME_MAX 255u
/** Most data channels one client may open. */
#define BULK_BS_MAX_CHANNELS 4u
/** Longest control address (unix:PATH, tcp:HOST:PORT), its NUL included. */
#define BULK_BS_ADDR_STRLEN 128u

/** Request operations (the meta's op field). */
enum bulk_bs_op {
	BULK_BS_OP_READ = 1,         /**< data comes back in the buffer */
	BULK_BS_OP_WRITE = 2,        /**< the buffer carries the data */
	BULK_BS_OP_FLUSH = 3,        /**< what was acknowledged is on stable storage */
	BULK_BS_OP_TRIM = 4,         /**< the range may read back as anything, zeros on our stores */
	BULK_BS_OP_WRITE_ZEROES = 5, /**< the range reads back as zeros */
};

/** Request flags. */
#define BULK_BS_CMD_FUA 0x1u /**< WRITE, TRIM, WRITE_ZEROES: stable before the status */
/** Every request flag this version knows. */
#define BULK_BS_CMD_MASK BULK_BS_CMD_FUA

/** Export flags (struct bulk_bs_info.flags). */
#define BULK_BS_FLAG_READ_ONLY    0x01u /**< WRITE, TRIM and WRITE_ZEROES fail with -EPERM */
#define BULK_BS_FLAG_FLUSH        0x02u /**< FLUSH is meaningful (a volatile cache exists) */
#define BULK_BS_FLAG_FUA          0x04u /**< BULK_BS_CMD_FUA is honoured */
#define BULK_BS_FLAG_TRIM         0x08u /**< TRIM is supported */
#define BULK_BS_FLAG_WRITE_ZEROES 0x10u /**< WRITE_ZEROES is supported */
/** Every export flag this version knows. */
#define BULK_BS_FLAG_MASK 0x1fu

/**
 * What a server exports. Offsets and lengths of READ, WRITE, TRIM and
 * WRITE_ZEROES must be multiples of block_min; READ and WRITE lengths are
 * at most block_max (and the request's buffer size); FLUSH has offset and
 * length 0. Every request range lies within size.
 */
struct bulk_bs_info {
	uint64_t size;       /**< bytes */
	uint32_t block_min;  /**< alignment of offsets and lengths, a power of two */
	uint32_t block_pref; /**< preferred request size (a multiple of block_min) */
	uint32_t block_max;  /**< longest READ or WRITE (a multiple of block_min) */
	uint32_t flags;      /**< BULK_BS_FLAG_* */
	uint32_t max_buffers; /**< most buffers a client may assign (its queue depth) */
};

/** How a poll waits when there is nothing to do. */
enum bulk_bs_poll_mode {
	/** Spin a little after the last work, then sleep on the fds (default). */
	BULK_BS_POLL_ADAPTIVE = 0,
	/** Never sleep: lowest latency, one core per process. */
	BULK_BS_POLL_BUSY = 1,
};

/** Per-connection counters (either side). */
struct bulk_bs_stats {
	uint64_t requests;      /**< completed requests, errors included */
	uint64_t reads, writes, flushes, trims, zeroes;
	uint64_t errors;        /**< requests completed with a non-zero status */
	uint64_t invalid;       /**< server: requests refused by validation */
	uint64_t read_bytes;    /**< payload bytes of successful READs */
	uint64_t write_bytes;   /**< payload bytes of WRITEs */
	uint64_t inflight;      /**< requests in flight now */
	uint64_t protocol_errors; /**< malformed meta or control messages, stray buffers */
	/** The data channels' libbulk counters, summed (bulk_channel_stats_get()). */
	struct bulk_channel_stats chan;
	/** The data channels' backend ("shm", "dpdk", "local"). */
	char backend[8];
	/** READs whose data travelled as a read-only copy (copy channel). */
	uint64_t copy_reads;
	/** Their payload bytes (no byte of them was copied). */
	uint64_t copy_bytes;
	/** Copies given back (client: released; server: seen released). */
	uint64_t copies_released;
};

/** Name an operation ("read", "write", ...); "?" for an unknown one. */
const char *bulk_bs_op_name(unsigned op);

/* ================================================================ client */

struct bulk_bs_client;

/** Client parameters; zero means default. */
struct bulk_bs_client_params {
	struct bulk_domain *dom;  /**< the domain the client lives in (required) */
	const char *server;       /**< unix:PATH, unix:@NAME or tcp:HOST:PORT (required) */
	const char *export_name;  /**< NULL: "" (the server's default export) */
	/**
	 * Where the client creates its data channels (bulk_addr.h), one per
	 * channel; NULL: one channel at shm:@bulk-bs-PID-N. A shm address
	 * makes the pool BULK_MEM_MEMFD memory.
	 */
	const char *const *data_addrs;
	unsigned channels;        /**< entries of data_addrs (1..BULK_BS_MAX_CHANNELS); 0: 1 */
	uint32_t buffers;         /**< pool buffers = most requests in flight; 0: 64 */
	/** Bytes per buffer: the longest READ or WRITE; 0: the server's block_max
	 * capped at 1 MiB. Rounded up to the page size. */
	uint32_t buffer_size;
	enum bulk_trust trust;    /**< the channels' trust; 0: FULL */
	enum bulk_bs_poll_mode poll;
	uint32_t timeout_ms;      /**< connect and close give up after this; 0: 10000 */
	/** Called in every poll round (e.g. to poll a DPDK port); may be NULL. */
	int (*poll_hook)(void *arg);
	void *poll_hook_arg;
	/** Where bulk_bs_client_connect() writes a one-line reason when it fails. */
	char *err_msg;
	size_t err_len;
	/**
	 * Offer the server a copy channel (docs/blockservice.md, section 10):
	 * READs in buffers of the client's own pool may then complete with a
	 * read-only copy of a server buffer instead of the data in their own
	 * buffer (bulk_bs_done_fn). Where the server does not offer copies,
	 * nothing changes. Offered only where the data channels are shm
	 * (ignored otherwise); a server of an older libbulk-bs refuses the
	 * HELLO flag (connect fails with -EPROTO), so ask only when wanted.
	 */
	int copies;
};

/**
 * Connect: control connection, hello, INFO, data channels created and bound
 * by the server, pool allocated and assigned. Blocks (polling the domain's
 * new channels) for at most timeout_ms.
 * @return 0;
 *   -EINVAL (NULL argument or domain; server not unix:/tcp:; an export
 *   name longer than BULK_BS_EXPORT_NAME_MAX; channels above
 *   BULK_BS_MAX_CHANNELS; a data address that does not parse);
 *   -ENAMETOOLONG (a unix path too long for sun_path);
 *   -ECONNREFUSED, -ENOENT, -EHOSTUNREACH, ... (the control connection);
 *   -EPROTO (the server spoke something else), -EPROTONOSUPPORT (the
 *   server refused our version); -ENOENT (no such export);
 *   -EOVERFLOW (more buffers than the server's max_buffers, or buffers
 *   smaller than its block_min);
 *   -ETIMEDOUT; -ENOMEM; a bulk error of channel creation, binding or
 *   pool assignment (-BULK_E_POOL_LIMIT, -BULK_E_VETOED, ...).
 *   err_msg says which step failed and why.
 */
int bulk_bs_client_connect(const struct bulk_bs_client_params *p, struct bulk_bs_client **out);

/** @return the export's INFO as the server sent it. */
const struct bulk_bs_info *bulk_bs_client_info(const struct bulk_bs_client *c);

/** @return bytes per buffer of the client's pool. */
uint32_t bulk_bs_client_buffer_size(const struct bulk_bs_client *c);

/**
 * Take a free buffer of the client's pool, to fill for a WRITE or to
 * receive a READ.
 * @return the buffer (READ_WRITE, owned by the caller), or NULL when every
 *   buffer is in use (poll: completions bring them back).
 */
struct bulk_buffer *bulk_bs_client_buffer_get(struct bulk_bs_client *c);

/**
 * Give a buffer back to the client's pool, or a read-only copy a READ
 * completed with back to the server (released on the copy channel; its
 * pages are no longer readable here once it went).
 * @return 0; -EINVAL (NULL, neither a buffer of this client's pool nor a
 *   copy it holds); -BULK_E_NOT_OWNER (in flight); -BULK_E_BUFFER_FREE
 *   (already free).
 */
int bulk_bs_client_buffer_put(struct bulk_bs_client *c, struct bulk_buffer *buf);

/**
 * @return 1 if the server agreed to send READs' data as read-only copies
 *   (bulk_bs_client_params.copies), 0 if not.
 */
int bulk_bs_client_copies(const struct bulk_bs_client *c);

/** @return read-only copies the application holds and has not put back. */
unsigned bulk_bs_client_copies_held(const struct bulk_bs_client *c);

/**
 * Completion of a request, called inside bulk_bs_client_poll() (or inside
 * bulk_bs_client_close() for requests failed there).
 * @param status  0, or a negative errno: the server's (-EINVAL, -ENOSPC,
 *   -EPERM, -EIO, -EOVERFLOW, -ENOTSUP, -ESHUTDOWN, -ENOTCONN from a proxy
 *   whose own upstream is not connected, ...), or the
 *   client's: -EPROTO (a reply that makes no sense), -ECONNRESET (the
 *   server went away; the buffer came back to us unchanged).
 * @param buf     the request's buffer, owned by the caller again (for a
 *   READ that succeeded it holds the data); NULL for a request submitted
 *   without one (the library's buffer went back to the pool). With
 *   copies (bulk_bs_client_params.copies), a READ that succeeded may
 *   instead complete with a read-only copy of a server buffer holding the
 *   data (buf->state BULK_BUFFER_READ_ONLY; writing it faults): the
 *   request's own buffer then went back to the pool, and the copy goes
 *   back to the server with bulk_bs_client_buffer_put().
 */
typedef void (*bulk_bs_done_fn)(void *arg, int status, struct bulk_buffer *buf);

/** One request for bulk_bs_client_submit(). */
struct bulk_bs_io {
	uint16_t op;       /**< enum bulk_bs_op */
	uint16_t flags;    /**< BULK_BS_CMD_* */
	uint32_t length;   /**< bytes (FLUSH: 0) */
	uint64_t offset;   /**< bytes (FLUSH: 0) */
	/** READ, WRITE: a buffer from bulk_bs_client_buffer_get(), or of a
	 * pool added with bulk_bs_client_pool_add() (WRITE: the data in its
	 * first length bytes); other ops: NULL (the library uses a free buffer
	 * of its own to carry the request) or such a buffer. */
	struct bulk_buffer *buf;
	bulk_bs_done_fn done; /**< may be NULL */
	void *arg;
	uint64_t id;       /**< out: the request id on the wire */
};

/**
 * Submit requests. They are checked here against the export, as the
 * server will check them, and sent in one burst; each completes once
 * through its done callback.
 * All-or-nothing: a request refused here leaves nothing submitted.
 * Checks, in order: the client, then each request in turn:
 * @return n;
 *   -EINVAL (NULL argument or n 0; the client is not set up);
 *   -ECONNRESET (the connection is gone); -ESHUTDOWN (the server is
 *   shutting down, or the client is closing);
 *   per request, the export's rules: -EINVAL (unknown op or flags, TRIM or
 *   WRITE_ZEROES not advertised, FUA on a READ, offset or length not a
 *   multiple of block_min, length 0, a FLUSH with a range, a READ or
 *   WRITE without a buffer); -EPERM (a write to a read-only export);
 *   -ENOTSUP (FUA not advertised); -EOVERFLOW (longer than block_max or
 *   the buffer size); -ENOSPC (the range ends past the export, or
 *   offset + length overflows);
 *   then its buffer: -EINVAL (a buffer of a pool that is neither the
 *   client's nor added, or the same buffer twice in this call); the
 *   server's refusal of the buffer's added pool (bulk_bs_pool_fn);
 *   -BULK_E_NOT_OWNER (in flight, or not READ_WRITE here);
 *   then -ENOBUFS (no free buffer to carry the requests submitted
 *   without one).
 * A buffer still in the pool's free list (not taken with
 * bulk_bs_client_buffer_get()) fails at the next poll with
 * -BULK_E_BUFFER_FREE through its done callback.
 */
int bulk_bs_client_submit(struct bulk_bs_client *c, struct bulk_bs_io *ios, unsigned n);

/**
 * Completion of bulk_bs_client_pool_add(), called inside
 * bulk_bs_client_poll() (or bulk_bs_client_close()).
 * @param status  0 (every data channel's peer accepted the pool), or why
 *   not: the server's veto (-BULK_E_VETOED, -BULK_E_POOL_LIMIT,
 *   -BULK_E_POOL_FORGED, ...; see bulk_channel_assign_pool()) or
 *   -ECONNRESET (the connection went first).
 */
typedef void (*bulk_bs_pool_fn)(void *arg, int status, struct bulk_pool *pool);

/**
 * Add a pool of this domain to the client: assign it on every data channel
 * (two-phase: the server may refuse it), so that requests may travel in
 * its buffers. For a program in the middle of a chain (nbs-proxy): a
 * view of a pool its own client assigned to it is assigned on, and the
 * requests that arrive in its buffers are submitted in those very
 * buffers. Requests submitted in buffers of the pool before the server
 * answered wait in the client and go once it accepted; if it refused,
 * they fail with its reason. The pool stays added until the client is
 * closed (and must not be freed before).
 * @return 0 (@p done fires later, once); -EINVAL (NULL client or pool, the
 *   client not set up, a pool of another domain); -EEXIST (added already,
 *   or the client's own pool); -ECONNRESET (the connection is gone);
 *   -ESHUTDOWN (the server is shutting down, or the client is closing);
 *   -ENOSPC (BULK_CHANNEL_MAX_POOLS pools); -ENOMEM; what
 *   bulk_channel_assign_pool() returns (-BULK_E_TRUST_MISMATCH, ...).
 */
int bulk_bs_client_pool_add(struct bulk_bs_client *c, struct bulk_pool *pool, bulk_bs_pool_fn done,
			    void *arg);

/**
 * The client's data channel @p k (0 .. channels - 1), for what only the
 * channel's backend can tell (bulk_dpdk_chan_stats_get()). Owned by the
 * client: do not operate on it.
 * @return the channel, or NULL (no such channel, or it is freed).
 */
struct bulk_channel *bulk_bs_client_channel(const struct bulk_bs_client *c, unsigned k);

/**
 * Prepare to sleep outside the client, for an application that drives the
 * client from a loop of its own (several clients, a client and a server):
 * arm the data channels for a wakeup (bulk_channel_arm()) and lower
 * @p timeout_ms to what channels without an fd allow (1 ms: they must be
 * polled). Sleep on the fds of bulk_bs_client_fds(), then poll.
 * @return 0 (armed); 1 (work is pending: do not sleep); -EINVAL.
 */
int bulk_bs_client_arm(struct bulk_bs_client *c, int *timeout_ms);

/**
 * The fds a sleeping application waits on for this client: the data
 * channels' fds (bulk_channel_fd(); a dpdk channel has none). They stay
 * valid until bulk_bs_client_close(). The control socket is not one of
 * them: it only carries the server's goodbye, which bulk_bs_client_poll()
 * looks for once a millisecond (a sleep of the application's may delay
 * it by its timeout).
 * @return how many were written (at most @p max); -EINVAL.
 */
int bulk_bs_client_fds(const struct bulk_bs_client *c, int *fds, unsigned max);

/**
 * As bulk_bs_client_submit(), checking only what the client itself needs
 * (buffers, ownership), not the export's rules: for tests of a server's
 * validation. @return as bulk_bs_client_submit().
 */
int bulk_bs_client_submit_raw(struct bulk_bs_client *c, struct bulk_bs_io *ios, unsigned n);

/**
 * Make progress: send what waits, receive completions (running their done
 * callbacks), look at the control connection. When nothing was to do and
 * the poll mode is adaptive, sleep on the fds for at most @p timeout_ms
 * once the client has been idle a little while.
 * A client told of a server shutdown says goodbye by itself here once
 * nothing is in flight.
 * @return the number of completions and messages handled (>= 0);
 *   -ECONNRESET once the connection is gone and nothing is in flight;
 *   -ESHUTDOWN once it said goodbye after a server shutdown and nothing
 *   is in flight (close it); -EINVAL (NULL, or inside
 *   bulk_bs_client_close()).
 */
int bulk_bs_client_poll(struct bulk_bs_client *c, int timeout_ms);

/** @return requests submitted and not completed yet. */
unsigned bulk_bs_client_inflight(const struct bulk_bs_client *c);

/**
 * Copy the client's counters.
 * @return 0; -EINVAL.
 */
int bulk_bs_client_stats_get(const struct bulk_bs_client *c, struct bulk_bs_stats *st);

/**
 * Orderly close, then free: wait (polling) until nothing is in flight,
 * say goodbye, tear the channels down, free them and the pool. Requests
 * still in flight when timeout_ms runs out fail with -ECONNRESET.
 * The client is freed whatever is returned; buffers the caller still
 * holds go with the pool.
 * @return 0; -ETIMEDOUT (something had to be given up); -EINVAL (NULL);
 *   -ECONNRESET (the server was already gone: nothing was lost on our
 *   side).
 */
int bulk_bs_client_close(struct bulk_bs_client *c);

/* ================================================================ server */

struct bulk_bs_server;
/** One client of a server, from its hello to the release of all it held. */
struct bulk_bs_conn;

/**
 * A valid request handed to the application. The application does it
 * and calls bulk_bs_request_complete(), now or later, in any order.
 */
struct bulk_bs_request {
	uint64_t id;        /**< the client's request id */
	uint64_t offset;
	uint32_t length;
	uint16_t op;        /**< enum bulk_bs_op */
	uint16_t flags;     /**< BULK_BS_CMD_* */
	/** WRITE: the data (length bytes); READ: where to put length bytes;
	 * otherwise NULL. Valid until the request is completed. */
	void *data;
	/** The buffer that carries the request (data is its address for READ
	 * and WRITE): the server's until completed. A program that forwards
	 * the request (nbs-proxy) submits it upstream in this very buffer. */
	struct bulk_buffer *buf;
	struct bulk_bs_conn *conn; /**< the client */
	void *user;         /**< free for the application */
};

/** What the server asks of the application. */
struct bulk_bs_server_ops {
	/** A valid request; required. */
	void (*request)(void *arg, struct bulk_bs_request *req);
	/** A client finished its handshake; return < 0 to turn it away. May be NULL. */
	int (*conn_open)(void *arg, struct bulk_bs_conn *conn);
	/**
	 * A client is gone and all it held is released (reason 0: it said
	 * goodbye, or the server shut down; else why). Its counters are
	 * final: read them here (bulk_bs_conn_stats_get()). May be NULL.
	 */
	void (*conn_close)(void *arg, struct bulk_bs_conn *conn, int reason);
	/**
	 * A client assigned @p pool on one of its data channels (the server's
	 * own checks passed). Return < 0 to refuse it (the client's pool
	 * assignment fails with that reason). The answer is given now: an
	 * application that needs a slower judgement (a proxy asking its own
	 * upstream) accepts here and holds the requests on the pool until it
	 * knows. May be NULL.
	 */
	int (*pool_assigned)(void *arg, struct bulk_bs_conn *conn, struct bulk_pool *pool);
	/**
	 * A client is going (reason as for conn_close) and the application
	 * holds none of its requests any more; the server is about to free
	 * its pools. Let go of whatever else the application did with them
	 * (a proxy closes its upstream session, where it assigned them).
	 * Return 0 when done, 1 to be asked again at the next poll. Its
	 * channels still exist here (bulk_bs_conn_channel()). May be NULL.
	 */
	int (*conn_closing)(void *arg, struct bulk_bs_conn *conn, int reason);
};

/** Server parameters; zero means default. */
struct bulk_bs_server_params {
	struct bulk_domain *dom;       /**< the domain the server lives in (required) */
	const struct bulk_bs_server_ops *ops; /**< required */
	void *arg;                     /**< passed to the ops */
	const char *export_name;       /**< NULL or "": the one export answers any name */
	struct bulk_bs_info info;      /**< size and block_min required; see below */
	enum bulk_bs_poll_mode poll;
	uint32_t max_conns;            /**< clients at once; 0: 64 */
	uint32_t handshake_timeout_ms; /**< hello to bound channels; 0: 10000 */
	/** Accept control connections of other uids on unix sockets. */
	int allow_any_uid;
	int (*poll_hook)(void *arg);   /**< called in every poll round; may be NULL */
	void *poll_hook_arg;
	/**
	 * Called when an adaptive poll is about to sleep, its own channels
	 * armed: may lower *timeout_ms, or return nonzero to stay awake (work
	 * is pending). For an application with channels of its own (a proxy's
	 * upstream clients: bulk_bs_client_arm(), their fds watched with
	 * bulk_bs_server_watch_fd()). May be NULL; gets poll_hook_arg.
	 */
	int (*sleep_hook)(void *arg, int *timeout_ms);
	/**
	 * An adaptive poll spins (yielding the CPU) for 50 us after its last
	 * work before it sleeps, but only while it has a client with channels:
	 * those are polled, sockets wake it through epoll. Called in each idle
	 * round when it has none: return nonzero to spin all the same, because
	 * the application expects work within microseconds (channels of its
	 * own, a transfer under way, a socket peer waiting on it). May be NULL
	 * (sleep at once); gets poll_hook_arg.
	 */
	int (*spin_hook)(void *arg);
	/**
	 * Offer a copy channel to clients that ask (docs/blockservice.md,
	 * section 10): the application may then complete their READs with
	 * read-only copies of buffers of its own (bulk_bs_request_complete_copy()).
	 */
	int copies;
};
/*
 * info: block_pref 0 means block_min; block_max 0 means 1 MiB (at least
 * block_min); max_buffers 0 means 4096 (the server maps at most this many
 * buffers of one client).
 */

/**
 * Create a server (it listens nowhere yet).
 * @return 0; -EINVAL (NULL, no request op, size 0, block_min not a power
 *   of two, block_pref or block_max not a multiple of it, unknown flags,
 *   an export name longer than BULK_BS_EXPORT_NAME_MAX); -ENOMEM; errno of
 *   epoll_create1().
 */
int bulk_bs_server_create(const struct bulk_bs_server_params *p, struct bulk_bs_server **out);

/**
 * Listen for control connections at @p addr: unix:PATH (a stale socket
 * file is replaced; the file is removed by bulk_bs_server_free()),
 * unix:@NAME (abstract) or tcp:HOST:PORT (HOST an address or a name;
 * [::1] for IPv6; PORT 0 picks one: see bulk_bs_server_listen_addr()).
 * @return the listener's index (>= 0); -EINVAL (not one of those forms);
 *   -ENAMETOOLONG; -EADDRINUSE (a live server listens there);
 *   -ENOSPC (8 listeners already); -EAI_* mapped to -EHOSTUNREACH; errno of
 *   socket/bind/listen.
 */
int bulk_bs_server_listen(struct bulk_bs_server *s, const char *addr);

/**
 * The address listener @p index listens at, with the port filled in.
 * @return its length; -EINVAL; -ENOSPC (@p len too small).
 */
int bulk_bs_server_listen_addr(const struct bulk_bs_server *s, int index, char *buf, size_t len);

/**
 * Make progress: accept, read control messages, bind, receive requests
 * (running the request callback), send completions back, release what
 * departed clients held. When nothing was to do and the poll mode is
 * adaptive, sleep on the fds for at most @p timeout_ms once the server has
 * been idle a little while.
 * @return work items handled (>= 0); -EINVAL.
 */
int bulk_bs_server_poll(struct bulk_bs_server *s, int timeout_ms);

/**
 * Also wake from an idle sleep when @p fd becomes readable (edge
 * triggered: the caller drains it), e.g. a store's completion eventfd.
 * @return 0; -EINVAL; errno of epoll_ctl().
 */
int bulk_bs_server_watch_fd(struct bulk_bs_server *s, int fd);

/**
 * Stop watching @p fd (bulk_bs_server_watch_fd()), before it is closed.
 * @return 0; -EINVAL; errno of epoll_ctl().
 */
int bulk_bs_server_unwatch_fd(struct bulk_bs_server *s, int fd);

/**
 * Complete a request handed out by the request callback. The buffer goes
 * back to the client with @p status (and, for a READ that succeeded, the
 * data) at the next poll. For a client that went away meanwhile, the
 * request is only released.
 * @param status  0 or a negative errno (-EIO, -ENOSPC, ...; errnos the
 *   wire has no code for travel as -EIO)
 * @return 0; -EINVAL (NULL, or not a request handed out and not completed).
 */
int bulk_bs_request_complete(struct bulk_bs_request *req, int status);

/**
 * Complete a READ with a read-only copy of @p buf, a buffer of a pool the
 * application owns and assigned on the client's copy channel
 * (bulk_bs_conn_copy_pool_add()), holding the data in its first length
 * bytes: the copy goes to the client now, the request's own buffer back
 * with status 0 and no payload at the next poll. No byte is copied. The
 * buffer stays BULK_BUFFER_RO_OWNED (read-only) until the client released
 * it; the application must not write it before its state (buf->state) is
 * BULK_BUFFER_READ_WRITE again, and must not free its pool while copies are out.
 * On failure nothing happened: complete the request another way.
 * @return 0; -EINVAL (NULL, not a READ handed out and not completed);
 *   -ENOTSUP (the client has no copy channel, or did not allow a copy for
 *   this request); -EAGAIN (the copy channel's queue is full);
 *   bulk_channel_copy()'s errors (-BULK_E_POOL_NOT_ASSIGNED: the pool was
 *   not accepted (yet); -BULK_E_COPY_EXISTS: this client holds a copy of
 *   the buffer already; -BULK_E_NO_ACCESS, ...).
 */
int bulk_bs_request_complete_copy(struct bulk_bs_request *req, struct bulk_buffer *buf);

/** @return 1 if the client of @p c has a copy channel, else 0. */
int bulk_bs_conn_copies(const struct bulk_bs_conn *c);

/**
 * Assign @p pool (the server's, memfd memory of page-multiple buffers) on
 * the copy channel of @p c, two-phase: copies of its buffers go once the
 * client accepted it. A pool can be on at most BULK_POOL_MAX_CHANNELS
 * channels at once.
 * @return 0; -EINVAL; -ENOTSUP (no copy channel); what
 *   bulk_channel_assign_pool() returns (-ENOSPC, -BULK_E_TRUST_MISMATCH, ...).
 */
int bulk_bs_conn_copy_pool_add(struct bulk_bs_conn *c, struct bulk_pool *pool);

/**
 * Shut down: stop listening, tell every client, fail requests that arrive
 * from now on with -ESHUTDOWN, and, once the application completed what it
 * holds, pass everything back and close each connection.
 * Poll until bulk_bs_server_conns() is 0.
 * @return 0; -EINVAL.
 */
int bulk_bs_server_shutdown(struct bulk_bs_server *s);

/** @return clients connected or still being released. */
unsigned bulk_bs_server_conns(const struct bulk_bs_server *s);

/** Server-wide counters. */
struct bulk_bs_server_stats {
	uint64_t accepted;      /**< control connections accepted */
	uint64_t refused;       /**< turned away: too many, wrong uid, bad hello */
	uint64_t served;        /**< clients that reached the serving state */
	uint64_t closed;        /**< clients released */
	uint64_t died;          /**< of which were served and ended without a goodbye */
	uint64_t protocol_errors; /**< bad control messages (connection closed) */
	uint64_t pools_dropped; /**< pool views of dead clients freed with buffers held */
	uint64_t pools_leaked;  /**< pool views that could not be freed (see docs) */
	uint64_t requests_live; /**< requests handed out and not completed */
};

/** Copy the server's counters. @return 0; -EINVAL. */
int bulk_bs_server_stats_get(const struct bulk_bs_server *s, struct bulk_bs_server_stats *st);

/**
 * Free the server: close listeners (removing unix socket files).
 * @return 0; -EINVAL; -EBUSY (clients remain: shut down and poll first).
 */
int bulk_bs_server_free(struct bulk_bs_server *s);

/** @return the connection's number (1, 2, ... in accept order). */
uint64_t bulk_bs_conn_id(const struct bulk_bs_conn *c);

/** @return a name for the peer, without blanks: "unix:PATH#N" or "tcp:A.B.C.D:PORT", then ",export=NAME" once it said hello. */
const char *bulk_bs_conn_peer(const struct bulk_bs_conn *c);

/**
 * Copy a connection's counters (channel counters are those of the last
 * read: live while the channels exist, final once they are freed).
 * @return 0; -EINVAL.
 */
int bulk_bs_conn_stats_get(const struct bulk_bs_conn *c, struct bulk_bs_stats *st);

/**
 * Turn a client away: send it an ERROR with @p err and @p why (at most 255
 * printable bytes) and end its connection, as after a bad message: what
 * the application holds of it completes as usual, then everything it held
 * is released (conn_closing, conn_close). For a proxy that lost its
 * upstream for good. Once ended, nothing more happens.
 * @return 0; -EINVAL (NULL, @p err not negative).
 */
int bulk_bs_conn_abort(struct bulk_bs_conn *c, int err, const char *why);

/**
 * The connection's data channel @p k, for what only the channel's backend
 * can tell (bulk_dpdk_chan_stats_get()). Owned by the server: do not
 * operate on it.
 * @return the channel, or NULL (no such channel, or it is freed).
 */
struct bulk_channel *bulk_bs_conn_channel(const struct bulk_bs_conn *c, unsigned k);

/** Set and get the application's pointer of a connection. */
void bulk_bs_conn_set_user(struct bulk_bs_conn *c, void *user);
/** @return the pointer set with bulk_bs_conn_set_user(), or NULL. */
void *bulk_bs_conn_user(const struct bulk_bs_conn *c);

#ifdef __cplusplus
}
#endif

#endif /* BULK_BS_H */
