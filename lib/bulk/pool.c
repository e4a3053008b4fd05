/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pool views and the domain pool list. Every domain that knows a pool has
 * its own view (struct bulk_pool with the same id) whose buffers carry that
 * domain's states; views are created by the allocator or when a peer
 * assigns a pool, and dropped when nothing of them is held any more.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "bulk_core.h"

int
bulk_pool_id_equal(const struct bulk_pool_id *a, const struct bulk_pool_id *b)
{
	return a->host == b->host && a->pid == b->pid && a->seq == b->seq;
}

const struct bulk_pool_id *
bulk_pool_get_id(const struct bulk_pool *p)
{
	return &p->id;
}

uint32_t
bulk_pool_buffer_count(const struct bulk_pool *p)
{
	return p->count;
}

uint32_t
bulk_pool_buffer_size(const struct bulk_pool *p)
{
	return p->buffer_size;
}

enum bulk_trust
bulk_pool_trust(const struct bulk_pool *p)
{
	return p->trust;
}

void *
bulk_pool_base(const struct bulk_pool *p)
{
	return p->base;
}

struct bulk_domain *
bulk_pool_domain(const struct bulk_pool *p)
{
	return p->dom;
}

struct bulk_buffer *
bulk_pool_buffer(struct bulk_pool *p, uint32_t index)
{
	if (p == NULL || index >= p->count)
		return NULL;
	return &p->bufs[index];
}

void
bulk_pool_link_add(struct bulk_pool *p, struct bulk_channel *ch, uint16_t slot)
{
	p->links[p->nlinks].ch = ch;
	p->links[p->nlinks].slot = slot;
	p->nlinks++;
	p->orphan = false;
}

void
bulk_pool_link_del(struct bulk_pool *p, struct bulk_channel *ch)
{
	for (unsigned i = 0; i < p->nlinks; i++)
		if (p->links[i].ch == ch) {
			p->links[i] = p->links[--p->nlinks];
			return;
		}
}

/* Host part of pool ids: machine-id where there is one, else random. */
static uint64_t bulk_host_id;
static pthread_once_t bulk_host_once = PTHREAD_ONCE_INIT;
static uint32_t bulk_pool_seq;

static void
bulk_host_id_init(void)
{
	char buf[64] = { 0 };
	uint64_t h = 1469598103934665603ull;
	int fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n > 0) {
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ (uint8_t)buf[i]) * 1099511628211ull;
		/* Mix in boot-unique randomness: containers often share a machine-id. */
	}
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull;
	bulk_host_id = h ^ r;
}

void
bulk_pool_id_new(struct bulk_pool_id *id)
{
	pthread_once(&bulk_host_once, bulk_host_id_init);
	id->host = bulk_host_id;
	id->pid = (uint32_t)getpid();
	id->seq = __atomic_add_fetch(&bulk_pool_seq, 1, __ATOMIC_RELAXED);
}

/* A view with its buffer array; memory comes from the mapper. */
int
bulk_pool_view_create(struct bulk_domain *d, const struct bulk_pool_desc *desc,
		      const struct bulk_pool_mapper *m, struct bulk_pool **out)
{
	struct bulk_pool *p;
	int rc;

	if (desc->count == 0 || desc->buffer_size == 0)
		return -EINVAL;
	p = bulk_zalloc(sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->bufs = bulk_zalloc_aligned(BULK_CACHE_LINE, sizeof(*p->bufs) * desc->count);
	p->free_stack = bulk_zalloc(sizeof(uint32_t) * desc->count);
	if (p->bufs == NULL || p->free_stack == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	p->id = desc->id;
	p->dom = d;
	p->count = desc->count;
	p->buffer_size = desc->buffer_size;
	p->trust = desc->trust;
	p->fd = -1;
	if (m != NULL) {
		rc = m->map(m->arg, p);
		if (rc < 0)
			goto fail;
		p->unmap = m->unmap;
	}
	for (uint32_t i = 0; i < p->count; i++) {
		p->bufs[i].addr = p->base + (size_t)i * p->buffer_size;
		p->bufs[i].pool = p;
		p->bufs[i].index = i;
		p->bufs[i].state = BULK_BUFFER_INVALID;
	}
	bulk_domain_pool_insert(d, p);
	*out = p;
	return 0;
fail:
	bulk_free(p->bufs);
	bulk_free(p->free_stack);
	bulk_free(p);
	return rc;
}

void
bulk_pool_view_destroy(struct bulk_pool *p)
{
	bulk_domain_pool_remove(p->dom, p);
	if (p->unmap != NULL)
		p->unmap(p);
	bulk_free(p->bufs);
	bulk_free(p->free_stack);
	bulk_free(p);
}

bool
bulk_pool_view_holds_nothing(const struct bulk_pool *p)
{
	for (uint32_t i = 0; i < p->count; i++)
		if (p->bufs[i].state != BULK_BUFFER_INVALID)
			return false;
	return true;
}

/* A received view that is on no channel and holds nothing is forgotten. */
void
bulk_pool_view_maybe_drop(struct bulk_pool *p)
{
	if (!p->owns_memory && p->nlinks == 0 && p->npending == 0 &&
	    bulk_pool_view_holds_nothing(p))
		bulk_pool_view_destroy(p);
}
