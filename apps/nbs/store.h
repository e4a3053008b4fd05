/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file store.h
 * nbs's block store: one ops table, two kinds.
 *
 * - `memory:SIZE` (SIZE in bytes, with an optional K, M, G or T suffix,
 *   powers of 1024): the blocks live in a bulk pool of memfd memory, one
 *   pool buffer per block, so that they could later be handed to shm
 *   clients as read-only copies. Never-written blocks take no memory.
 * - `file:PATH`: a regular file or a block device, through io_uring
 *   (liburing) where the kernel allows it, else pread/pwrite.
 *
 * Requests are asynchronous and may complete out of order. The caller owns
 * each struct nbs_store_req: fill it, nbs_store_submit() it, and its `done`
 * callback runs exactly once, from inside nbs_store_poll() (or
 * nbs_store_drain() / nbs_store_close()), with 0 or a negative errno. A
 * submit that fails returns the error and never calls back. Requests
 * submitted are started at the latest by the next nbs_store_poll() or
 * nbs_store_arm(), so that a burst of submits costs one system call.
 *
 * Event loops: poll while it returns work; before sleeping call
 * nbs_store_arm() (1: work is ready, do not sleep) and sleep on
 * nbs_store_fd() if the store has one (-ENOTSUP: every completion is ready
 * at the next poll and arm says so, nothing to wait for).
 *
 * Not thread-safe: one store is used from one thread.
 */
#ifndef NBS_STORE_H
#define NBS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bulk_domain;
struct bulk_pool;

/** Request operations. */
enum nbs_store_op {
	NBS_STORE_OP_READ = 0,     /**< store -> buf */
	NBS_STORE_OP_WRITE,        /**< buf -> store */
	NBS_STORE_OP_FLUSH,        /**< make every completed write durable (offset, len 0) */
	NBS_STORE_OP_TRIM,         /**< the range may be discarded; reads give zeros */
	NBS_STORE_OP_WRITE_ZEROES, /**< the range reads as zeros */
	NBS_STORE_OP_COUNT
};

/** Request flags (struct nbs_store_req::flags). */
#define NBS_STORE_REQ_FUA	(1u << 0) /**< durable before completion (any op; used by writes) */
#define NBS_STORE_REQ_NO_HOLE	(1u << 1) /**< WRITE_ZEROES: allocate, never punch */
#define NBS_STORE_REQ_FAST_ZERO (1u << 2) /**< WRITE_ZEROES: fail with -EOPNOTSUPP if slow */
/** Every request flag. */
#define NBS_STORE_REQ_MASK \
	(NBS_STORE_REQ_FUA | NBS_STORE_REQ_NO_HOLE | NBS_STORE_REQ_FAST_ZERO)

/** Store capability flags (struct nbs_store::flags), as NBD advertises them. */
#define NBS_STORE_FLAG_READ_ONLY (1u << 0) /**< writes, trims and zeroes fail with -EPERM */
#define NBS_STORE_FLAG_FLUSH	 (1u << 1) /**< FLUSH does something */
#define NBS_STORE_FLAG_FUA	 (1u << 2) /**< NBS_STORE_REQ_FUA honoured */
#define NBS_STORE_FLAG_TRIM	 (1u << 3) /**< TRIM accepted */
#define NBS_STORE_FLAG_ZERO	 (1u << 4) /**< WRITE_ZEROES accepted */
#define NBS_STORE_FLAG_FAST_ZERO (1u << 5) /**< NBS_STORE_REQ_FAST_ZERO accepted */

/** Default block size (memory: the pool's buffer size). */
#define NBS_STORE_DEFAULT_BLOCK_SIZE 4096u
/** Smallest and largest block size. */
#define NBS_STORE_MIN_BLOCK_SIZE 512u
#define NBS_STORE_MAX_BLOCK_SIZE (64u << 20)
/** Default io_uring submission queue entries of a file store. */
#define NBS_STORE_DEFAULT_QUEUE_DEPTH 256u
/** Default and largest number of callbacks one nbs_store_poll() runs. */
#define NBS_STORE_DEFAULT_POLL 64u
/** Largest READ or WRITE (one io_uring read is at most an int's worth). */
#define NBS_STORE_MAX_IO (1u << 30)
/** Environment variable that forces the pread/pwrite path when set to 1. */
#define NBS_STORE_ENV_NO_URING "NBS_STORE_NO_URING"

