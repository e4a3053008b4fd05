/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DMA-able pools: the registry of pool memory that the ports' devices may
 * read and write.
 *
 * A pool on a channel of a dpdk port is registered with DPDK
 * (rte_extmem_register(): a memseg list of its own, with the IOVA of every
 * page in IOVA-as-PA mode, RTE_BAD_IOVA in IOVA-as-VA mode, where the
 * IOVA is the address) and mapped for the port's device
 * (rte_dev_dma_map(); vdevs without a mapping of their own answer 0 or
 * -ENOTSUP, which we take as "nothing to map"). Memory that is DPDK's own
 * (rte_malloc, memzones) needs neither. External memory is process-wide in
 * DPDK, so the registry is too: one region per pool memory, counted by the
 * channel slots that hold it, with a count per device it is mapped for
 * (several ports may share a device, several channels a pool). A
 * channel's slots are kept in step with the core's (dpdk_dma_chan_sync(),
 * at every control message and when the channel goes); a received view's
 * memory is forgotten when the view is unmapped (dpdk_dma_forget()); and a
 * region overlapping a pool being registered is stale (two live pools
 * never share memory: the old one was freed and its memory reused), so it
 * is dropped first.
 *
 * Zero-copy frames find the region of their message (dpdk_rel.c) and take
 * each segment's IOVA from its page table (dpdk_dma_seg()); a segment ends
 * where the next page's IOVA does not follow. A pool whose memory could
 * not be registered (someone else registered it, a page without an IOVA,
 * mlock() refused) has no region: its frames are copied and counted.
 *
 * Everything here runs under dma_lock, except dpdk_dma_seg(), which reads
 * a region its caller holds a reference to (its table never changes).
 */
#define ALLOW_EXPERIMENTAL_API 1

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_memory.h>

#include <bulk/bulk_alloc.h>

#include "dpdk_internal.h"

#define DMA_MAX_DEVS 8u
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels say EINVAL */
#endif
#define DMA_HUGE_PAGE (2u << 20)

struct dpdk_dma_dev {
	struct rte_device *dev;
	unsigned refs;
	bool mapped;               /* rte_dev_dma_map() did something to undo */
};

struct dpdk_dma_region {
	struct dpdk_dma_region *next;
	uint8_t *va;
	size_t len;                /* a multiple of page */
	size_t page;
	rte_iova_t *iova;          /* per page (IOVA-as-PA); NULL: IOVA = VA */
	bool pa;
	bool registered;           /* rte_extmem_register() is ours to undo */
	bool locked;               /* mlock() is ours to undo */
	bool dead;                 /* out of the list: only references keep it */
	unsigned refs;
	unsigned ndevs;
	struct dpdk_dma_dev devs[DMA_MAX_DEVS];
};

static pthread_mutex_t dma_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dpdk_dma_region *regions;

static struct rte_device *
port_dev(const struct bulk_dpdk_port *l)
{
	struct rte_eth_dev_info info;

	if (rte_eth_dev_info_get(l->port_id, &info) < 0)
		return NULL;
	return info.device;
}

/*
 * Map (or unmap) the first @p upto bytes of @p r for @p dev, one call per
 * run of pages whose IOVAs follow each other (one run in IOVA-as-VA mode).
 * @return 0, or -1 with rte_errno of the first failure (mapping: what was
 * mapped is unmapped again).
 */
static int
region_dma(const struct dpdk_dma_region *r, struct rte_device *dev, bool map, size_t upto)
{
	size_t o = 0;

	while (o < upto) {
		size_t n = r->page;
		uint64_t iova = r->pa ? r->iova[o / r->page] : (uint64_t)(uintptr_t)(r->va + o);
		int rc;

		while (r->pa && o + n < upto && r->iova[(o + n) / r->page] == iova + n)
			n += r->page;
		if (!r->pa)
			n = upto - o;
		rc = map ? rte_dev_dma_map(dev, r->va + o, iova, n)
			 : rte_dev_dma_unmap(dev, r->va + o, iova, n);
		if (rc < 0 && map) {
			int err = rte_errno;

			(void)region_dma(r, dev, false, o);
			rte_errno = err;
			return -1;
		}
		o += n;
	}
	return 0;
}

