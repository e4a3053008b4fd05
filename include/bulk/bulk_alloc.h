/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file bulk_alloc.h
 * Pool allocator: allocate a pool with constraints, hand out and take back
 * its buffers. The allocator is apart from the core (spec 6.4): a domain can
 * use channels with pools it only ever received.
 *
 * Buffer memory is page aligned and never comes from the control-structure
 * allocator. A freshly allocated pool is in the domain's pool list, every
 * buffer READ_WRITE and in the pool's free list.
 */
#ifndef BULK_ALLOC_H
#define BULK_ALLOC_H

#include <bulk/bulk.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Where buffer memory comes from. */
enum bulk_mem_kind {
	BULK_MEM_ANON = 0,  /**< private anonymous mapping (default) */
	BULK_MEM_MEMFD,     /**< memfd, shareable with other processes (shm backend) */
	BULK_MEM_HUGEPAGE,  /**< MAP_HUGETLB 2 MiB pages; -ENOMEM if none are reserved */
};

/** Pool constraints; zero means default. */
struct bulk_pool_params {
	uint32_t count;        /**< number of buffers (required, > 0) */
	uint32_t buffer_size;  /**< bytes per buffer (required, multiple of align) */
	uint32_t align;        /**< buffer alignment, power of two; 0: 64 */
	enum bulk_trust trust; /**< 0: fixed at the first assignment */
	enum bulk_mem_kind mem;
};

/**
 * Allocate a pool (Algorithm 5) with a fresh unique id.
 * @return 0;
 *   -EINVAL (NULL, count 0 or above BULK_POOL_MAX_BUFFERS, buffer_size 0 or
 *   not a multiple of align, align not a power of two or above the page
 *   size, bad enum, more than 2^47 bytes);
 *   -ENOMEM (no memory, no hugepages); other negative errno from mmap/memfd.
 */
int bulk_pool_alloc(struct bulk_domain *d, const struct bulk_pool_params *params,
		    struct bulk_pool **out);

/**
 * Free a pool view: unmap (if this domain allocated the memory) and drop
 * it from the domain's list.
 * @return 0; -EINVAL;
 *   -BULK_E_POOL_ASSIGNED (assigned to a channel, or an assignment is pending);
 *   -BULK_E_POOL_IN_USE (this domain allocated it and does not own every
 *   buffer READ_WRITE: some are away or copied; or it is a received view
 *   that still owns buffers or has copies of them out). Exception: a
 *   received view whose only channel closed because its peer died may be
 *   freed with buffers it owns: they have no way home any more, and the
 *   process upstream of the dead peer took back what went through it.
 */
int bulk_pool_free(struct bulk_pool *pool);

/**
 * Give up a received view that is on no channel, with whatever buffers it
 * still owns: they are forgotten here (their data stays with the pool's
 * allocator, which never gets them back through us). For a server whose
 * client tore its channel down while the server held its buffers: after an
 * orderly teardown the view is kept (bulk_pool_free() refuses) because the
 * allocator may assign the pool again to take its buffers home; a server
 * that will not wait for that drops it here.
 * @return 0; -EINVAL (NULL);
 *   -BULK_E_POOL_ASSIGNED (assigned to a channel, or an assignment is pending);
 *   -BULK_E_POOL_IN_USE (this domain allocated the pool: free it instead;
 *   or it has copies out, which others still hold).
 */
int bulk_pool_drop(struct bulk_pool *pool);

/**
 * Take up to @p n buffers from the pool's free list (0..n).
 * @return number taken; -EINVAL.
 */
int bulk_pool_get_burst(struct bulk_pool *pool, struct bulk_buffer **bufs, unsigned n);

/**
 * Return buffers to their pool's free list. All-or-nothing.
 * @return n; -EINVAL (NULL, buffer of another pool);
 *   -BULK_E_NOT_OWNER (not READ_WRITE in this domain);
 *   -BULK_E_BUFFER_FREE (already in the free list); -BULK_E_DUPLICATE.
 */
int bulk_pool_put_burst(struct bulk_pool *pool, struct bulk_buffer *const *bufs, unsigned n);

/** One buffer from the free list, or NULL if it is empty. */
struct bulk_buffer *bulk_pool_get(struct bulk_pool *pool);

/** Return one buffer; see bulk_pool_put_burst(). @return 0 or its errors. */
int bulk_pool_put(struct bulk_buffer *buf);

/** @return buffers in the free list. */
uint32_t bulk_pool_free_count(const struct bulk_pool *pool);

/** @return the memfd of a BULK_MEM_MEMFD pool, or -ENOTSUP. */
int bulk_pool_fd(const struct bulk_pool *pool);

#ifdef __cplusplus
}
#endif

#endif /* BULK_ALLOC_H */
