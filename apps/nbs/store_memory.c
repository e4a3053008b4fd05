/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The memory store: blocks in a bulk pool of memfd memory, buffer i holds
 * block i. The pool's buffers are contiguous, so a request spanning blocks
 * is one memcpy (one copy per request, counted).
 *
 * A bitmap marks the blocks that may hold non-zero bytes. A clear bit means
 * the block's memory is zero (or a hole of the memfd): reads of such blocks
 * are a memset of the caller's buffer and do not touch, and so do not
 * allocate, the store's memory. TRIM and WRITE_ZEROES punch whole pages out
 * of the memfd to give the memory back (NO_HOLE: memset instead).
 *
 * Everything is done at submit; completions are handed out at the next poll
 * so that callbacks never run inside submit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>

#include "app_opts.h"
#include "store_impl.h"

struct mem_store {
	struct nbs_store base;
	struct bulk_domain *domain;
	bool own_domain;
	struct bulk_pool *pool;
	uint8_t *mem;
	int memfd;          /* the pool's memfd, for punching holes */
	unsigned shift;     /* log2(block_size) */
	uint64_t nblocks;
	uint64_t *written;  /* bit set: the block may hold non-zero bytes */
	size_t page;
	uint8_t *zeros;     /* NBS_STORE_MAX_IO of read-only anonymous memory: holes for map */
};

static inline struct mem_store *
mem_of(struct nbs_store *s)
{
	return container_of(s, struct mem_store, base);
}

static inline bool
mem_bit(const struct mem_store *m, uint64_t b)
{
	return (m->written[b >> 6] >> (b & 63)) & 1;
}

static inline void
mem_bit_set(struct mem_store *m, uint64_t b)
{
	m->written[b >> 6] |= 1ull << (b & 63);
}

static inline void
mem_bit_clear(struct mem_store *m, uint64_t b)
{
	m->written[b >> 6] &= ~(1ull << (b & 63));
}

/* Blocks [b, end) whose bits equal bit(b): the length of the run. */
static uint64_t
mem_run(const struct mem_store *m, uint64_t b, uint64_t end)
{
	bool v = mem_bit(m, b);
	uint64_t e = b + 1;

	while (e < end) {
		/* A whole word of the same value at once. */
		if ((e & 63) == 0 && e + 64 <= end &&
		    m->written[e >> 6] == (v ? UINT64_MAX : 0)) {
			e += 64;
			continue;
		}
		if (mem_bit(m, e) != v)
			break;
		e++;
	}
	return e - b;
}

static int
mem_read(struct nbs_store *s, struct nbs_store_req *req)
{
	struct mem_store *m = mem_of(s);
	uint64_t off = req->offset, end = req->offset + req->len;
	uint8_t *dst = req->buf;

	while (off < end) {
		uint64_t b = off >> m->shift;
		uint64_t blast = (end - 1) >> m->shift;
		uint64_t nb = mem_run(m, b, blast + 1);
		uint64_t run_end = (b + nb) << m->shift;
		uint64_t n = (run_end < end ? run_end : end) - off;

		if (mem_bit(m, b)) {
			memcpy(dst, m->mem + off, n);
			s->stats.bytes_copied += n;
		} else {
			memset(dst, 0, n);
			s->stats.bytes_zeroed += n;
		}
		dst += n;
		off += n;
	}
	nbs_store_defer(s, req, 0);
	return 0;
}

/*
 * A READ by reference: written runs point into the pool's memory; holes
 * point at a never-written read-only anonymous mapping, which reads as
 * the zero page and costs no memory (reading a hole of the memfd itself
 * would allocate it).
 */
