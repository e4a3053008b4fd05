/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file dpdk_wire.h
 * On-the-wire layout of the DPDK backend: Ethernet / IPv4 / UDP / bulk
 * header [/ meta] [/ payload]. Every multi-byte field is big endian, so
 * tcpdump and a dissector read it as is. Tests that play a malformed peer
 * build frames from this header.
 *
 * Frame kinds (dpdk_wire_hdr.type):
 *  - stream frames, types 1..BULK_MSG_TYPE_MAX-1 (enum bulk_msg_type): one
 *    message split into frames with consecutive sequence numbers. Data
 *    messages (MOVE, PASS, COPY) carry the buffer's bytes at @c offset; the
 *    first frame has DPDK_WF_FIRST, the last DPDK_WF_LAST and the meta.
 *    RELEASE carries none; control messages carry a struct dpdk_wire_ctrl.
 *  - ACK: no sequence number of its own; @c ack is cumulative, @c index the
 *    highest sequence received + 1, and the payload lists gaps below it
 *    (struct dpdk_wire_nak). Also a keep-alive.
 *  - BIND_REQ / BIND_REPLY: channel set-up (struct dpdk_wire_bind), outside
 *    any stream; the binder repeats its request until it is answered.
 *  - RST: "no such channel": the frame's @c index is the channel id that was
 *    not found; the receiver closes the channel whose peer id that is.
 * Every stream frame also carries the sender's cumulative ack (DPDK_WF_ACK).
 */
#ifndef BULK_DPDK_WIRE_H
#define BULK_DPDK_WIRE_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#define DPDK_WIRE_MAGIC 0x42554c4bu /* the bytes "BULK", big endian (see shm_wire.h) */
#define DPDK_WIRE_VERSION 1u

/* Frame types beyond the stream's message types. */
#define DPDK_WT_ACK 0x40u
#define DPDK_WT_BIND_REQ 0x41u
#define DPDK_WT_BIND_REPLY 0x42u
#define DPDK_WT_RST 0x43u

/* Flags. */
#define DPDK_WF_FIRST 0x01u /* first frame of a message */
#define DPDK_WF_LAST 0x02u  /* last frame of a message: meta follows the header */
#define DPDK_WF_ACK 0x04u   /* @c ack and @c wnd are valid */
#define DPDK_WF_RETX 0x08u  /* a retransmission (informational) */
#define DPDK_WF_PROBE 0x10u /* ACK: answer with an ACK (our window view is stale) */

#define DPDK_WIRE_ETH_LEN 14u
#define DPDK_WIRE_IP_LEN 20u
#define DPDK_WIRE_UDP_LEN 8u

/** The bulk header, right after the UDP header. */
struct dpdk_wire_hdr {
	uint32_t magic;    /**< DPDK_WIRE_MAGIC */
	uint8_t version;   /**< DPDK_WIRE_VERSION */
	uint8_t type;      /**< enum bulk_msg_type, or DPDK_WT_* */
	uint8_t flags;     /**< DPDK_WF_* */
	uint8_t meta_len;  /**< bytes of meta after the header (last frame only) */
	uint32_t chan;     /**< the receiver's channel id (0: BIND_REQ) */
	uint32_t seq;      /**< frame sequence number within the stream */
	uint32_t ack;      /**< cumulative: next sequence the sender expects */
	uint16_t wnd;      /**< receive window the sender offers, frames / 16 */
	uint16_t slot;     /**< the pool's slot on the channel (wire pool id) */
	uint32_t index;    /**< buffer index (ACK: highest seq + 1; RST: bad chan) */
	uint32_t offset;   /**< offset of this frame's payload in the buffer */
	uint32_t length;   /**< payload bytes in this frame */
	uint32_t total;    /**< the message's length (buffer payload length) */
};

/** Control message payload (POOL_ASSIGN, its reply, POOL_REMOVE, TEARDOWN*). */
struct dpdk_wire_ctrl {
	uint64_t pool_host;
	uint32_t pool_pid;
	uint32_t pool_seq;
	uint32_t count;        /**< buffers in the pool */
	uint32_t buffer_size;
	int32_t status;        /**< replies: 0 or a negative code */
	uint8_t trust;
	uint8_t pad[3];
};

/** One gap the receiver is missing: [start, start + count). */
struct dpdk_wire_nak {
	uint32_t start;
	uint32_t count;
};

