/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target over the block service's parsers (lib/bs/bs_wire.h):
 * the control-message parser and the request-meta decoder with the
 * request validator, as a server runs them on what a client sends.
 * Invariants, any input:
 *  - a control parse takes no more bytes than it was given, and a message
 *    it accepts encodes again to the very bytes it took (one spelling per
 *    message; an ERROR code we do not know reads as EIO), and parses back
 *    to the same message;
 *  - fed the same bytes in two pieces, the parser says "incomplete" for
 *    the first piece or the same result (no state hides between calls);
 *  - a meta that decodes re-encodes to the same 32 bytes; validating it
 *    never crashes, and what it accepts lies within the export.
 * A broken invariant aborts; libFuzzer reports the input.
 *
 *   fuzz_bs -dict=tests/bs/bs.dict [-runs=N] [CORPUS_DIR]
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bs_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_ctrl(const uint8_t *data, size_t size)
{
	struct bs_ctrl_msg m, again;
	uint8_t buf[BS_WIRE_MSG_MAX];
	int n = bs_wire_ctrl_parse(data, size, &m), e;

	if (n > 0) {
		if ((size_t)n > size)
			abort();
		e = bs_wire_ctrl_encode(&m, buf, sizeof(buf));
		/* An ERROR's code we do not know reads as EIO: compare around it. */
		if (m.type == BS_MSG_ERROR && e >= 16 &&
		    bs_get32(buf + sizeof(struct bs_wire_hdr)) == BS_WERR_IO)
			memcpy(buf + sizeof(struct bs_wire_hdr), data + sizeof(struct bs_wire_hdr), 4);
		if (e != n || memcmp(buf, data, (size_t)n) != 0)
			abort();
		if (bs_wire_ctrl_parse(buf, (size_t)e, &again) != n || again.type != m.type)
			abort();
	}
	/* Split: the first part alone is incomplete or already decided. */
	if (size > 1) {
		int first = bs_wire_ctrl_parse(data, size / 2, &again);

		if (first > 0 && first != n)
			abort();
		if (first < 0 && n >= 0)
			abort();
	}
}

static void
fuzz_meta(const uint8_t *data, size_t size)
{
	/* An export shaped by the input too: the validator's rules vary. */
	struct bulk_bs_info info = { .size = 1ull << 30, .block_min = 512, .block_pref = 4096,
				     .block_max = 1u << 20, .flags = BULK_BS_FLAG_MASK,
				     .max_buffers = 64 };
	uint8_t raw[BS_WIRE_META_SIZE];
	struct bs_meta m;
	uint32_t payload, bufsz;
	int rc;

	if (size < BS_WIRE_META_SIZE + 9)
		return;
	info.flags = data[0] & BULK_BS_FLAG_MASK;
	info.block_min = 1u << (data[1] % 13);
	info.size = (uint64_t)info.block_min * (1 + (data[2] % 64)) * 1024;
	memcpy(&payload, data + 3, 4);
	bufsz = 4096u << (data[7] % 9);
	data += 8;
	rc = bs_wire_meta_decode(data, BS_WIRE_META_SIZE, &m);
	if (rc < 0)
		return;
	bs_wire_meta_encode(&m, raw);
	if (memcmp(raw, data, 24) != 0 || memcmp(raw + 28, data + 28, 4) != 0)
		abort();
	/* The status travels as a code: a code we know comes back as it was,
	 * any other reads as EIO. */
	if (memcmp(raw + 24, data + 24, 4) != 0 && bs_get32(raw + 24) != BS_WERR_IO)
		abort();
	if (bs_req_check(&info, &m, payload, bufsz) == 0) {
		if (m.op == BULK_BS_OP_FLUSH)
			return;
		if (m.length == 0 || m.offset + m.length < m.offset || m.offset + m.length > info.size)
			abort();
		if (m.offset % info.block_min || m.length % info.block_min)
			abort();
		if ((m.op == BULK_BS_OP_READ || m.op == BULK_BS_OP_WRITE) && m.length > bufsz)
			abort();
		if (m.op == BULK_BS_OP_WRITE && payload != m.length)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One byte picks the parser, so one corpus serves both. */
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_meta(data + 1, size - 1);
	else
		fuzz_ctrl(data + 1, size - 1);
	return 0;
}
