/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include "bulk_config.h"
#include "bulk_mem.h"

#if BULK_MEM_LIBC
/*
 * Sanitizer builds: use libc so that ASan/TSan see every control-structure
 * allocation (they intercept malloc, not jemalloc's mallocx).
 */
void *
bulk_zalloc(size_t size)
{
	return calloc(1, size ? size : 1);
}

void *
bulk_zalloc_aligned(size_t align, size_t size)
{
	size_t sz = (size + align - 1) & ~(align - 1);
	void *p = aligned_alloc(align, sz ? sz : align);

	if (p != NULL)
		memset(p, 0, sz ? sz : align);
	return p;
}

void *
bulk_realloc(void *p, size_t size)
{
	return realloc(p, size ? size : 1);
}

void
bulk_free(void *p)
{
	free(p);
}
#else
#include <jemalloc/jemalloc.h>

/*
 * Debian's libjemalloc exports the unprefixed malloc API; the "je_"-free
 * mallocx family keeps us explicit about where the memory comes from and
 * gives aligned zeroed allocations in one call.
 */
void *
bulk_zalloc(size_t size)
{
	return mallocx(size ? size : 1, MALLOCX_ZERO);
}

void *
bulk_zalloc_aligned(size_t align, size_t size)
{
	return mallocx(size ? size : 1, MALLOCX_ZERO | MALLOCX_ALIGN(align));
}

void *
bulk_realloc(void *p, size_t size)
{
	if (p == NULL)
		return mallocx(size ? size : 1, 0);
	return rallocx(p, size ? size : 1, 0);
}

void
bulk_free(void *p)
{
	if (p != NULL)
		dallocx(p, 0);
}
#endif