/** BIND_REQ and BIND_REPLY payload. */
struct dpdk_wire_bind {
	uint32_t binder_chan;  /**< binder's channel id */
	uint32_t creator_chan; /**< reply: creator's channel id */
	uint32_t nonce;        /**< binder's attempt, echoed in the reply */
	int32_t status;        /**< reply: 0 or a negative code */
	uint32_t meta_size;    /**< request: 0 adopts */
	uint32_t queue_size;   /**< request: 0 adopts */
	uint16_t ep_id;        /**< request: the creator's endpoint number */
	uint8_t direction;     /**< reply: the binder's enum bulk_direction (request: 0xff) */
	uint8_t role;          /**< enum bulk_role */
	uint8_t trust;         /**< enum bulk_trust; 0 (UNINITIALIZED): adopt */
	/** log2 of the sender's UDP source port block: its channel's stream
	 * frames leave from dpdk_wire_src_port(its port, its channel id, this)
	 * (0: from its port itself; older senders send 0). */
	uint8_t src_bits;
	uint16_t mtu;          /**< the sender's IP MTU: both use the smaller */
	/* Reply: the creator's settled side, so the binder need not guess. */
	uint32_t c_meta_size;
	uint8_t c_direction;
	uint8_t c_role;
	uint8_t c_trust;
	uint8_t pad2;
};

/** Largest dpdk_wire_bind.src_bits (a block of 1024 source ports). */
#define DPDK_WIRE_SRC_BITS_MAX 10u

/**
 * The UDP source port of a channel's stream frames (data and acks): the
 * port of the aligned block of 2^@p bits around @p base that the channel
 * id's low bits pick, so that RSS at the receiver spreads channels over
 * queues. Stable for the channel's life; set-up frames (bind, reset) leave
 * from @p base.
 */
static inline uint16_t
dpdk_wire_src_port(uint16_t base, uint32_t chan_id, unsigned bits)
{
	uint32_t mask = bits > DPDK_WIRE_SRC_BITS_MAX ? 0 : (1u << bits) - 1u;

	return (uint16_t)((base & ~mask) | ((base + chan_id) & mask));
}

/** Most gaps one ACK reports. */
#define DPDK_WIRE_MAX_NAKS 32u

/** Headers in front of the bulk header. */
#define DPDK_WIRE_HDRS (DPDK_WIRE_ETH_LEN + DPDK_WIRE_IP_LEN + DPDK_WIRE_UDP_LEN)
/** Headers counted by the IP MTU in front of payload and meta. */
#define DPDK_WIRE_IP_OVERHEAD (DPDK_WIRE_IP_LEN + DPDK_WIRE_UDP_LEN + sizeof(struct dpdk_wire_hdr))

static_assert(sizeof(struct dpdk_wire_hdr) == 40, "dpdk_wire_hdr layout");
static_assert(offsetof(struct dpdk_wire_hdr, chan) == 8, "dpdk_wire_hdr.chan");
static_assert(offsetof(struct dpdk_wire_hdr, wnd) == 20, "dpdk_wire_hdr.wnd");
static_assert(offsetof(struct dpdk_wire_hdr, index) == 24, "dpdk_wire_hdr.index");
static_assert(offsetof(struct dpdk_wire_hdr, total) == 36, "dpdk_wire_hdr.total");
static_assert(sizeof(struct dpdk_wire_ctrl) == 32, "dpdk_wire_ctrl layout");
static_assert(offsetof(struct dpdk_wire_ctrl, status) == 24, "dpdk_wire_ctrl.status");
static_assert(sizeof(struct dpdk_wire_nak) == 8, "dpdk_wire_nak layout");
static_assert(sizeof(struct dpdk_wire_bind) == 40, "dpdk_wire_bind layout");
static_assert(offsetof(struct dpdk_wire_bind, ep_id) == 24, "dpdk_wire_bind.ep_id");
static_assert(offsetof(struct dpdk_wire_bind, mtu) == 30, "dpdk_wire_bind.mtu");
static_assert(offsetof(struct dpdk_wire_bind, src_bits) == 29, "dpdk_wire_bind.src_bits");
static_assert(DPDK_WIRE_HDRS == 42, "Ethernet + IPv4 + UDP");
static_assert(DPDK_WIRE_MAX_NAKS * sizeof(struct dpdk_wire_nak) <= 512, "ACK fits any frame");

#endif /* BULK_DPDK_WIRE_H */