struct nbs_store;
struct nbs_store_req;

/**
 * Completion callback: runs once per submitted request, inside
 * nbs_store_poll() (or drain/close). It may submit requests (this one
 * again too) and free @p req; it may not poll, drain or close the store.
 * @param status  0, or a negative errno (-EIO, -ENOSPC, -EOPNOTSUPP for a
 *                FAST_ZERO that can not be fast, ...)
 */
typedef void (*nbs_store_done_fn)(struct nbs_store_req *req, int status);

/**
 * One request, owned by the caller and untouched by it from submit until
 * its callback runs. Fill the fields above `priv`; `priv` is the store's.
 */
struct nbs_store_req {
	uint8_t op;             /**< enum nbs_store_op */
	uint8_t rsvd;           /**< 0 */
	uint16_t flags;         /**< NBS_STORE_REQ_* */
	uint32_t rsvd2;         /**< 0 */
	uint64_t offset;        /**< byte offset in the store */
	uint64_t len;           /**< bytes (READ/WRITE at most NBS_STORE_MAX_IO) */
	void *buf;              /**< READ: destination, WRITE: source; else unused */
	nbs_store_done_fn done; /**< required */
	void *user;             /**< free for the caller */
	/** The store's own bookkeeping while in flight: neither read nor write. */
	struct {
		struct nbs_store_req *next;
		uint64_t progress;
		int32_t status;
		uint16_t stage;
		uint16_t rsvd;
	} priv;
};

/** Fill a request (priv is cleared by submit). */
static inline void
nbs_store_req_init(struct nbs_store_req *req, enum nbs_store_op op, unsigned flags,
		   uint64_t offset, uint64_t len, void *buf, nbs_store_done_fn done, void *user)
{
	req->op = (uint8_t)op;
	req->rsvd = 0;
	req->flags = (uint16_t)flags;
	req->rsvd2 = 0;
	req->offset = offset;
	req->len = len;
	req->buf = buf;
	req->done = done;
	req->user = user;
}

/** Open parameters; zero means default. */
struct nbs_store_params {
	/**
	 * memory: the pool's buffer size, a power of two in
	 * [NBS_STORE_MIN_BLOCK_SIZE, NBS_STORE_MAX_BLOCK_SIZE]; file: the
	 * preferred block size advertised (same range). 0: 4096.
	 */
	uint32_t block_size;
	/** file: io_uring submission entries (power of two, <= 4096). 0: 256. */
	uint32_t queue_depth;
	/** Open read-only (file: O_RDONLY); writes, trims, zeroes get -EPERM. */
	bool read_only;
	/** file: use pread/pwrite even where io_uring works (as NBS_STORE_NO_URING=1). */
	bool no_uring;
	/**
	 * file: behave as on a file system without fallocate (TRIM does
	 * nothing, WRITE_ZEROES writes zeros, FAST_ZERO fails): for tests.
	 */
	bool no_fallocate;
	/** memory: the domain the pool belongs to (the server's); NULL: a private one. */
	struct bulk_domain *domain;
	/** If not NULL, receives a one-line reason when open fails. */
	char *err;
	size_t err_len;
};

/** Counters; bytes are payload bytes of successful requests. */
struct nbs_store_stats {
	uint64_t ops[NBS_STORE_OP_COUNT]; /**< requests accepted by submit, per op */
	uint64_t errors;                  /**< completions with a negative status */
	uint64_t bytes_read;              /**< payload of completed reads */
	uint64_t bytes_written;           /**< payload of completed writes */
	/**
	 * Payload bytes copied between the store and request buffers: the
	 * memory store's memcpy, the file store's page-cache copy made by the
	 * kernel (buffered I/O). At most one copy per byte of a request.
	 */
	uint64_t bytes_copied;
	/** Bytes set to zero with memset (reads of never-written blocks, zeroes). */
	uint64_t bytes_zeroed;
	uint64_t inflight_max;            /**< most requests in flight at once */
};

