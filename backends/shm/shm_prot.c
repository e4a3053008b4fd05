/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pool memory of the shm backend and what each trust level does with it.
 *  FULL: the pool's memfd mapped read-write, nothing changes afterwards.
 *  HALF: the memfd mapped PROT_NONE; every state change of a buffer in this
 *        process changes its pages (INVALID: none, copy or owner with copies
 *        out: read, owner: read-write). Neighbouring buffers with the same
 *        new protection share one mprotect.
 *  NONE: the view is private memory; the data crosses through a staging
 *        memfd per channel and pool, copied in by the sender and out by the
 *        receiver, so nothing the receiver holds is mapped by the sender.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm_internal.h"

int
shm_fd_sealed_size(int fd, uint64_t need)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);

	/* Unsealed, the sender could shrink it under our mapping later. */
	if (seals < 0 || (seals & F_SEAL_SHRINK) == 0)
		return -BULK_E_POOL_GEOMETRY;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < need)
		return -BULK_E_POOL_GEOMETRY;
	return 0;
}

uint64_t
shm_pool_bytes(uint32_t count, uint32_t size)
{
	uint64_t len = (uint64_t)count * size;

	return (len + SHM_PAGE - 1) & ~(uint64_t)(SHM_PAGE - 1);
}

static void
shm_pool_unmap(struct bulk_pool *view)
{
	if (view->base != NULL && view->map_len > 0)
		munmap(view->base, view->map_len);
	if (view->fd >= 0)
		close(view->fd);
	view->base = NULL;
	view->fd = -1;
}

int
shm_pool_map(void *arg, struct bulk_pool *view)
{
	struct shm_map_req *req = arg;
	uint64_t need = shm_pool_bytes(view->count, view->buffer_size);
	void *base;

	if (req->length != need)
		return -BULK_E_POOL_GEOMETRY;
	if (req->trust == BULK_TRUST_NONE) {
		/* Private: the sender has no mapping of what we receive into. */
		base = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (base == MAP_FAILED)
			return -errno;
		view->fd = -1;
		view->mem = BULK_MEM_ANON;
	} else {
		/* A memfd shorter than the pool would fault (SIGBUS) on access. */
		int rc = shm_fd_sealed_size(req->fd, need);

		if (rc < 0)
			return rc;
		base = mmap(NULL, need,
			    req->trust == BULK_TRUST_HALF ? PROT_NONE : PROT_READ | PROT_WRITE,
			    MAP_SHARED, req->fd, 0);
		if (base == MAP_FAILED)
			return -errno;
		/* Kept: a process in the middle of a chain hands the same
		 * memory on to its next channel. */
		view->fd = req->fd;
		req->used = true;
		view->mem = BULK_MEM_MEMFD;
		if (req->trust == BULK_TRUST_HALF)
			view->protect = shm_prot_one;
	}
	view->base = base;
	view->map_len = need;
	view->unmap = shm_pool_unmap;
	return 0;
}

int
shm_pool_same(void *arg, const struct bulk_pool *view)
{
	const struct shm_map_req *req = arg;
	struct stat a, b;

	/* A view with no fd (anonymous, hugepage, received over a network
	 * or at NONE) is memory no peer can have been given. */
	if (view->fd < 0 || req->fd < 0)
		return 0;
	if (fstat(req->fd, &a) < 0 || fstat(view->fd, &b) < 0)
		return 0;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int
shm_prot_of(uint8_t state)
{
	switch (state) {
	case BULK_BUFFER_READ_WRITE:
		return PROT_READ | PROT_WRITE;
	case BULK_BUFFER_READ_ONLY:
	case BULK_BUFFER_RO_OWNED:
		return PROT_READ;
	default:
		return PROT_NONE;
	}
}

static void
prot_run(struct bulk_pool *p, uint32_t first, uint32_t n, int prot)
{
	if (mprotect(p->base + (size_t)first * p->buffer_size, (size_t)n * p->buffer_size,
		     prot) < 0) {
		/* Only ENOMEM (the process's map count limit) can fail here;
		 * the access rights are then looser than HALF promises. */
		fprintf(stderr, "libbulk shm: mprotect of %u buffers failed: %d\n", n, errno);
	}
}

void
shm_prot_apply(struct bulk_buffer *const *bufs, const int *prot, unsigned n)
{
	unsigned i = 0;

	while (i < n) {
		struct bulk_pool *p = bufs[i]->pool;
		uint32_t first = bufs[i]->index;
		unsigned j = i + 1;

		while (j < n && bufs[j]->pool == p && bufs[j]->index == first + (j - i) &&
		       prot[j] == prot[i])
			j++;
		prot_run(p, first, (uint32_t)(j - i), prot[i]);
		i = j;
	}
}

void
shm_prot_one(struct bulk_pool *view, uint32_t index)
{
	/* An assignment that set HALF may have failed and the pool gone FULL. */
	if (view->trust != BULK_TRUST_HALF)
		return;
	prot_run(view, index, 1, shm_prot_of(view->bufs[index].state));
}

void
shm_stage_drop(struct shm_chan *sc, uint16_t slot)
{
	if (sc->stage[slot].base != NULL)
		munmap(sc->stage[slot].base, sc->stage[slot].len);
	sc->stage[slot].base = NULL;
	sc->stage[slot].len = 0;
}

int
shm_stage_map(struct shm_chan *sc, uint16_t slot, int fd, uint64_t len)
{
	void *base;
	int rc = shm_fd_sealed_size(fd, len);

	if (rc < 0)
		return rc;
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return -errno;
	shm_stage_drop(sc, slot);
	sc->stage[slot].base = base;
	sc->stage[slot].len = len;
	return 0;
}

int
shm_stage_create(struct shm_chan *sc, uint16_t slot, uint64_t len)
{
	int fd = memfd_create("bulk-stage", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int rc;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = shm_stage_map(sc, slot, fd, len);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}
