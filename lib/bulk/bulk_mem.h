/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one allocation wrapper for control structures. They come from
 * jemalloc (its own arena, so an application's malloc fragmentation never
 * touches our fast-path structures); buffer memory never comes from here.
 */
#ifndef BULK_MEM_H
#define BULK_MEM_H

#include <stddef.h>

void *bulk_zalloc(size_t size);
void *bulk_zalloc_aligned(size_t align, size_t size);
void *bulk_realloc(void *p, size_t size);
void bulk_free(void *p);

#endif /* BULK_MEM_H */