/** One run of a store's bytes, as nbs_store_extents() reports it. */
struct nbs_store_extent {
	uint64_t length; /**< bytes, > 0 */
	bool hole;       /**< reads as zeros and takes no space */
};

/** Open a store of the kind the spec string's prefix names. */
typedef int (*nbs_store_open_fn)(const char *arg, const struct nbs_store_params *params,
				 struct nbs_store **out);
/** Free everything; nothing is in flight (the front end drained it). */
typedef int (*nbs_store_close_fn)(struct nbs_store *s);
/** Start one checked request; 0 once a completion is arranged, else nothing was done. */
typedef int (*nbs_store_io_fn)(struct nbs_store *s, struct nbs_store_req *req);
/** Run up to @p max callbacks of asynchronous completions. */
typedef int (*nbs_store_poll_fn)(struct nbs_store *s, unsigned max);
/** The fd that becomes readable on completions. */
typedef int (*nbs_store_fd_fn)(struct nbs_store *s);
/** Start what is queued and prepare the fd for sleeping; 1 if work is ready. */
typedef int (*nbs_store_arm_fn)(struct nbs_store *s);
/** Block until at least one asynchronous completion is ready. */
typedef int (*nbs_store_wait_fn)(struct nbs_store *s);
/** Point iovecs at the bytes of a READ; see nbs_store_read_map(). */
typedef int (*nbs_store_map_fn)(struct nbs_store *s, uint64_t offset, uint64_t len,
				struct iovec *iov, unsigned max);
/** Point iovecs at where a WRITE's bytes go; see nbs_store_write_map(). */
typedef int (*nbs_store_wmap_fn)(struct nbs_store *s, uint64_t offset, uint64_t len,
				 struct iovec *iov, unsigned max);
/** The bytes of a mapped WRITE are in place; see nbs_store_write_mapped(). */
typedef void (*nbs_store_wdone_fn)(struct nbs_store *s, uint64_t offset, uint64_t len);
/** Describe [offset, offset + len) as runs of data and holes; see nbs_store_extents(). */
typedef int (*nbs_store_extents_fn)(struct nbs_store *s, uint64_t offset, uint64_t len,
				    struct nbs_store_extent *ext, unsigned max);

/**
 * A store kind. The front end (store.c) checks every request with
 * nbs_store_check() and then calls the op; a NULL io op is refused with
 * -EOPNOTSUPP; a kind whose ops all complete at submit leaves poll, fd,
 * arm and wait NULL.
 */
struct nbs_store_ops {
	const char *name; /**< spec prefix: "memory", "file" */
	nbs_store_open_fn open;
	nbs_store_close_fn close;
	nbs_store_io_fn read;
	nbs_store_io_fn write;
	nbs_store_io_fn flush;
	nbs_store_io_fn trim;
	nbs_store_io_fn write_zeroes;
	nbs_store_poll_fn poll;
	nbs_store_fd_fn fd;
	nbs_store_arm_fn arm;
	nbs_store_wait_fn wait;
	nbs_store_extents_fn extents; /**< NULL: everything is data */
	nbs_store_map_fn map;         /**< NULL: reads are copied (nbs_store_read_map() says -ENOTSUP) */
	nbs_store_wmap_fn wmap;       /**< NULL: writes are copied (nbs_store_write_map() says -ENOTSUP) */
	nbs_store_wdone_fn wdone;     /**< with wmap */
};

/**
 * A store. Users read the fields above `core` and never write them; a
 * kind embeds this struct first in its own.
 */
struct nbs_store {
	const struct nbs_store_ops *ops;
	uint64_t size;           /**< bytes */
	uint32_t block_size;     /**< preferred request alignment and size */
	uint32_t min_block_size; /**< smallest alignment served (1: any) */
	uint32_t max_io;         /**< largest READ/WRITE length */
	uint32_t flags;          /**< NBS_STORE_FLAG_* */
	struct nbs_store_stats stats;
	/** The front end's own. */
	struct {
		struct nbs_store_req *ready;       /**< completions for the next poll */
		struct nbs_store_req **ready_tail;
		uint64_t inflight;                 /**< submitted, callback not yet run */
		bool in_poll;
	} core;
};

