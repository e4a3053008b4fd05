/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file shm_wire.h
 * What two processes of the shm backend share: the messages on the Unix
 * socket (set-up and file descriptors only) and the layout of the ring
 * memfd. Only offsets, indices and fixed-width integers cross, never a
 * pointer; every field read from the peer is validated before it is used,
 * and descriptors are copied out of shared memory before they are checked
 * (the peer may rewrite them at any time).
 *
 * Ring memfd:
 *   struct shm_region_hdr                       (offset 0, one page)
 *   ring 0: struct shm_ring_ctl + size slots    creator -> binder
 *   ring 1: struct shm_ring_ctl + size slots    binder -> creator
 * Each slot is slot_size bytes (a multiple of the cache line): a struct
 * shm_desc followed by meta_size bytes of meta, or, for POOL_ASSIGN, by a
 * struct shm_pool_info.
 *
 * Ring protocol (free-running 32-bit indices, SPSC):
 *   producer: fill slots, then store-release ctl.head             (pairs with A)
 *   consumer: load-acquire ctl.head (A), read slots, then
 *             store-release ctl.tail                              (pairs with B)
 *   producer: load-acquire ctl.tail (B) before reusing slots
 * Need-wakeup: the consumer stores need_wakeup = 1, full fence, re-reads
 * head; the producer publishes head, full fence, exchanges need_wakeup
 * with 0 and signals the consumer's eventfd if it was set. One of the two
 * fences sees the other's store, so no wakeup is lost. Space-wanted is the
 * mirror image for a producer that found the ring full: it sets
 * space_wanted, fences, re-reads tail; the consumer stores tail, fences,
 * exchanges space_wanted with 0 and signals the producer's eventfd.
 */
#ifndef BULK_SHM_WIRE_H
#define BULK_SHM_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Both backends' wires start with the bytes "BULK": read as a host-order
 * integer here (shared memory on one host), big endian on the network. */
#define SHM_WIRE_MAGIC 0x4b4c5542u
#define SHM_WIRE_VERSION 1u
#define SHM_CACHE_LINE 64u
#define SHM_PAGE 4096u
#define SHM_QUEUE_MAX (1u << 16)

/* ------------------------------------------------------ socket messages */

enum shm_sock_type {
	SHM_SOCK_HELLO = 1,   /* binder -> creator: bind request */
	SHM_SOCK_WELCOME = 2, /* creator -> binder: answer; fds when accepted */
	SHM_SOCK_POOL = 3,    /* either way: one pool (or staging) memfd */
};

/** Binder's request. */
struct shm_hello {
	uint32_t magic;
	uint16_t version;
	uint16_t type;          /* SHM_SOCK_HELLO */
	uint32_t role;          /* enum bulk_role the binder wants */
	uint32_t trust;         /* 0: adopt the creator's */
	uint32_t meta_size;     /* 0: adopt */
	uint32_t queue_size;    /* 0: adopt */
	uint32_t pid;           /* with dom: refuse a domain binding to itself */
	uint32_t rsvd;
	uint64_t dom;           /* opaque identity of the binder's domain */
};
_Static_assert(sizeof(struct shm_hello) == 40, "shm_hello layout");

/**
 * Creator's answer. status 0: accepted, and three fds come with it, in
 * order: the ring memfd, the creator's eventfd, the binder's eventfd.
 * Otherwise a negative bulk error code and no fd.
 */
struct shm_welcome {
	uint32_t magic;
	uint16_t version;
	uint16_t type;          /* SHM_SOCK_WELCOME */
	int32_t status;
	uint32_t direction;     /* the binder's, resolved */
	uint32_t role;          /* the binder's, resolved */
	uint32_t trust;
	uint32_t meta_size;
	uint32_t queue_size;
	uint64_t region_size;   /* bytes of the ring memfd */
};
_Static_assert(sizeof(struct shm_welcome) == 40, "shm_welcome layout");

