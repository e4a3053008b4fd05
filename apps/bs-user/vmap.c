/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verification map. Every block of the range has the generation of
 * the last write the server acknowledged to it; a block's content is a
 * pattern derived from (seed, block, generation), so a read is checked
 * against exactly what was last acknowledged, and data that landed in the
 * wrong block, a stale generation or a torn write all show. A request
 * holds its block busy, so no read races a write to the same block.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bs_user.h"

int
bsu_vmap_init(struct bsu_vmap *m, uint64_t nblocks, uint32_t bs, uint64_t seed)
{
	m->nblocks = nblocks;
	m->bs = bs;
	m->seed = seed;
	m->gen = calloc(nblocks, sizeof(*m->gen));
	m->busy = calloc(nblocks, 1);
	if (m->gen == NULL || m->busy == NULL) {
		bsu_vmap_fini(m);
		return -ENOMEM;
	}
	return 0;
}

void
bsu_vmap_fini(struct bsu_vmap *m)
{
	free(m->gen);
	free(m->busy);
	m->gen = NULL;
	m->busy = NULL;
}

static inline uint64_t
mix64(uint64_t x)
{
	/* splitmix64's finaliser: every input bit reaches every output bit. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline uint64_t
word(uint64_t key, uint64_t i)
{
	/* Cheap per word, different in every word, block and generation. */
	return key + i * 0x9e3779b97f4a7c15ull;
}

void
bsu_pattern_fill(const struct bsu_vmap *m, void *p, uint64_t b, uint32_t gen)
{
	uint64_t key = mix64(m->seed ^ mix64(b * 0x100000001b3ull + gen));
	uint64_t *w = p;

	for (uint64_t i = 0; i < m->bs / 8; i++)
		w[i] = word(key, i);
}

bool
bsu_pattern_check(const struct bsu_vmap *m, const void *p, uint64_t b, uint32_t gen)
{
	uint64_t key = mix64(m->seed ^ mix64(b * 0x100000001b3ull + gen));
	const uint64_t *w = p;

	for (uint64_t i = 0; i < m->bs / 8; i++)
		if (w[i] != word(key, i))
			return false;
	return true;
}