/**
 * Open a store.
 * @param spec    `memory:SIZE` or `file:PATH`
 * @param params  NULL or options (zero means default)
 * @param out     receives the store
 * @return 0;
 *   -EINVAL (NULL spec or out, unknown kind, bad SIZE or block size, a path
 *   that is neither a regular file nor a block device);
 *   -ERANGE (memory: SIZE needs more than BULK_POOL_MAX_BUFFERS blocks or
 *   2^47 bytes: use a larger block size);
 *   -ENOMEM; other negative errno from open, fstat, ioctl, memfd or mmap.
 *   The file store falls back to pread/pwrite when io_uring can not be set
 *   up (and says so on stderr once per process); that is not an error.
 */
int nbs_store_open(const char *spec, const struct nbs_store_params *params,
		   struct nbs_store **out);

/**
 * Finish what is in flight (callbacks run with their status), then free
 * the store. The memory store's pool is freed with it.
 * @return 0; -EINVAL (NULL); -EBUSY (called from a callback);
 *   a negative code from freeing the pool or domain (the store is freed
 *   all the same, the pool is then left to its domain).
 */
int nbs_store_close(struct nbs_store *s);

/**
 * Check a request against the store: the one place where ranges, flags and
 * capabilities are judged, for the native service and an NBD front end
 * alike. Checked in this order:
 * @return 0;
 *   -EINVAL (NULL store, unknown op, unknown flag bits, NO_HOLE or FAST_ZERO
 *   on an op other than WRITE_ZEROES);
 *   -EPERM (WRITE, TRIM or WRITE_ZEROES on a read-only store);
 *   -EOPNOTSUPP (FLUSH, TRIM, WRITE_ZEROES, FUA or FAST_ZERO the store does
 *   not advertise);
 *   -EINVAL (FLUSH with an offset or length that is not 0; other ops with
 *   length 0);
 *   -EOVERFLOW (READ or WRITE longer than max_io);
 *   -EINVAL (offset + len overflows 64 bits);
 *   -ENOSPC (WRITE or WRITE_ZEROES past the end, as NBD answers);
 *   -EINVAL (READ or TRIM past the end).
 */
int nbs_store_check(const struct nbs_store *s, unsigned op, unsigned flags, uint64_t offset,
		    uint64_t len);

/**
 * Submit one request: checked with nbs_store_check(), then started (or
 * queued to start at the next poll). Its callback runs later, never inside
 * this call.
 * @return 0; -EINVAL (NULL store, request or callback; READ or WRITE with a
 *   NULL buffer); every error of nbs_store_check().
 */
int nbs_store_submit(struct nbs_store *s, struct nbs_store_req *req);

/**
 * Start what is queued and run the callbacks of up to @p max completed
 * requests, in the order they completed (which need not be the order of
 * submission).
 * @param max  0: NBS_STORE_DEFAULT_POLL
 * @return callbacks run (>= 0); -EINVAL (NULL); -EBUSY (called from a callback).
 */
int nbs_store_poll(struct nbs_store *s, unsigned max);

/**
 * Poll, blocking, until every submitted request has called back.
 * @return callbacks run (>= 0); -EINVAL; -EBUSY (called from a callback);
 *   a negative errno if waiting on io_uring fails.
 */
int nbs_store_drain(struct nbs_store *s);

/**
 * The fd that becomes readable when an asynchronous completion is ready
 * (the io_uring's registered eventfd), for epoll users; only meaningful
 * after nbs_store_arm() said 0.
 * @return the fd (owned by the store); -EINVAL; -ENOTSUP (the store
 *   completes everything at submit: memory, or the pread fallback).
 */
int nbs_store_fd(struct nbs_store *s);

/**
 * Before sleeping: start what is queued and drain the fd.
 * @return 1 if completions are ready (poll, do not sleep); 0 if sleeping
 *   on nbs_store_fd() (or, without one, not waiting for the store at all)
 *   is safe; -EINVAL; a negative errno from io_uring_submit.
 */
int nbs_store_arm(struct nbs_store *s);

/** @return requests submitted whose callback has not run yet (0 for NULL). */
uint64_t nbs_store_inflight(const struct nbs_store *s);

