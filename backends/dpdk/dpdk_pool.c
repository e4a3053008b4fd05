/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK backend, pools in DPDK's own memory (bulk_dpdk_pool_alloc()): one
 * memzone per pool, from EAL's memory (hugepages, or with --no-huge the
 * anonymous memory EAL manages). EAL has made that memory DMA-able for
 * every device it set up, so a pool here needs neither rte_extmem_register()
 * nor a mapping of ours: dpdk_dma.c finds it by its memseg list and takes
 * each page's IOVA as it is. The core does the rest (id, buffer states) as
 * for any new pool (bulk_core_pool_alloc()).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_memzone.h>

#include "dpdk_internal.h"

#define POOL_HUGE_PAGE (2u << 20)

/* The memzone of pool @p id: named by the id, unique in the process. */
static void
pool_mz_name(char *name, size_t n, const struct bulk_pool_id *id)
{
	snprintf(name, n, "bulk_p%" PRIu32 "_%" PRIu32, id->pid, id->seq);
}

static void
pool_unmap(struct bulk_pool *view)
{
	char name[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz;

	if (view->base == NULL)
		return;
	/* No device may reach the memory once it is gone. */
	dpdk_dma_forget(view->base, view->map_len);
	pool_mz_name(name, sizeof(name), &view->id);
	mz = rte_memzone_lookup(name);
	if (mz != NULL && mz->addr == view->base)
		(void)rte_memzone_free(mz);
	view->base = NULL;
}

static const struct rte_memzone *
pool_reserve(const char *name, size_t len, size_t align)
{
	return rte_memzone_reserve_aligned(name, len, SOCKET_ID_ANY, 0, (unsigned)align);
}

static int
pool_map(void *arg, struct bulk_pool *view)
{
	char name[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = (size_t)view->count * view->buffer_size;

	(void)arg;
	pool_mz_name(name, sizeof(name), &view->id);
	len = (len + page - 1) & ~(page - 1);
	mz = pool_reserve(name, len, page);
	if (mz != NULL && mz->hugepage_sz > page) {
		/* Whole pages of EAL's size: the DMA registry describes the
		 * pool page by page (dpdk_dma.c), and so does dpdk_dma_seg(). */
		size_t hp = (size_t)mz->hugepage_sz;

		(void)rte_memzone_free(mz);
		len = (len + hp - 1) & ~(hp - 1);
		page = hp;
		mz = pool_reserve(name, len, hp);
	}
	if (mz == NULL)
		return rte_errno == ENOSPC || rte_errno == EEXIST ? -rte_errno : -ENOMEM;
	view->base = mz->addr;
	view->map_len = len;
	view->fd = -1;
	/* What the DMA registry reads as the page size (dpdk_dma.c). */
	view->mem = page >= POOL_HUGE_PAGE ? BULK_MEM_HUGEPAGE : BULK_MEM_ANON;
	return 0;
}

int
bulk_dpdk_pool_alloc(struct bulk_domain *d, const struct bulk_pool_params *params,
		     struct bulk_pool **out)
{
	struct bulk_pool_mapper m = { .map = pool_map, .unmap = pool_unmap };

	if (params != NULL && params->mem != BULK_MEM_ANON)
		return -EINVAL;
	return bulk_core_pool_alloc(d, params, &m, out);
}
