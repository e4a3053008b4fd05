/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nbs-proxy's read cache (cache.h says what it does).
 *
 * An index entry per block number that the cache holds or watches:
 *   VALID    holds the block's data in a cache buffer (on the LRU);
 *   FILLING  a READ miss is upstream and will fill it when it comes back;
 *   EMPTY    neither: kept only while writes over it are in flight.
 * A write in flight over a block keeps an entry with its count, so that a
 * READ that starts meanwhile does not fill (the upstream may answer it
 * with the data from before the write); a write over more than
 * PXC_BIG_KEYS blocks is counted once for the whole cache instead, and
 * while one is in flight nothing fills.
 *
 * Buffers: a free buffer is in the pool's free list; a VALID entry's
 * buffer is the proxy's (READ_WRITE, or RO_OWNED while users hold copies:
 * the core tracks them, buf->copies_out); a buffer whose entry went while
 * copies were out is a zombie until they are all back (px_cache_reap()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bulk/bulk_alloc.h>

#include "cache.h"

#define PXC_BIG_KEYS   1024u
/* LRU entries looked at for one eviction before giving up. */
#define PXC_EVICT_SCAN 64u

enum pxc_state { PXC_EMPTY, PXC_FILLING, PXC_VALID };

struct pxc_ent {
	struct pxc_ent *hnext;	       /* hash chain */
	struct pxc_ent *lprev, *lnext; /* LRU, most recent first (VALID only) */
	uint64_t key;		       /* block number */
	struct bulk_buffer *buf;       /* VALID: the data */
	uint32_t writes;	       /* writes in flight over it */
	uint8_t state;
	bool filling; /* a READ's data will come back for it */
};

struct px_cache {
	struct bulk_pool *pool;
	uint32_t bsize;
	uint32_t nblocks;
	uint32_t shift; /* log2(bsize) */
	uint64_t nkeys; /* blocks of the export */
	struct pxc_ent **hash;
	uint64_t hmask;
	struct pxc_ent lru; /* sentinel */
	struct bulk_buffer **zombies;
	uint32_t nzombies;
	uint32_t big_writes;
	uint32_t used;
	/* Markers in req->user: a write counted per block, or as big. */
	char write_mark, big_mark;
	struct px_cache_stats st;
};

int
px_cache_create(struct bulk_domain *dom, uint64_t bytes, uint32_t block,
		const struct bulk_bs_info *info, struct px_cache **out)
{
	struct px_cache *pc;
	struct bulk_pool_params pp = { 0 };
	uint64_t n = block ? bytes / block : 0, h = 1;
	int rc;

	if (block < 4096 || (block & (block - 1)) != 0 || n < 2 || n > BULK_POOL_MAX_BUFFERS ||
	    block % info->block_min != 0 || block > info->block_max)
		return -EINVAL;
	pc = calloc(1, sizeof(*pc));
	if (pc == NULL)
		return -ENOMEM;
	pc->bsize = block;
	pc->nblocks = (uint32_t)n;
	pc->shift = (uint32_t)__builtin_ctz(block);
	pc->nkeys = info->size >> pc->shift;
	while (h < 2 * n)
		h <<= 1;
	pc->hmask = h - 1;
	pc->hash = calloc(h, sizeof(*pc->hash));
	pc->zombies = calloc(n, sizeof(*pc->zombies));
	pc->lru.lnext = pc->lru.lprev = &pc->lru;
	if (pc->hash == NULL || pc->zombies == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	/* Memory a user's process can map (shm), read-only there: HALF. */
	pp.count = pc->nblocks;
	pp.buffer_size = block;
	pp.align = 4096;
	pp.trust = BULK_TRUST_HALF;
	pp.mem = BULK_MEM_MEMFD;
	rc = bulk_pool_alloc(dom, &pp, &pc->pool);
	if (rc < 0)
		goto fail;
	pc->st.blocks = pc->nblocks;
	pc->st.block_size = block;
	*out = pc;
	return 0;
fail:
	free(pc->hash);
	free(pc->zombies);
	free(pc);
	return rc;
}

struct bulk_pool *
px_cache_pool(const struct px_cache *pc)
{
	return pc != NULL ? pc->pool : NULL;
}

/* ----------------------------------------------------------- the index */

static struct pxc_ent **
slot(struct px_cache *pc, uint64_t key)
{
	/* Fibonacci hashing: neighbouring blocks spread. */
	return &pc->hash[(key * 0x9e3779b97f4a7c15ull) >> 20 & pc->hmask];
}

static struct pxc_ent *
lookup(struct px_cache *pc, uint64_t key)
{
	for (struct pxc_ent *e = *slot(pc, key); e != NULL; e = e->hnext)
		if (e->key == key)
			return e;
	return NULL;
}

static struct pxc_ent *
ent_new(struct px_cache *pc, uint64_t key)
{
	struct pxc_ent *e = calloc(1, sizeof(*e));
	struct pxc_ent **s = slot(pc, key);

	if (e == NULL)
		return NULL;
	e->key = key;
	e->state = PXC_EMPTY;
	e->hnext = *s;
	*s = e;
	return e;
}

static void
ent_free(struct px_cache *pc, struct pxc_ent *e)
{
	for (struct pxc_ent **pp = slot(pc, e->key); *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	free(e);
}

/* An EMPTY entry nobody waits on any more goes. */
static void
ent_maybe_free(struct px_cache *pc, struct pxc_ent *e)
{
	if (e->state == PXC_EMPTY && e->writes == 0 && !e->filling)
		ent_free(pc, e);
}

static void
lru_del(struct pxc_ent *e)
{
	e->lprev->lnext = e->lnext;
	e->lnext->lprev = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void
lru_push(struct px_cache *pc, struct pxc_ent *e)
{
	e->lnext = pc->lru.lnext;
	e->lprev = &pc->lru;
	pc->lru.lnext->lprev = e;
	pc->lru.lnext = e;
}

/* ------------------------------------------------------------- blocks */

static bool
block_idle(const struct bulk_buffer *b)
{
	return b->state == BULK_BUFFER_READ_WRITE && b->copies_out == 0;
}

/* A block leaves the index: free now, or once its copies are back. */
static void
block_drop(struct px_cache *pc, struct bulk_buffer *b)
{
	if (block_idle(b)) {
		(void)bulk_pool_put(b);
		return;
	}
	pc->zombies[pc->nzombies++] = b;
	pc->st.deferred++;
}

int
px_cache_reap(struct px_cache *pc)
{
	int n = 0;

	if (pc == NULL)
		return 0;
	for (uint32_t i = 0; i < pc->nzombies;) {
		struct bulk_buffer *b = pc->zombies[i];

		if (block_idle(b)) {
			(void)bulk_pool_put(b);
			pc->zombies[i] = pc->zombies[--pc->nzombies];
			n++;
		} else {
			i++;
		}
	}
	return n;
}

/* Drop a VALID or FILLING entry's claim: it becomes EMPTY. */
static void
invalidate(struct px_cache *pc, struct pxc_ent *e)
{
	if (e->state == PXC_VALID) {
		lru_del(e);
		block_drop(pc, e->buf);
		e->buf = NULL;
		pc->used--;
		pc->st.invalidations++;
	}
	e->state = PXC_EMPTY;
}

static struct bulk_buffer *
block_alloc(struct px_cache *pc)
{
	struct bulk_buffer *b = bulk_pool_get(pc->pool);
	struct pxc_ent *e, *prev;
	unsigned looked = 0;

	if (b != NULL)
		return b;
	if (px_cache_reap(pc) > 0)
		return bulk_pool_get(pc->pool);
	/* The least recently used block that no user holds a copy of. */
	for (e = pc->lru.lprev; e != &pc->lru && looked < PXC_EVICT_SCAN; e = prev, looked++) {
		prev = e->lprev;
		if (!block_idle(e->buf))
			continue;
		b = e->buf;
		lru_del(e);
		pc->used--;
		ent_free(pc, e);
		pc->st.evictions++;
		return b;
	}
	return NULL;
}

/* ----------------------------------------------------------- requests */

static bool
is_write(unsigned op)
{
	return op == BULK_BS_OP_WRITE || op == BULK_BS_OP_TRIM || op == BULK_BS_OP_WRITE_ZEROES;
}

/* Blocks [*k0, *k1] that the range overlaps. @return false for none. */
static bool
range_keys(const struct px_cache *pc, uint64_t off, uint32_t len, uint64_t *k0, uint64_t *k1)
{
	if (len == 0)
		return false;
	*k0 = off >> pc->shift;
	*k1 = (off + len - 1) >> pc->shift;
	return true;
}

/* Every entry in blocks [k0, k1], by a walk of the whole index: for a
 * range too big to look up block by block. */
static void
invalidate_scan(struct px_cache *pc, uint64_t k0, uint64_t k1)
{
	for (uint64_t h = 0; h <= pc->hmask; h++) {
		struct pxc_ent *e = pc->hash[h], *next;

		for (; e != NULL; e = next) {
			next = e->hnext;
			if (e->key >= k0 && e->key <= k1) {
				invalidate(pc, e);
				ent_maybe_free(pc, e);
			}
		}
	}
}

void
px_cache_invalidate(struct px_cache *pc, uint64_t offset, uint64_t length)
{
	uint64_t k0, k1;

	if (pc == NULL || length == 0)
		return;
	k0 = offset >> pc->shift;
	k1 = (offset + length - 1) >> pc->shift;
	if (k1 - k0 < PXC_BIG_KEYS) {
		for (uint64_t k = k0; k <= k1; k++) {
			struct pxc_ent *e = lookup(pc, k);

			if (e != NULL) {
				invalidate(pc, e);
				ent_maybe_free(pc, e);
			}
		}
		return;
	}
	invalidate_scan(pc, k0, k1);
}

static void
write_start(struct px_cache *pc, struct bulk_bs_request *req)
{
	uint64_t k0, k1;

	if (!range_keys(pc, req->offset, req->length, &k0, &k1))
		return;
	if (k1 - k0 < PXC_BIG_KEYS) {
		uint64_t k;

		for (k = k0; k <= k1; k++) {
			struct pxc_ent *e = lookup(pc, k);

			if (e == NULL && (e = ent_new(pc, k)) == NULL)
				break;
			invalidate(pc, e);
			e->writes++;
		}
		if (k > k1) {
			req->user = &pc->write_mark;
			return;
		}
		/* Out of memory half way: undo the counts, count it as big. */
		for (uint64_t j = k0; j < k; j++) {
			struct pxc_ent *e = lookup(pc, j);

			e->writes--;
			ent_maybe_free(pc, e);
		}
	}
	/* A big one: every entry it overlaps is invalidated, and nothing
	 * fills until it is done. */
	invalidate_scan(pc, k0, k1);
	pc->big_writes++;
	req->user = &pc->big_mark;
}

static void
write_end(struct px_cache *pc, struct bulk_bs_request *req)
{
	uint64_t k0, k1;

	if (req->user == &pc->big_mark) {
		pc->big_writes--;
		return;
	}
	if (!range_keys(pc, req->offset, req->length, &k0, &k1))
		return;
	for (uint64_t k = k0; k <= k1; k++) {
		struct pxc_ent *e = lookup(pc, k);

		if (e == NULL || e->writes == 0)
			continue; /* cannot be: counted at the start */
		e->writes--;
		ent_maybe_free(pc, e);
	}
}

bool
px_cache_request(struct px_cache *pc, struct bulk_bs_request *req)
{
	struct pxc_ent *e;
	uint64_t key;

	req->user = NULL;
	if (is_write(req->op)) {
		write_start(pc, req);
		return false;
	}
	if (req->op != BULK_BS_OP_READ)
		return false;
	if (req->length != pc->bsize || (req->offset & (pc->bsize - 1)) != 0) {
		pc->st.bypass++;
		return false;
	}
	key = req->offset >> pc->shift;
	e = lookup(pc, key);
	if (e != NULL && e->state == PXC_VALID) {
		pc->st.hits++;
		lru_del(e);
		lru_push(pc, e);
		/* A copy of the block: nothing copied. The user may hold one
		 * of it already, or have no copy channel: then one memcpy. */
		if (bulk_bs_request_complete_copy(req, e->buf) == 0) {
			pc->st.copy_hits++;
			pc->st.copy_bytes += pc->bsize;
			return true;
		}
		memcpy(req->data, e->buf->addr, pc->bsize);
		pc->st.memcpy_hits++;
		pc->st.memcpy_bytes += pc->bsize;
		(void)bulk_bs_request_complete(req, 0);
		return true;
	}
	pc->st.misses++;
	if (pc->big_writes > 0 || (e != NULL && (e->writes > 0 || e->filling))) {
		pc->st.fill_skipped++;
		return false;
	}
	if (e == NULL && (e = ent_new(pc, key)) == NULL) {
		pc->st.fill_skipped++;
		return false;
	}
	e->state = PXC_FILLING;
	e->filling = true;
	req->user = e;
	return false;
}

void
px_cache_done(struct px_cache *pc, struct bulk_bs_request *req, int status)
{
	struct pxc_ent *e;
	struct bulk_buffer *b;

	if (pc == NULL || req->user == NULL)
		return;
	if (req->user == &pc->write_mark || req->user == &pc->big_mark) {
		write_end(pc, req);
		req->user = NULL;
		return;
	}
	e = req->user;
	req->user = NULL;
	e->filling = false;
	if (e->state != PXC_FILLING) {
		/* A write came meanwhile. */
		pc->st.fill_skipped++;
		ent_maybe_free(pc, e);
		return;
	}
	b = status == 0 ? block_alloc(pc) : NULL;
	if (b == NULL) {
		if (status == 0)
			pc->st.fill_skipped++;
		e->state = PXC_EMPTY;
		ent_maybe_free(pc, e);
		return;
	}
	/* The one copy a miss costs: the user's buffer into the block. */
	memcpy(b->addr, req->data, pc->bsize);
	e->buf = b;
	e->state = PXC_VALID;
	lru_push(pc, e);
	pc->used++;
	pc->st.fills++;
	pc->st.fill_bytes += pc->bsize;
}

void
px_cache_stats_get(const struct px_cache *pc, struct px_cache_stats *st)
{
	*st = pc->st;
	st->used = pc->used;
	st->zombies = pc->nzombies;
}

int
px_cache_free(struct px_cache *pc)
{
	int rc = 0;

	if (pc == NULL)
		return 0;
	(void)px_cache_reap(pc);
	for (uint64_t h = 0; h <= pc->hmask; h++)
		while (pc->hash[h] != NULL) {
			struct pxc_ent *e = pc->hash[h];

			pc->hash[h] = e->hnext;
			free(e);
		}
	if (pc->pool != NULL && bulk_pool_free(pc->pool) < 0)
		rc = -EBUSY;
	free(pc->hash);
	free(pc->zombies);
	free(pc);
	return rc;
}