/* Undo what was done for @p r's memory (its struct lives on while referenced). */
static void
region_kill(struct dpdk_dma_region *r, bool memory_alive)
{
	for (unsigned i = 0; i < r->ndevs; i++)
		if (r->devs[i].mapped)
			(void)region_dma(r, r->devs[i].dev, false, r->len);
	r->ndevs = 0;
	if (r->registered)
		(void)rte_extmem_unregister(r->va, r->len);
	r->registered = false;
	if (r->locked && memory_alive)
		(void)munlock(r->va, r->len);
	r->locked = false;
	r->dead = true;
	for (struct dpdk_dma_region **pp = &regions; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
}

static void
region_free(struct dpdk_dma_region *r)
{
	free(r->iova);
	free(r);
}

/* Register @p va .. + @p len (page aligned). @return the region, or NULL (errno in *rc). */
static struct dpdk_dma_region *
region_make(uint8_t *va, size_t len, size_t page, int *rc)
{
	const struct rte_memseg_list *msl = rte_mem_virt2memseg_list(va);
	struct dpdk_dma_region *r = calloc(1, sizeof(*r));
	size_t npages = len / page;

	if (r == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	r->va = va;
	r->len = len;
	r->page = page;
	r->pa = rte_eal_iova_mode() != RTE_IOVA_VA;
	if (msl != NULL && msl->external) {
		/* Someone else's registration: we do not know what it maps. */
		*rc = -EEXIST;
		goto fail;
	}
	if (msl != NULL)
		r->page = page = msl->page_sz; /* DPDK's own memory: DMA-able as it is */
	npages = len / page;
	if (r->pa) {
		/* Physical pages must stay where they are while devices use them. */
		if (msl == NULL) {
			/* Every page present and written to (no shared zero page),
			 * without touching the data; then kept there. mlock() alone
			 * populates too, but sanitizers make it a no-op. */
			(void)madvise(va, len, MADV_POPULATE_WRITE);
			if (mlock(va, len) < 0) {
				*rc = -errno;
				goto fail;
			}
			r->locked = true;
		}
		r->iova = malloc(npages * sizeof(*r->iova));
		if (r->iova == NULL) {
			*rc = -ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < npages; i++) {
			r->iova[i] = rte_mem_virt2iova(va + i * page);
			if (r->iova[i] == RTE_BAD_IOVA) {
				*rc = -EFAULT;
				goto fail;
			}
		}
	}
	if (msl == NULL) {
		if (rte_extmem_register(va, len, r->iova, (unsigned)npages, page) < 0) {
			*rc = -rte_errno;
			goto fail;
		}
		r->registered = true;
	}
	r->next = regions;
	regions = r;
	return r;
fail:
	if (r->locked)
		(void)munlock(va, len);
	region_free(r);
	return NULL;
}

/* Map @p r for @p dev (counted). @return 0 or a negative errno. */
static int
region_map(struct dpdk_dma_region *r, struct rte_device *dev)
{
	struct dpdk_dma_dev *d = NULL;

	for (unsigned i = 0; i < r->ndevs; i++)
		if (r->devs[i].dev == dev)
			d = &r->devs[i];
	if (d == NULL) {
		if (r->ndevs == DMA_MAX_DEVS)
			return -ENOSPC;
		d = &r->devs[r->ndevs];
		*d = (struct dpdk_dma_dev){ .dev = dev };
		/* DPDK's own memory is mapped for every device already. */
		if (r->registered && region_dma(r, dev, true, r->len) < 0) {
			/* Devices that need no mapping of ours (vdevs) say so. */
			if (rte_errno != ENOTSUP)
				return -rte_errno;
		} else if (r->registered) {
			d->mapped = true;
		}
		r->ndevs++;
	}
	d->refs++;
	return 0;
}

static void
region_put(struct dpdk_dma_region *r, struct rte_device *dev)
{
	if (!r->dead) {
		for (unsigned i = 0; i < r->ndevs; i++) {
			struct dpdk_dma_dev *d = &r->devs[i];

			if (d->dev != dev || --d->refs > 0)
				continue;
			if (d->mapped)
				(void)region_dma(r, dev, false, r->len);
			r->devs[i] = r->devs[--r->ndevs];
			break;
		}
	}
	if (--r->refs > 0)
		return;
	if (!r->dead)
		region_kill(r, true);
	region_free(r);
}

/* A hugepage pool registers 2 MiB pages, every other kind 4 KiB ones. */
static size_t
pool_page(const struct bulk_pool *p)
{
	return p->mem == BULK_MEM_HUGEPAGE ? DMA_HUGE_PAGE : (size_t)sysconf(_SC_PAGESIZE);
}

/*
 * Make @p p DMA-able for @p l's device. @return 0 with *out, or a negative
 * errno (*out NULL: its frames are copied).
 */
static int
dma_get(struct bulk_dpdk_port *l, const struct bulk_pool *p, struct dpdk_dma_region **out)
{
	struct rte_device *dev = port_dev(l);
	struct dpdk_dma_region *r;
	size_t page = pool_page(p);
	uint8_t *va;
	size_t len;
	int rc = 0;

	*out = NULL;
	if (dev == NULL || p->base == NULL || p->map_len == 0)
		return -EINVAL;
	va = (uint8_t *)((uintptr_t)p->base & ~(uintptr_t)(page - 1));
	len = ((size_t)(p->base - va) + p->map_len + page - 1) & ~(page - 1);
	pthread_mutex_lock(&dma_lock);
	for (r = regions; r != NULL; r = r->next)
		if (r->va == va && r->len == len)
			break;
	if (r == NULL) {
		/* What overlaps is memory that was freed and reused. */
		for (struct dpdk_dma_region *q = regions, *nx; q != NULL; q = nx) {
			nx = q->next;
			if (q->va < va + len && va < q->va + q->len) {
				region_kill(q, false);
				if (q->refs == 0)
					region_free(q);
			}
		}
		r = region_make(va, len, page, &rc);
	}
	if (r != NULL) {
		rc = region_map(r, dev);
		if (rc == 0) {
			r->refs++;
			*out = r;
		} else if (r->refs == 0) {
			region_kill(r, true);
			region_free(r);
		}
	}
	pthread_mutex_unlock(&dma_lock);
	if (rc < 0)
		l->st.dma_failed++;
	return rc;
}

static void
dma_put(struct bulk_dpdk_port *l, struct dpdk_dma_region *r)
{
	pthread_mutex_lock(&dma_lock);
	region_put(r, port_dev(l));
	pthread_mutex_unlock(&dma_lock);
}

void
dpdk_dma_chan_sync(struct dpdk_chan *c, bool release_all)
{
	struct bulk_dpdk_port *l = c->port;

	for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++) {
		const struct bulk_chan_pool *cp = &c->ch.slots[s];
		const struct bulk_pool *p = cp->state != BULK_SLOT_FREE ? cp->pool : NULL;

		if (release_all || l == NULL)
			p = NULL;
		if (c->dma_pool[s] == p)
			continue;
		if (c->dma[s] != NULL) {
			dma_put(l, c->dma[s]);
			c->dma[s] = NULL;
			l->st.dma_regions--;
		}
		c->dma_pool[s] = p;
		if (p != NULL && dma_get(l, p, &c->dma[s]) == 0)
			l->st.dma_regions++;
	}
}

void
dpdk_dma_slot_drop(struct dpdk_chan *c, uint16_t slot)
{
	if (slot >= BULK_CHANNEL_MAX_POOLS || c->port == NULL)
		return;
	if (c->dma[slot] != NULL) {
		dma_put(c->port, c->dma[slot]);
		c->dma[slot] = NULL;
		c->port->st.dma_regions--;
	}
	c->dma_pool[slot] = NULL;
}

void
dpdk_dma_forget(const void *va, size_t len)
{
	const uint8_t *a = va;

	pthread_mutex_lock(&dma_lock);
	for (struct dpdk_dma_region *q = regions, *nx; q != NULL; q = nx) {
		nx = q->next;
		if (q->va < a + len && a < q->va + q->len) {
			region_kill(q, true);
			if (q->refs == 0)
				region_free(q);
		}
	}
	pthread_mutex_unlock(&dma_lock);
}

uint32_t
dpdk_dma_seg(const struct dpdk_dma_region *r, const uint8_t *va, uint32_t left, uint32_t max,
	     rte_iova_t *iova)
{
	uintptr_t page;
	size_t n;
	rte_iova_t first, want;

	if (left > max)
		left = max;
	if (r != NULL ? !r->pa : rte_eal_iova_mode() == RTE_IOVA_VA) {
		*iova = (rte_iova_t)(uintptr_t)va;
		return left;
	}
	page = r != NULL ? r->page : (uintptr_t)sysconf(_SC_PAGESIZE);
	if (r != NULL) {
		size_t o = (size_t)(va - r->va);

		first = r->iova[o / page] + o % page;
	} else {
		first = rte_mem_virt2iova(va);
		if (first == RTE_BAD_IOVA)
			return 0;
	}
	*iova = first;
	/* To the end of this page, then whole pages while their IOVA follows. */
	n = page - ((uintptr_t)va & (page - 1));
	while (n < left) {
		const uint8_t *next = va + n;
		rte_iova_t at;

		if (r != NULL)
			at = r->iova[(size_t)(next - r->va) / page];
		else
			at = rte_mem_virt2iova(next);
		want = first + n;
		if (at != want)
			break;
		n += page;
	}
	return n < left ? (uint32_t)n : left;
}
