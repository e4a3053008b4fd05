/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The file store: a regular file or a block device, through io_uring
 * (liburing), or pread/pwrite where io_uring can not be set up.
 *
 * Each request is a small state machine (priv.stage, priv.progress): a step
 * is described by file_prep() as one system call, and file_result() judges
 * its result and picks the next step. The io_uring path runs a step as one
 * SQE and the next step when its CQE comes back, so requests complete out
 * of order; the fallback runs the same steps one after another at submit.
 * Short reads and writes go on from where they stopped; a read past the
 * end of a file that shrank under us reads zeros, like a hole.
 *
 *   READ/WRITE    read/write (RWF_DSYNC for FUA) until done
 *   FLUSH         fsync(IORING_FSYNC_DATASYNC)
 *   TRIM          fallocate(PUNCH_HOLE|KEEP_SIZE); a file system that can
 *                 not punch makes it a no-op (TRIM is advisory)
 *   WRITE_ZEROES  PUNCH_HOLE, else ZERO_RANGE, else write zeros;
 *                 NO_HOLE: ZERO_RANGE, else PUNCH_HOLE + allocate, else
 *                 write zeros; FAST_ZERO fails with -EOPNOTSUPP instead of
 *                 writing zeros. FUA adds an fdatasync after fallocate.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>

#include "store_impl.h"

/* Bytes of zeros one write step of a WRITE_ZEROES fallback writes. */
#define FILE_ZEROS_LEN (1u << 20)

enum file_stage {
	FILE_ST_RW = 0,      /* READ/WRITE: the caller's buffer */
	FILE_ST_PUNCH,       /* fallocate PUNCH_HOLE|KEEP_SIZE */
	FILE_ST_ZERO_RANGE,  /* fallocate ZERO_RANGE|KEEP_SIZE */
	FILE_ST_PUNCH_ALLOC, /* NO_HOLE: punch, then ... */
	FILE_ST_ALLOC,       /* ... allocate (mode 0|KEEP_SIZE) */
	FILE_ST_WRITE_ZEROS, /* write from a zero buffer */
	FILE_ST_SYNC,        /* fdatasync */
};

enum file_call_kind {
	FILE_CALL_NONE = 0, /* nothing to do: the step succeeded as it is */
	FILE_CALL_READ,
	FILE_CALL_WRITE,
	FILE_CALL_FSYNC,
	FILE_CALL_FALLOC,
};

struct file_call {
	enum file_call_kind kind;
	int mode;   /* fallocate */
	int rwf;    /* RWF_DSYNC or 0 */
	uint64_t off;
	uint64_t len;
	void *buf;
};

struct file_store {
	struct nbs_store base;
	int fd;
	bool blkdev;
	uint32_t lbs;          /* block device: logical block size; else 1 */
	bool sync;             /* pread/pwrite fallback */
	bool no_falloc;        /* params.no_fallocate: every fallocate "unsupported" */
	bool ring_ok;
	struct io_uring ring;
	int efd;               /* eventfd registered with the ring */
	unsigned uring_inflight;
	unsigned uring_cap;    /* CQ entries: never more in flight, so no overflow */
	struct nbs_store_req *backlog;
	struct nbs_store_req **backlog_tail;
	void *zeros;           /* FILE_ZEROS_LEN of read-only zeros, on first use */
};

static inline struct file_store *
file_of(struct nbs_store *s)
{
	return container_of(s, struct file_store, base);
}

/* A fallocate result that means "not this way" rather than a failure. */
static inline bool
file_unsupported(int res)
{
	/* EINVAL: a block device's alignment rule; our ranges are checked. */
	return res == -EOPNOTSUPP || res == -EINVAL || res == -ENOSYS;
}

static inline bool
file_finish(struct nbs_store_req *req, int status)
{
	req->priv.status = status;
	return true;
}