/**
 * Sent, with one fd, right before the POOL_ASSIGN descriptor of the same
 * slot is queued: socket and ring are both FIFO, so the k-th POOL_ASSIGN
 * descriptor matches the k-th pool message. For FULL and HALF the fd is
 * the pool's memfd; for NONE it is the channel's staging memfd of the pool.
 */
struct shm_pool_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t type;          /* SHM_SOCK_POOL */
	uint32_t slot;
	uint32_t rsvd;
	uint64_t id_host;
	uint32_t id_pid;
	uint32_t id_seq;
	uint64_t length;        /* bytes the receiver maps */
};
_Static_assert(sizeof(struct shm_pool_msg) == 40, "shm_pool_msg layout");

/* --------------------------------------------------------- ring memfd */

/** Written once by the creator before the memfd is sent. */
struct shm_region_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t queue_size;    /* slots per ring, power of two */
	uint32_t slot_size;     /* bytes per slot, multiple of SHM_CACHE_LINE */
	uint32_t meta_size;
	uint32_t rsvd;
	uint64_t ring_off[2];   /* offset of each ring's struct shm_ring_ctl */
	uint64_t region_size;
};
_Static_assert(sizeof(struct shm_region_hdr) == 48, "shm_region_hdr layout");

/** Indices of one ring, each written by one side on its own cache line. */
struct shm_ring_ctl {
	uint32_t head;          /* producer writes */
	uint8_t pad0[SHM_CACHE_LINE - 4];
	uint32_t tail;          /* consumer writes */
	uint8_t pad1[SHM_CACHE_LINE - 4];
	uint32_t need_wakeup;   /* consumer sets before sleeping, producer clears */
	uint32_t wake_enabled;  /* consumer sets once it may sleep at all */
	uint32_t space_wanted;  /* producer sets before sleeping on a full ring, consumer clears */
	uint32_t space_enabled; /* producer sets once it may sleep on a full ring */
	uint8_t pad2[SHM_CACHE_LINE - 16];
};
_Static_assert(sizeof(struct shm_ring_ctl) == 3 * SHM_CACHE_LINE, "shm_ring_ctl layout");
_Static_assert(offsetof(struct shm_ring_ctl, tail) == SHM_CACHE_LINE,
	       "producer and consumer indices on separate cache lines");
_Static_assert(offsetof(struct shm_ring_ctl, need_wakeup) == 2 * SHM_CACHE_LINE,
	       "wakeup flags on their own cache line");

/** Head of every slot. type is enum bulk_msg_type (lib/bulk/bulk_backend.h). */
struct shm_desc {
	uint8_t type;
	uint8_t rsvd;
	uint16_t slot;          /* pool's slot number on the channel */
	uint32_t index;         /* buffer index */
	uint32_t len;           /* payload bytes */
	int32_t status;         /* replies */
};
_Static_assert(sizeof(struct shm_desc) == 16, "shm_desc layout");

/** Body of a POOL_ASSIGN slot: the pool's identity and geometry. */
struct shm_pool_info {
	uint64_t id_host;
	uint32_t id_pid;
	uint32_t id_seq;
	uint32_t count;
	uint32_t buffer_size;
	uint32_t trust;
	uint32_t rsvd;
};
_Static_assert(sizeof(struct shm_pool_info) == 32, "shm_pool_info layout");
_Static_assert(sizeof(struct shm_desc) + sizeof(struct shm_pool_info) <= SHM_CACHE_LINE,
	       "a POOL_ASSIGN fits the smallest slot");

/** Bytes per slot for a channel with @p meta_size bytes of meta. */
static inline uint32_t
shm_slot_size(uint32_t meta_size)
{
	uint32_t need = (uint32_t)sizeof(struct shm_desc) + meta_size;

	return (need + SHM_CACHE_LINE - 1) & ~(SHM_CACHE_LINE - 1);
}

/** Bytes of one ring (control block and slots). */
static inline uint64_t
shm_ring_bytes(uint32_t queue_size, uint32_t slot_size)
{
	return sizeof(struct shm_ring_ctl) + (uint64_t)queue_size * slot_size;
}

#endif /* BULK_SHM_WIRE_H */