/**
 * Which bytes of a range hold data and which are holes (never written,
 * trimmed or zeroed with a hole: they read as zeros): what NBD's
 * BLOCK_STATUS (base:allocation) and sparse reads (OFFSET_HOLE) report.
 * Synchronous: a bitmap for memory, SEEK_DATA / SEEK_HOLE for files; a
 * store that cannot tell reports data. A hole is never reported where
 * there may be data; data may be reported for zeros.
 * @param offset,len  the range; must lie inside the store, len > 0
 * @param ext         receives the runs, in order from @p offset
 * @param max         room in @p ext (> 0); the runs stop at @p max even
 *                    if they do not reach offset + len
 * @return the number of runs (1..max), which together cover a prefix of
 *   the range (the whole range unless @p max was reached);
 *   -EINVAL (NULL store or ext, max or len 0, the range past the end or
 *   overflowing).
 */
int nbs_store_extents(struct nbs_store *s, uint64_t offset, uint64_t len,
		      struct nbs_store_extent *ext, unsigned max);

/**
 * A READ without a copy: @p iov is pointed at the store's own memory for
 * the range (data where it was written, a read-only zero mapping for
 * holes), for a caller that sends it from there (NBD's sendmsg), instead
 * of nbs_store_submit() copying it into a buffer first. Counted as a READ
 * of @p len bytes that copied nothing. The pointers stay valid while the
 * store is open; their bytes are the store's current contents, so a WRITE
 * or TRIM to the range that completes before they are read is seen (for
 * NBD that is only a request in flight at the same time, whose result the
 * protocol leaves undefined).
 * @return the iovecs filled (1..max); -EINVAL (NULL, len 0, a bad range,
 *   as nbs_store_check() judges a READ); -ENOTSUP (the store cannot: the
 *   file store); -ENOBUFS (more than @p max pieces: use a READ).
 */
int nbs_store_read_map(struct nbs_store *s, uint64_t offset, uint64_t len, struct iovec *iov,
		       unsigned max);

/**
 * A WRITE without a copy by the store: @p iov is pointed at the store's
 * own memory for the range, for a caller that receives the payload there
 * (NBD's recvmsg), then calls nbs_store_write_mapped() once it is all in.
 * Until then the range reads as before where it was a hole, and may read
 * partly new where it held data; a WRITE that never completes (its client
 * gone mid-payload) leaves the range undefined, as a disk's interrupted
 * write does. Only for a front end whose protocol leaves overlapping
 * requests in flight undefined (NBD).
 * @return the iovecs filled (1..max); -EINVAL, -EPERM, -ENOSPC as
 *   nbs_store_check() judges a WRITE; -ENOTSUP (the store cannot: the
 *   file store); -ENOBUFS (more than @p max pieces).
 */
int nbs_store_write_map(struct nbs_store *s, uint64_t offset, uint64_t len, struct iovec *iov,
			unsigned max);

/**
 * The payload of a WRITE mapped with nbs_store_write_map() is in place:
 * the range now reads as written. Counted as a WRITE of @p len bytes that
 * the store copied nothing for. Memory is as durable as it gets: FUA and
 * FLUSH have nothing to add.
 */
void nbs_store_write_mapped(struct nbs_store *s, uint64_t offset, uint64_t len);

/** Copy the counters into @p st. @return 0; -EINVAL. */
int nbs_store_stats_get(const struct nbs_store *s, struct nbs_store_stats *st);

/**
 * The memory store's pool (one buffer per block, buffer i holding bytes
 * [i * block_size, (i + 1) * block_size)), for a server that hands blocks
 * out as read-only copies.
 * @return the pool; NULL for other kinds or NULL @p s.
 */
struct bulk_pool *nbs_store_pool(struct nbs_store *s);

/**
 * @return 1 if the store does every request at submit and has no fd (the
 *   memory store; a file store on the pread/pwrite fallback); 0 if it
 *   completes asynchronously (io_uring); -EINVAL (NULL).
 */
int nbs_store_is_sync(struct nbs_store *s);

/** @return "READ", "WRITE", ...; "?" for an unknown op. */
const char *nbs_store_op_name(unsigned op);

#ifdef __cplusplus
}
#endif

#endif /* NBS_STORE_H */
