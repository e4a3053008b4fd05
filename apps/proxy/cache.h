/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nbs-proxy's read cache (--cache SIZE), shared by every user of the
 * proxy: a pool of SIZE / --cache-block blocks of the proxy's own memory
 * (a memfd, HALF trust), an index from block number to block, and an LRU
 * of the blocks that hold data.
 *
 * Only READs of exactly one aligned cache block are cached. A hit is
 * answered with a read-only copy of the block on the user's copy channel
 * (no byte copied: the spec's copy, docs/blockservice.md section 10), or,
 * for a user without one, by one memcpy into the user's buffer (counted).
 * A miss goes upstream in the user's buffer as before, and its data is
 * copied once into a free block on the way back (counted).
 *
 * Writes (WRITE, TRIM, WRITE_ZEROES) invalidate every block they overlap
 * before they go upstream; while one is in flight no READ fills a block it
 * overlaps (a READ that raced it may have read the old data). A block with
 * copies out is never written and never reused: invalidated, it leaves the
 * index at once and its buffer goes back to the free list only once the
 * last copy came back (copy on write: a slow reader never holds a writer
 * up). The core gives back the copies of a user that dies (its copy
 * channel closes), so its blocks come back too.
 */
#ifndef PX_CACHE_H
#define PX_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include <bulk/bulk.h>
#include <bulk/bulk_bs.h>

struct px_cache;

struct px_cache_stats {
	uint64_t hits;		/* READs answered from the cache */
	uint64_t copy_hits;	/* of which as read-only copies */
	uint64_t copy_bytes;	/* their bytes (none copied) */
	uint64_t memcpy_hits;	/* of which by memcpy into the user's buffer */
	uint64_t memcpy_bytes;	/* their bytes, copied once */
	uint64_t misses;	/* cacheable READs that went upstream */
	uint64_t fills;		/* blocks filled from a miss's data */
	uint64_t fill_bytes;	/* bytes copied into the cache */
	uint64_t fill_skipped;	/* misses not cached: a write raced them, or no free block */
	uint64_t bypass;	/* READs the cache does not hold (size or alignment) */
	uint64_t invalidations; /* blocks dropped by writes */
	uint64_t evictions;	/* blocks dropped to make room */
	uint64_t deferred;	/* dropped with copies out: freed once they came back */
	uint64_t blocks, block_size, used, zombies;
};

/*
 * A cache of @p bytes in blocks of @p block bytes (a power of two, at
 * least the page size) for an export of @p info.
 * @return 0; -EINVAL (too small: fewer than 2 blocks; a block the export
 *   cannot address); -ENOMEM; bulk_pool_alloc()'s errors.
 */
int px_cache_create(struct bulk_domain *dom, uint64_t bytes, uint32_t block,
		    const struct bulk_bs_info *info, struct px_cache **out);
/* Free the cache: every copy must be back (every user gone). @return 0 or -EBUSY. */
int px_cache_free(struct px_cache *pc);
/* The pool to assign on users' copy channels. */
struct bulk_pool *px_cache_pool(const struct px_cache *pc);

/*
 * A user's request arrives. @return true if the cache answered it (a hit:
 * the request is completed); false: forward it upstream, then call
 * px_cache_done() with its status before completing it.
 */
bool px_cache_request(struct px_cache *pc, struct bulk_bs_request *req);
/* A forwarded request's upstream status is in (before the user's completion). */
void px_cache_done(struct px_cache *pc, struct bulk_bs_request *req, int status);
/*
 * For a write that reaches the upstream some other way (the NBD front end,
 * nbd.c): call this for its range when it is submitted and again when it
 * completed. Blocks it overlaps leave the index, and a READ filling one
 * meanwhile does not fill (it may carry the data from before the write).
 */
void px_cache_invalidate(struct px_cache *pc, uint64_t offset, uint64_t length);
/* Give back blocks whose copies all came home. @return blocks freed. */
int px_cache_reap(struct px_cache *pc);

void px_cache_stats_get(const struct px_cache *pc, struct px_cache_stats *st);

#endif /* PX_CACHE_H */
