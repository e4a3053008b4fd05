/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared-memory backend internals: the process-local state of a channel
 * (never in shared memory) and the helpers split over shm_sock.c (the
 * Unix socket: naming, set-up messages, file descriptors) and shm_prot.c
 * (pool mappings, HALF page protections, NONE staging copies).
 */
#ifndef BULK_SHM_INTERNAL_H
#define BULK_SHM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <bulk/bulk_shm.h>

#include "bulk_backend.h"
#include "shm_wire.h"

struct shm_endpoint {
	struct bulk_endpoint ep; /* must be first */
	char name[BULK_SHM_NAME_MAX + 1];
	struct bulk_shm_params params;
};

/* This process's handle on one ring of the shared region. */
struct shm_ring {
	struct shm_ring_ctl *ctl;
	uint8_t *slots;
	uint32_t size, mask, slot_size, meta_size;
	uint32_t idx;   /* producer: our head; consumer: our tail (the shared copy follows) */
	uint32_t cache; /* producer: last tail seen; consumer: last head seen */
};

/* A control message waiting for ring space: kept whole, sent in order. */
struct shm_pending {
	struct shm_desc d;
	struct shm_pool_info info;
};

/* NONE trust: this channel's staging copy of one pool slot. */
struct shm_stage {
	uint8_t *base;
	size_t len;
};

struct shm_chan {
	struct bulk_channel ch; /* must be first */
	const struct shm_endpoint *sep;
	int lsock;              /* creator, unbound: listening socket */
	int pend;               /* creator: accepted, its hello not read yet */
	int sock;               /* connected socket to the peer */
	int epfd;               /* what bulk_channel_fd() returns, made on demand */
	int efd_mine;           /* the peer signals us here */
	int efd_peer;           /* we signal the peer here */
	bool unlink_path;       /* we created a filesystem socket: remove it */
	bool want_wake;
	bool tx_short;          /* a send found the ring full since the last arm */
	uint8_t *region;
	size_t region_len;
	struct shm_ring tx, rx;
	struct shm_pending *backlog;
	uint32_t nbacklog, backlog_cap;
	uint64_t next_hup_ns;
	struct shm_desc rxd[256]; /* descriptors copied out of the ring */
	struct shm_stage stage[BULK_CHANNEL_MAX_POOLS];
};

static inline struct shm_chan *
shm_chan(struct bulk_channel *ch)
{
	return container_of(ch, struct shm_chan, ch);
}

/* shm_sock.c */
int shm_sock_listen(const char *name, bool *unlink_path);
int shm_sock_connect(const char *name);
void shm_sock_unlink(const char *name);
int shm_sock_send(int fd, const void *msg, size_t len, const int *fds, unsigned nfds);
ssize_t shm_sock_recv(int fd, void *msg, size_t len, int *fds, unsigned maxfds,
		      unsigned *nfds);
bool shm_sock_hup(int fd);
int shm_sock_peer_uid(int fd, uid_t *uid);

/* shm_prot.c */
/** Map a pool received in a SHM_SOCK_POOL message (the bulk_pool_mapper). */
struct shm_map_req {
	int fd;          /* consumed (owned by the view) when map succeeds */
	uint64_t length;
	enum bulk_trust trust;
	bool used;
};
int shm_pool_map(void *arg, struct bulk_pool *view);
int shm_pool_same(void *arg, const struct bulk_pool *view);
/** Bytes a process maps for @p count buffers of @p size. */
uint64_t shm_pool_bytes(uint32_t count, uint32_t size);
/** 0 if @p fd is sealed against shrinking and holds @p need bytes, else < 0. */
int shm_fd_sealed_size(int fd, uint64_t need);
/** HALF: the protection a buffer's state calls for. */
int shm_prot_of(uint8_t state);
/** HALF: protect @p n buffers, one mprotect per run of neighbours with one protection. */
void shm_prot_apply(struct bulk_buffer *const *bufs, const int *prot, unsigned n);
/** HALF: the bulk_pool.protect hook. */
void shm_prot_one(struct bulk_pool *view, uint32_t index);
/** NONE: make (or replace) the staging memory of @p slot; @return its memfd or < 0. */
int shm_stage_create(struct shm_chan *sc, uint16_t slot, uint64_t len);
int shm_stage_map(struct shm_chan *sc, uint16_t slot, int fd, uint64_t len);
void shm_stage_drop(struct shm_chan *sc, uint16_t slot);

#endif /* BULK_SHM_INTERNAL_H */
