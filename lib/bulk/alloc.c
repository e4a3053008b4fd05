/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The pool allocator (spec 6.4): memory for a new pool, its id, and the
 * free list of buffers this domain owns and does not use. Buffer memory is
 * mapped directly (page aligned, never from the control-structure heap).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bulk_core.h"


#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)
#endif

#define BULK_HUGEPAGE_SIZE (2u << 20)

struct alloc_req {
	const struct bulk_pool_params *params;
	size_t len;
};

static void
alloc_unmap(struct bulk_pool *p)
{
	if (p->base != NULL && p->map_len > 0)
		munmap(p->base, p->map_len);
	if (p->fd >= 0)
		close(p->fd);
	p->base = NULL;
	p->fd = -1;
}

static int
alloc_map(void *arg, struct bulk_pool *p)
{
	const struct alloc_req *req = arg;
	void *base;
	int fd = -1;

	p->mem = req->params->mem;
	switch (req->params->mem) {
	case BULK_MEM_ANON:
		base = mmap(NULL, req->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
		break;
	case BULK_MEM_HUGEPAGE:
		base = mmap(NULL, req->len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
		if (base == MAP_FAILED)
			return -ENOMEM; /* no hugepages reserved (vm.nr_hugepages) */
		break;
	case BULK_MEM_MEMFD: {
		char name[48];

		snprintf(name, sizeof(name), "bulk-pool-%u-%u", p->id.pid, p->id.seq);
		fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0)
			return -errno;
		/* Sealed at its size: a process we share it with could
		 * otherwise shrink it and make our accesses fault (SIGBUS). */
		if (ftruncate(fd, (off_t)req->len) < 0 ||
		    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
			int e = -errno;
			close(fd);
			return e;
		}
		base = mmap(NULL, req->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		break;
	}
	default:
		return -EINVAL;
	}
	if (base == MAP_FAILED) {
		int e = -errno;
		if (fd >= 0)
			close(fd);
		return e;
	}
	p->base = base;
	p->map_len = req->len;
	p->fd = fd;
	return 0;
}

/* The checks of bulk_pool_alloc() (its -EINVAL cases). */
static int
pool_params_check(struct bulk_domain *d, const struct bulk_pool_params *params,
		  struct bulk_pool **out)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint32_t align;

	if (d == NULL || params == NULL || out == NULL || params->count == 0 ||
	    params->count > BULK_POOL_MAX_BUFFERS || params->buffer_size == 0)
		return -EINVAL;
	align = params->align ? params->align : BULK_CACHE_LINE;
	if ((align & (align - 1)) != 0 || params->buffer_size % align != 0 ||
	    (size_t)align > page)
		return -EINVAL;
	if ((unsigned)params->trust > BULK_TRUST_FULL || (unsigned)params->mem > BULK_MEM_HUGEPAGE)
		return -EINVAL;
	/* More than a 47-bit user address space can ever map. */
	if ((uint64_t)params->count * params->buffer_size > (1ull << 47))
		return -EINVAL;
	return 0;
}

static int pool_create(struct bulk_domain *d, const struct bulk_pool_params *params,
		       const struct bulk_pool_mapper *m, struct bulk_pool **out);

int
bulk_pool_alloc(struct bulk_domain *d, const struct bulk_pool_params *params,
		struct bulk_pool **out)
{
	struct alloc_req req;
	struct bulk_pool_mapper m = { .map = alloc_map, .unmap = alloc_unmap, .arg = &req };
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int rc = pool_params_check(d, params, out);

	if (rc < 0)
		return rc;
	req.params = params;
	req.len = (size_t)params->count * params->buffer_size;
	if (params->mem == BULK_MEM_HUGEPAGE)
		req.len = (req.len + BULK_HUGEPAGE_SIZE - 1) & ~((size_t)BULK_HUGEPAGE_SIZE - 1);
	else
		req.len = (req.len + page - 1) & ~(page - 1);
	return pool_create(d, params, &m, out);
}

int
bulk_core_pool_alloc(struct bulk_domain *d, const struct bulk_pool_params *params,
		     const struct bulk_pool_mapper *mapper, struct bulk_pool **out)
{
	int rc = pool_params_check(d, params, out);

	if (rc < 0)
		return rc;
	if (mapper == NULL || mapper->map == NULL)
		return -EINVAL;
	return pool_create(d, params, mapper, out);
}

/* A new pool (Algorithm 5): a fresh id, memory from @p m, every buffer ours. */
static int
pool_create(struct bulk_domain *d, const struct bulk_pool_params *params,
	    const struct bulk_pool_mapper *m, struct bulk_pool **out)
{
	struct bulk_pool_desc desc;
	struct bulk_pool *p;
	int rc;

	memset(&desc, 0, sizeof(desc));
	bulk_pool_id_new(&desc.id);
	desc.count = params->count;
	desc.buffer_size = params->buffer_size;
	desc.trust = params->trust;
	rc = bulk_pool_view_create(d, &desc, m, &p);
	if (rc < 0)
		return rc;
	p->owns_memory = true;
	/* Algorithm 5: every buffer of a new pool is owned by its creator. */
	for (uint32_t i = 0; i < p->count; i++) {
		p->bufs[i].state = BULK_BUFFER_READ_WRITE;
		p->bufs[i].flags = BULK_BUF_F_FREE;
		/* LIFO: hand out low indices first, they are the warmest. */
		p->free_stack[i] = p->count - 1 - i;
	}
	p->nfree = p->count;
	*out = p;
	return 0;
}

int
bulk_pool_free(struct bulk_pool *p)
{
	if (p == NULL)
		return -EINVAL;
	/* A pending assignment counts: the peer may be reading the view. */
	if (p->nlinks > 0 || p->npending > 0)
		return -BULK_E_POOL_ASSIGNED;
	for (uint32_t i = 0; i < p->count; i++) {
		if (p->owns_memory && p->bufs[i].state != BULK_BUFFER_READ_WRITE)
			return -BULK_E_POOL_IN_USE;
		/* A received view that owns buffers, or has copies of them out,
		 * would lose them. */
		if (!p->owns_memory && !p->orphan && (bulk_buffer_is_owner(&p->bufs[i]) ||
					p->bufs[i].copies_out > 0))
			return -BULK_E_POOL_IN_USE;
	}
	bulk_pool_view_destroy(p);
	return 0;
}

int
bulk_pool_drop(struct bulk_pool *p)
{
	if (p == NULL)
		return -EINVAL;
	if (p->nlinks > 0 || p->npending > 0)
		return -BULK_E_POOL_ASSIGNED;
	if (p->owns_memory)
		return -BULK_E_POOL_IN_USE;
	for (uint32_t i = 0; i < p->count; i++)
		if (p->bufs[i].copies_out > 0)
			return -BULK_E_POOL_IN_USE;
	bulk_pool_view_destroy(p);
	return 0;
}

int
bulk_pool_get_burst(struct bulk_pool *p, struct bulk_buffer **bufs, unsigned n)
{
	unsigned k;

	if (p == NULL || (bufs == NULL && n > 0))
		return -EINVAL;
	k = n < p->nfree ? n : p->nfree;
	for (unsigned i = 0; i < k; i++) {
		struct bulk_buffer *b = &p->bufs[p->free_stack[--p->nfree]];

		b->flags &= (uint8_t)~BULK_BUF_F_FREE;
		bufs[i] = b;
	}
	return (int)k;
}

int
bulk_pool_put_burst(struct bulk_pool *p, struct bulk_buffer *const *bufs, unsigned n)
{
	uint32_t mark;
	unsigned i;

	if (p == NULL || (bufs == NULL && n > 0))
		return -EINVAL;
	/* Validate all first: all or nothing. */
	mark = bulk_domain_mark_next(p->dom);
	for (i = 0; i < n; i++) {
		struct bulk_buffer *b = bufs[i];
		int rc = 0;

		if (b == NULL || b->pool != p)
			rc = -EINVAL;
		else if (b->state != BULK_BUFFER_READ_WRITE)
			rc = -BULK_E_NOT_OWNER;
		else if (b->flags & BULK_BUF_F_FREE)
			rc = -BULK_E_BUFFER_FREE;
		else if (b->mark == mark)
			rc = -BULK_E_DUPLICATE;
		if (rc < 0)
			return rc;
		b->mark = mark;
	}
	for (i = 0; i < n; i++) {
		bufs[i]->flags |= BULK_BUF_F_FREE;
		p->free_stack[p->nfree++] = bufs[i]->index;
	}
	return (int)n;
}

struct bulk_buffer *
bulk_pool_get(struct bulk_pool *p)
{
	struct bulk_buffer *b = NULL;

	if (bulk_pool_get_burst(p, &b, 1) != 1)
		return NULL;
	return b;
}

int
bulk_pool_put(struct bulk_buffer *b)
{
	int rc;

	if (b == NULL)
		return -EINVAL;
	rc = bulk_pool_put_burst(b->pool, &b, 1);
	return rc < 0 ? rc : 0;
}

uint32_t
bulk_pool_free_count(const struct bulk_pool *p)
{
	return p ? p->nfree : 0;
}

int
bulk_pool_fd(const struct bulk_pool *p)
{
	if (p == NULL)
		return -EINVAL;
	return p->fd >= 0 ? p->fd : -ENOTSUP;
}