/* Zeros cannot be made fast: the next step or the FAST_ZERO failure. */
static bool
file_write_zeros_or_fail(struct file_store *f, struct nbs_store_req *req)
{
	if ((req->flags & NBS_STORE_REQ_FAST_ZERO) != 0)
		return file_finish(req, -EOPNOTSUPP);
	if (f->zeros == NULL) {
		void *z = mmap(NULL, FILE_ZEROS_LEN, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (z == MAP_FAILED)
			return file_finish(req, -ENOMEM);
		f->zeros = z;
	}
	req->priv.stage = FILE_ST_WRITE_ZEROS;
	req->priv.progress = 0;
	return false;
}

/* After a successful fallocate: done, or an fdatasync first for FUA. */
static bool
file_after_falloc(struct nbs_store_req *req)
{
	if ((req->flags & NBS_STORE_REQ_FUA) != 0) {
		req->priv.stage = FILE_ST_SYNC;
		return false;
	}
	return file_finish(req, 0);
}

static void
file_prep(struct file_store *f, struct nbs_store_req *req, struct file_call *c)
{
	uint64_t rem = req->len - req->priv.progress;

	memset(c, 0, sizeof(*c));
	c->off = req->offset;
	c->len = req->len;
	switch (req->priv.stage) {
	case FILE_ST_RW:
		c->kind = req->op == NBS_STORE_OP_READ ? FILE_CALL_READ : FILE_CALL_WRITE;
		c->buf = (uint8_t *)req->buf + req->priv.progress;
		c->off = req->offset + req->priv.progress;
		c->len = rem < NBS_STORE_MAX_IO ? rem : NBS_STORE_MAX_IO;
		if (req->op == NBS_STORE_OP_WRITE && (req->flags & NBS_STORE_REQ_FUA) != 0)
			c->rwf = RWF_DSYNC;
		break;
	case FILE_ST_PUNCH:
		c->kind = FILE_CALL_FALLOC;
		c->mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		if (f->blkdev && req->op == NBS_STORE_OP_TRIM) {
			/* A device discards whole sectors: trim the aligned inside. */
			uint64_t a = (req->offset + f->lbs - 1) / f->lbs * f->lbs;
			uint64_t b = (req->offset + req->len) / f->lbs * f->lbs;

			if (a >= b) {
				c->kind = FILE_CALL_NONE;
				break;
			}
			c->off = a;
			c->len = b - a;
		}
		break;
	case FILE_ST_ZERO_RANGE:
		c->kind = FILE_CALL_FALLOC;
		c->mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
		break;
	case FILE_ST_PUNCH_ALLOC:
		c->kind = FILE_CALL_FALLOC;
		c->mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		break;
	case FILE_ST_ALLOC:
		c->kind = FILE_CALL_FALLOC;
		c->mode = FALLOC_FL_KEEP_SIZE;
		break;
	case FILE_ST_WRITE_ZEROS:
		c->kind = FILE_CALL_WRITE;
		c->buf = f->zeros;
		c->off = req->offset + req->priv.progress;
		c->len = rem < FILE_ZEROS_LEN ? rem : FILE_ZEROS_LEN;
		if ((req->flags & NBS_STORE_REQ_FUA) != 0)
			c->rwf = RWF_DSYNC;
		break;
	case FILE_ST_SYNC:
		c->kind = FILE_CALL_FSYNC;
		break;
	}
}

/*
 * Judge one step's result (bytes or -errno; 0 for FILE_CALL_NONE).
 * @return true when the request is finished (status in priv.status); false
 *   when the next step (priv.stage, priv.progress) is to be run.
 */
static bool
file_result(struct file_store *f, struct nbs_store_req *req, int res)
{
	struct nbs_store *s = &f->base;

	if (res == -EINTR || res == -EAGAIN)
		return false;
	switch (req->priv.stage) {
	case FILE_ST_RW:
		if (res < 0)
			return file_finish(req, res);
		if (res == 0) {
			if (req->op == NBS_STORE_OP_WRITE)
				return file_finish(req, -EIO);
			/* End of a file that shrank under us: the rest reads as a hole. */
			memset((uint8_t *)req->buf + req->priv.progress, 0,
			       req->len - req->priv.progress);
			s->stats.bytes_zeroed += req->len - req->priv.progress;
			return file_finish(req, 0);
		}
		/* The kernel copied between the page cache and the buffer. */
		s->stats.bytes_copied += (uint64_t)res;
		req->priv.progress += (uint64_t)res;
		return req->priv.progress >= req->len ? file_finish(req, 0) : false;
	case FILE_ST_PUNCH:
		if (res == 0)
			return file_after_falloc(req);
		if (!file_unsupported(res))
			return file_finish(req, res);
		if (req->op == NBS_STORE_OP_TRIM)
			return file_finish(req, 0); /* advisory: nothing discarded */
		req->priv.stage = FILE_ST_ZERO_RANGE;
		return false;
	case FILE_ST_ZERO_RANGE:
		if (res == 0)
			return file_after_falloc(req);
		if (!file_unsupported(res))
			return file_finish(req, res);
		if ((req->flags & NBS_STORE_REQ_NO_HOLE) != 0) {
			/* tmpfs: no ZERO_RANGE, but punch + allocate is as fast. */
			req->priv.stage = FILE_ST_PUNCH_ALLOC;
			return false;
		}
		return file_write_zeros_or_fail(f, req);
	case FILE_ST_PUNCH_ALLOC:
		if (res == 0) {
			req->priv.stage = FILE_ST_ALLOC;
			return false;
		}
		if (!file_unsupported(res))
			return file_finish(req, res);
		return file_write_zeros_or_fail(f, req);
	case FILE_ST_ALLOC:
		if (res == 0)
			return file_after_falloc(req);
		if (!file_unsupported(res))
			return file_finish(req, res);
		return file_write_zeros_or_fail(f, req);
	case FILE_ST_WRITE_ZEROS:
		if (res < 0)
			return file_finish(req, res);
		if (res == 0)
			return file_finish(req, -EIO);
		s->stats.bytes_zeroed += (uint64_t)res;
		req->priv.progress += (uint64_t)res;
		return req->priv.progress >= req->len ? file_finish(req, 0) : false;
	case FILE_ST_SYNC:
		return file_finish(req, res < 0 ? res : 0);
	}
	return file_finish(req, -EIO);
}

/*
 * The first step of a request that passed nbs_store_check().
 * @return true if that already finished it (status in priv.status).
 */
static bool
file_start(struct file_store *f, struct nbs_store_req *req)
{
	switch (req->op) {
	case NBS_STORE_OP_FLUSH:
		req->priv.stage = FILE_ST_SYNC;
		break;
	case NBS_STORE_OP_TRIM:
		req->priv.stage = FILE_ST_PUNCH;
		break;
	case NBS_STORE_OP_WRITE_ZEROES:
		if (f->blkdev && ((req->offset | req->len) & (f->lbs - 1)) != 0) {
			/* A device zeroes whole sectors only: zeros must be written. */
			return file_write_zeros_or_fail(f, req);
		} else {
			req->priv.stage = (req->flags & NBS_STORE_REQ_NO_HOLE) != 0
						  ? FILE_ST_ZERO_RANGE
						  : FILE_ST_PUNCH;
		}
		break;
	default:
		req->priv.stage = FILE_ST_RW;
		break;
	}
	return false;
}

/* ------------------------------------------------------ pread fallback */

static int
file_sync_call(struct file_store *f, const struct file_call *c)
{
	ssize_t n = 0;

	switch (c->kind) {
	case FILE_CALL_NONE:
		return 0;
	case FILE_CALL_READ:
		n = pread(f->fd, c->buf, c->len, (off_t)c->off);
		break;
	case FILE_CALL_WRITE:
		if (c->rwf != 0) {
			struct iovec iov = { .iov_base = c->buf, .iov_len = c->len };

			n = pwritev2(f->fd, &iov, 1, (off_t)c->off, c->rwf);
			if (n < 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) {
				/* A kernel without RWF_DSYNC: write, then sync. */
				n = pwrite(f->fd, c->buf, c->len, (off_t)c->off);
				if (n > 0 && fdatasync(f->fd) < 0)
					n = -1;
			}
		} else {
			n = pwrite(f->fd, c->buf, c->len, (off_t)c->off);
		}
		break;
	case FILE_CALL_FSYNC:
		n = fdatasync(f->fd);
		break;
	case FILE_CALL_FALLOC:
		if (f->no_falloc)
			return -EOPNOTSUPP;
		n = fallocate(f->fd, c->mode, (off_t)c->off, (off_t)c->len);
		break;
	}
	return n < 0 ? -errno : (int)n;
}

static void
file_sync_run(struct file_store *f, struct nbs_store_req *req)
{
	struct file_call c;

	do {
		file_prep(f, req, &c);
	} while (!file_result(f, req, file_sync_call(f, &c)));
	nbs_store_defer(&f->base, req, req->priv.status);
}

/* ---------------------------------------------------------- io_uring */

/* Run @p req's next step as an SQE. @return false if the ring has no room. */
static bool
file_issue_now(struct file_store *f, struct nbs_store_req *req)
{
	struct io_uring_sqe *sqe;
	struct file_call c;

	for (;;) {
		file_prep(f, req, &c);
		if (c.kind == FILE_CALL_FALLOC && f->no_falloc) {
			if (file_result(f, req, -EOPNOTSUPP)) {
				nbs_store_defer(&f->base, req, req->priv.status);
				return true;
			}
			continue;
		}
		if (c.kind != FILE_CALL_NONE)
			break;
		if (file_result(f, req, 0)) {
			nbs_store_defer(&f->base, req, req->priv.status);
			return true;
		}
	}
	if (f->uring_inflight >= f->uring_cap)
		return false;
	sqe = io_uring_get_sqe(&f->ring);
	if (sqe == NULL) {
		/* SQ full of what this poll round prepared: hand it over. */
		io_uring_submit(&f->ring);
		sqe = io_uring_get_sqe(&f->ring);
		if (sqe == NULL)
			return false;
	}
	switch (c.kind) {
	case FILE_CALL_READ:
		io_uring_prep_read(sqe, f->fd, c.buf, (unsigned)c.len, c.off);
		break;
	case FILE_CALL_WRITE:
		io_uring_prep_write(sqe, f->fd, c.buf, (unsigned)c.len, c.off);
		sqe->rw_flags = c.rwf;
		break;
	case FILE_CALL_FSYNC:
		io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
		break;
	case FILE_CALL_FALLOC:
		io_uring_prep_fallocate(sqe, f->fd, c.mode, (off_t)c.off, (off_t)c.len);
		break;
	case FILE_CALL_NONE:
		break;
	}
	io_uring_sqe_set_data(sqe, req);
	f->uring_inflight++;
	return true;
}

static void
file_issue(struct file_store *f, struct nbs_store_req *req)
{
	/* Behind the backlog, so that no request is passed over for long. */
	if (f->backlog == NULL && file_issue_now(f, req))
		return;
	req->priv.next = NULL;
	*f->backlog_tail = req;
	f->backlog_tail = &req->priv.next;
}

static void
file_push_backlog(struct file_store *f)
{
	while (f->backlog != NULL) {
		struct nbs_store_req *req = f->backlog;
		struct nbs_store_req *next = req->priv.next;

		if (!file_issue_now(f, req))
			break;
		f->backlog = next;
		if (next == NULL)
			f->backlog_tail = &f->backlog;
	}
}

static int
file_submit_ring(struct file_store *f)
{
	int rc;

	file_push_backlog(f);
	if (io_uring_sq_ready(&f->ring) == 0)
		return 0;
	rc = io_uring_submit(&f->ring);
	/* Transient: the SQEs stay queued and go with the next submit. */
	if (rc == -EAGAIN || rc == -EBUSY || rc == -EINTR)
		return 0;
	return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------- ops */

static int
file_io(struct nbs_store *s, struct nbs_store_req *req)
{
	struct file_store *f = file_of(s);

	if (file_start(f, req))
		nbs_store_defer(s, req, req->priv.status);
	else if (f->sync)
		file_sync_run(f, req);
	else
		file_issue(f, req);
	return 0;
}

static int
file_poll(struct nbs_store *s, unsigned max)
{
	struct file_store *f = file_of(s);
	unsigned n = 0;
	int rc;

	if (f->sync)
		return 0;
	rc = file_submit_ring(f);
	if (rc < 0)
		return rc;
	while (n < max) {
		struct io_uring_cqe *cqe;
		struct nbs_store_req *req;
		int res;

		if (io_uring_peek_cqe(&f->ring, &cqe) != 0)
			break;
		req = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		/* Seen before the callback, which may submit into the ring. */
		io_uring_cqe_seen(&f->ring, cqe);
		f->uring_inflight--;
		if (file_result(f, req, res)) {
			nbs_store_complete(s, req, req->priv.status);
			n++;
		} else {
			file_issue(f, req);
		}
	}
	/* Start what callbacks and next steps queued without another round. */
	rc = file_submit_ring(f);
	return rc < 0 && n == 0 ? rc : (int)n;
}

static int
file_fd(struct nbs_store *s)
{
	struct file_store *f = file_of(s);

	return f->sync ? -ENOTSUP : f->efd;
}

static int
file_arm(struct nbs_store *s)
{
	struct file_store *f = file_of(s);
	uint64_t v;
	int rc;

	if (f->sync)
		return 0;
	rc = file_submit_ring(f);
	if (rc < 0)
		return rc;
	/*
	 * Drain the eventfd, then look at the CQ: the kernel posts a CQE and
	 * then signals the eventfd, so a CQE posted after the look leaves the
	 * fd readable, and one posted before is seen by the look. (No toggling
	 * of IORING_CQ_EVENTFD_DISABLED: that would need a full barrier against
	 * the kernel's CQ tail update that liburing does not give us.)
	 */
	while (read(f->efd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
	if (io_uring_cq_ready(&f->ring) > 0)
		return 1;
	/*
	 * SQEs a transient submit failure left behind, or a backlog with room
	 * in the ring: nothing would wake us for those. A backlog behind a
	 * full ring is fine: its wakeup is the next CQE.
	 */
	if (io_uring_sq_ready(&f->ring) > 0 ||
	    (f->backlog != NULL && f->uring_inflight < f->uring_cap))
		return 1;
	return 0;
}

static int
file_wait(struct nbs_store *s)
{
	struct file_store *f = file_of(s);
	struct io_uring_cqe *cqe;
	int rc;

	if (f->sync)
		return 0;
	rc = file_submit_ring(f);
	if (rc < 0)
		return rc;
	if (f->uring_inflight == 0)
		return 0;
	rc = io_uring_wait_cqe(&f->ring, &cqe);
	return rc == -EINTR || rc == -EAGAIN ? 0 : rc;
}

static int
file_close(struct nbs_store *s)
{
	struct file_store *f = file_of(s);

	if (f->ring_ok)
		io_uring_queue_exit(&f->ring);
	if (f->efd >= 0)
		close(f->efd);
	if (f->zeros != NULL)
		munmap(f->zeros, FILE_ZEROS_LEN);
	close(f->fd);
	free(f);
	return 0;
}

static bool
file_env_no_uring(void)
{
	const char *v = getenv(NBS_STORE_ENV_NO_URING);

	return v != NULL && strcmp(v, "1") == 0;
}

/* Set up the ring and its eventfd. @return 0 or negative errno. */
static int
file_ring_init(struct file_store *f, unsigned depth)
{
	int rc;

	rc = io_uring_queue_init(depth, &f->ring, 0);
	if (rc < 0)
		return rc;
	f->ring_ok = true;
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->efd < 0)
		return -errno;
	rc = io_uring_register_eventfd(&f->ring, f->efd);
	if (rc < 0)
		return rc;
	f->uring_cap = f->ring.cq.ring_entries;
	return 0;
}

/*
 * SEEK_DATA / SEEK_HOLE, as nbdkit's file plugin answers block status.
 * A block device, or a file system without them, is all data.
 */
static int
file_extents(struct nbs_store *s, uint64_t offset, uint64_t len, struct nbs_store_extent *ext,
	     unsigned max)
{
	struct file_store *f = file_of(s);
	uint64_t off = offset, end = offset + len;
	unsigned n = 0;

	if (f->blkdev) {
		ext[0].length = len;
		ext[0].hole = false;
		return 1;
	}
	while (off < end && n < max) {
		off_t d = lseek(f->fd, (off_t)off, SEEK_DATA);
		uint64_t next;
		bool hole;

		if (d < 0 && errno == ENXIO) {
			/* No data from here to the end of the file. */
			hole = true;
			next = end;
		} else if (d < 0) {
			break; /* cannot tell: the rest is data (below) */
		} else if ((uint64_t)d > off) {
			hole = true;
			next = (uint64_t)d;
		} else {
			off_t h = lseek(f->fd, (off_t)off, SEEK_HOLE);

			if (h < 0)
				break;
			hole = false;
			next = (uint64_t)h;
		}
		if (next > end)
			next = end;
		if (next <= off)
			break;
		if (n > 0 && ext[n - 1].hole == hole) {
			ext[n - 1].length += next - off;
		} else {
			ext[n].length = next - off;
			ext[n].hole = hole;
			n++;
		}
		off = next;
	}
	if (off < end && n < max) {
		if (n > 0 && !ext[n - 1].hole) {
			ext[n - 1].length += end - off;
		} else {
			ext[n].length = end - off;
			ext[n].hole = false;
			n++;
		}
	}
	return (int)n;
}

static int
file_open(const char *arg, const struct nbs_store_params *p, struct nbs_store **out)
{
	struct file_store *f;
	struct stat st;
	int rc;

	if (arg == NULL || *arg == '\0') {
		nbs_store_errf(p, "file: expected file:PATH");
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	f->efd = -1;
	f->lbs = 1;
	f->backlog_tail = &f->backlog;
	f->fd = open(arg, (p->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (f->fd < 0) {
		rc = -errno;
		nbs_store_errf(p, "file:%s: %s", arg, strerror(-rc));
		free(f);
		return rc;
	}
	if (fstat(f->fd, &st) < 0) {
		rc = -errno;
		nbs_store_errf(p, "file:%s: fstat: %s", arg, strerror(-rc));
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		f->base.size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		uint64_t size;
		int lbs;

		if (ioctl(f->fd, BLKGETSIZE64, &size) < 0 || ioctl(f->fd, BLKSSZGET, &lbs) < 0) {
			rc = -errno;
			nbs_store_errf(p, "file:%s: block device size: %s", arg, strerror(-rc));
			goto fail;
		}
		f->blkdev = true;
		f->base.size = size;
		f->lbs = lbs > 0 ? (uint32_t)lbs : 512;
	} else {
		nbs_store_errf(p, "file:%s: not a regular file or a block device", arg);
		rc = -EINVAL;
		goto fail;
	}
	f->base.block_size = p->block_size;
	/* Buffered I/O: the page cache serves any alignment. */
	f->base.min_block_size = 1;
	f->base.max_io = NBS_STORE_MAX_IO;
	f->base.flags = NBS_STORE_FLAG_FLUSH | NBS_STORE_FLAG_FUA | NBS_STORE_FLAG_TRIM |
			NBS_STORE_FLAG_ZERO | NBS_STORE_FLAG_FAST_ZERO;

	f->no_falloc = p->no_fallocate;
	f->sync = p->no_uring || file_env_no_uring();
	if (!f->sync) {
		rc = file_ring_init(f, p->queue_depth);
		if (rc < 0) {
			static bool said;

			if (!said) {
				fprintf(stderr, "nbs: file store: io_uring unavailable (%s): "
						"using pread/pwrite\n", strerror(-rc));
				said = true;
			}
			if (f->efd >= 0)
				close(f->efd);
			f->efd = -1;
			if (f->ring_ok)
				io_uring_queue_exit(&f->ring);
			f->ring_ok = false;
			f->sync = true;
		}
	}
	*out = &f->base;
	return 0;
fail:
	close(f->fd);
	free(f);
	return rc;
}

const struct nbs_store_ops nbs_store_file_ops = {
	.name = "file",
	.open = file_open,
	.close = file_close,
	.read = file_io,
	.write = file_io,
	.flush = file_io,
	.trim = file_io,
	.write_zeroes = file_io,
	.poll = file_poll,
	.fd = file_fd,
	.arm = file_arm,
	.wait = file_wait,
	.extents = file_extents,
};