static int
mem_map(struct nbs_store *s, uint64_t offset, uint64_t len, struct iovec *iov, unsigned max)
{
	struct mem_store *m = mem_of(s);
	uint64_t off = offset, end = offset + len;
	unsigned n = 0;

	if (m->zeros == NULL) {
		void *z = mmap(NULL, NBS_STORE_MAX_IO, PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (z == MAP_FAILED)
			return -ENOTSUP;
		m->zeros = z;
	}
	while (off < end) {
		uint64_t b = off >> m->shift;
		uint64_t nb = mem_run(m, b, ((end - 1) >> m->shift) + 1);
		uint64_t run_end = (b + nb) << m->shift;

		if (n == max)
			return -ENOBUFS;
		if (run_end > end)
			run_end = end;
		iov[n].iov_base = mem_bit(m, b) ? m->mem + off : m->zeros;
		iov[n].iov_len = (size_t)(run_end - off);
		n++;
		off = run_end;
	}
	return (int)n;
}

/* A WRITE by reference: the pool's memory is contiguous, one piece. */
static int
mem_wmap(struct nbs_store *s, uint64_t offset, uint64_t len, struct iovec *iov, unsigned max)
{
	(void)max;
	iov[0].iov_base = mem_of(s)->mem + offset;
	iov[0].iov_len = (size_t)len;
	return 1;
}

/* Its bytes are in: the blocks read as data from now on. */
static void
mem_wdone(struct nbs_store *s, uint64_t offset, uint64_t len)
{
	struct mem_store *m = mem_of(s);

	for (uint64_t b = offset >> m->shift; b <= (offset + len - 1) >> m->shift; b++)
		mem_bit_set(m, b);
}

/* The written bitmap's runs, a block at a time (a partly written block is data). */
static int
mem_extents(struct nbs_store *s, uint64_t offset, uint64_t len, struct nbs_store_extent *ext,
	    unsigned max)
{
	struct mem_store *m = mem_of(s);
	uint64_t off = offset, end = offset + len;
	unsigned n = 0;

	while (off < end && n < max) {
		uint64_t b = off >> m->shift;
		uint64_t nb = mem_run(m, b, ((end - 1) >> m->shift) + 1);
		uint64_t run_end = (b + nb) << m->shift;

		if (run_end > end)
			run_end = end;
		ext[n].length = run_end - off;
		ext[n].hole = !mem_bit(m, b);
		n++;
		off = run_end;
	}
	return (int)n;
}

static int
mem_write(struct nbs_store *s, struct nbs_store_req *req)
{
	struct mem_store *m = mem_of(s);
	uint64_t b = req->offset >> m->shift;
	uint64_t blast = (req->offset + req->len - 1) >> m->shift;

	/*
	 * A block whose bit was clear is all zero, so a partial write leaves
	 * the rest of it right without touching it.
	 */
	memcpy(m->mem + req->offset, req->buf, req->len);
	s->stats.bytes_copied += req->len;
	for (; b <= blast; b++)
		mem_bit_set(m, b);
	nbs_store_defer(s, req, 0);
	return 0;
}

static int
mem_flush(struct nbs_store *s, struct nbs_store_req *req)
{
	/* Memory is as durable as it gets when the write completed. */
	nbs_store_defer(s, req, 0);
	return 0;
}

/*
 * Zero [off, off + n) of the store's memory: the whole pages inside it are
 * punched out of the memfd (memory goes back to the system, reads fault in
 * the zero page) when @p punch allows, the rest is memset.
 */
static void
mem_zero_bytes(struct mem_store *m, uint64_t off, uint64_t n, bool punch)
{
	uint64_t end = off + n;

	if (punch && m->memfd >= 0) {
		uint64_t pa = (off + m->page - 1) & ~(uint64_t)(m->page - 1);
		uint64_t pb = end & ~(uint64_t)(m->page - 1);

		if (pa < pb && fallocate(m->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					 (off_t)pa, (off_t)(pb - pa)) == 0) {
			memset(m->mem + off, 0, pa - off);
			memset(m->mem + pb, 0, end - pb);
			m->base.stats.bytes_zeroed += (pa - off) + (end - pb);
			return;
		}
	}
	memset(m->mem + off, 0, n);
	m->base.stats.bytes_zeroed += n;
}

static void
mem_zero_range(struct mem_store *m, uint64_t off, uint64_t len, bool punch)
{
	uint64_t end = off + len;
	uint64_t bs = 1ull << m->shift;

	while (off < end) {
		uint64_t b = off >> m->shift;
		uint64_t bstart = b << m->shift;
		uint64_t bend = bstart + bs;

		if (off != bstart || end < bend) {
			/* A partial block keeps its bit: its other bytes may be data. */
			uint64_t n = (end < bend ? end : bend) - off;

			if (mem_bit(m, b)) {
				memset(m->mem + off, 0, n);
				m->base.stats.bytes_zeroed += n;
			}
			off += n;
			continue;
		}
		/* Whole blocks: a run of one bit value up to the last whole block. */
		{
			uint64_t bwhole_end = end >> m->shift;
			uint64_t nb = mem_run(m, b, bwhole_end);
			bool set = mem_bit(m, b);

			if (set) {
				mem_zero_bytes(m, bstart, nb << m->shift, punch);
				for (uint64_t i = b; i < b + nb; i++)
					mem_bit_clear(m, i);
			}
			off = (b + nb) << m->shift;
		}
	}
}

static int
mem_trim(struct nbs_store *s, struct nbs_store_req *req)
{
	mem_zero_range(mem_of(s), req->offset, req->len, true);
	nbs_store_defer(s, req, 0);
	return 0;
}

static int
mem_write_zeroes(struct nbs_store *s, struct nbs_store_req *req)
{
	/*
	 * NO_HOLE: memory that holds data stays allocated (memset); blocks
	 * that never held data were never allocated and are left so, which
	 * punches nothing.
	 */
	mem_zero_range(mem_of(s), req->offset, req->len,
		       (req->flags & NBS_STORE_REQ_NO_HOLE) == 0);
	nbs_store_defer(s, req, 0);
	return 0;
}

static int
mem_close(struct nbs_store *s)
{
	struct mem_store *m = mem_of(s);
	int rc = 0;

	if (m->pool != NULL)
		rc = bulk_pool_free(m->pool);
	if (m->own_domain && m->domain != NULL) {
		int drc = bulk_domain_destroy(m->domain);

		if (rc == 0)
			rc = drc;
	}
	if (m->zeros != NULL)
		munmap(m->zeros, NBS_STORE_MAX_IO);
	free(m->written);
	free(m);
	return rc;
}

static int
mem_open(const char *arg, const struct nbs_store_params *p, struct nbs_store **out)
{
	struct bulk_pool_params pp = { 0 };
	struct mem_store *m;
	uint64_t size, count;
	long page = sysconf(_SC_PAGESIZE);
	int rc;

	if (app_parse_size(arg, &size) < 0 || size == 0) {
		nbs_store_errf(p, "memory:%s: expected a size > 0 (digits, optional K/M/G/T)", arg);
		return -EINVAL;
	}
	/* A last partial block is allocated whole; the store is SIZE bytes. */
	count = size / p->block_size + (size % p->block_size != 0);
	if (count > BULK_POOL_MAX_BUFFERS || size > (1ull << 47)) {
		nbs_store_errf(p, "memory:%s: %llu blocks of %u bytes: more than a pool holds "
			       "(%u buffers, 2^47 bytes); use a larger block size", arg,
			       (unsigned long long)count, p->block_size, BULK_POOL_MAX_BUFFERS);
		return -ERANGE;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->page = page > 0 ? (size_t)page : 4096;
	m->nblocks = count;
	m->shift = (unsigned)__builtin_ctz(p->block_size);
	m->written = calloc((size_t)((count + 63) / 64), sizeof(uint64_t));
	if (m->written == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	m->domain = p->domain;
	if (m->domain == NULL) {
		rc = bulk_domain_create("nbs-store", &m->domain);
		if (rc < 0) {
			nbs_store_errf(p, "memory store: bulk_domain_create: %s",
				       bulk_strerror(rc));
			goto fail;
		}
		m->own_domain = true;
	}
	pp.count = (uint32_t)count;
	pp.buffer_size = p->block_size;
	pp.align = p->block_size < m->page ? p->block_size : (uint32_t)m->page;
	pp.mem = BULK_MEM_MEMFD;
	rc = bulk_pool_alloc(m->domain, &pp, &m->pool);
	if (rc < 0) {
		nbs_store_errf(p, "memory:%s: bulk_pool_alloc: %s", arg, bulk_strerror(rc));
		goto fail;
	}
	m->mem = bulk_pool_base(m->pool);
	m->memfd = bulk_pool_fd(m->pool);
	/*
	 * Random 4 KiB requests over a large store miss the TLB on nearly
	 * every request with 4 KiB pages; 2 MiB pages take 10-20% off a
	 * request's cost (docs/performance.md). memfd memory only gets them
	 * where /sys/kernel/mm/transparent_hugepage/shmem_enabled is
	 * "advise" (or "always"); elsewhere this asks for nothing.
	 */
	(void)madvise(m->mem, (size_t)count * p->block_size, MADV_HUGEPAGE);
	m->base.size = size;
	m->base.block_size = p->block_size;
	m->base.min_block_size = 1;
	m->base.max_io = NBS_STORE_MAX_IO;
	m->base.flags = NBS_STORE_FLAG_FLUSH | NBS_STORE_FLAG_FUA | NBS_STORE_FLAG_TRIM |
			NBS_STORE_FLAG_ZERO | NBS_STORE_FLAG_FAST_ZERO;
	*out = &m->base;
	return 0;
fail:
	if (m->pool != NULL)
		bulk_pool_free(m->pool);
	if (m->own_domain)
		bulk_domain_destroy(m->domain);
	free(m->written);
	free(m);
	return rc;
}

struct bulk_pool *
nbs_store_pool(struct nbs_store *s)
{
	if (s == NULL || s->ops != &nbs_store_memory_ops)
		return NULL;
	return mem_of(s)->pool;
}

const struct nbs_store_ops nbs_store_memory_ops = {
	.name = "memory",
	.open = mem_open,
	.close = mem_close,
	.read = mem_read,
	.write = mem_write,
	.flush = mem_flush,
	.trim = mem_trim,
	.write_zeroes = mem_write_zeroes,
	.extents = mem_extents,
	.map = mem_map,
	.wmap = mem_wmap,
	.wdone = mem_wdone,
};
