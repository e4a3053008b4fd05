/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target over lib/nbd's option and request parsers. The input
 * is what a client sends: client flags, options, requests and payloads
 * (tests/nbd/corpus holds real client traffic and test_nbd's sessions).
 * Each input runs twice: handed over at once, and in small pieces with a
 * small option limit.
 *
 * What must hold, or it aborts (and libFuzzer reports the input):
 * - the handshake consumes no more than it is given, and exactly the
 *   framing a client would expect: every option whose data was complete
 *   has zero or more informational replies and then one final reply, for
 *   that option, in order (NBD_OPT_EXPORT_NAME: its 10 or 134 bytes, or
 *   nothing and closed); a bad magic or an oversized option ends it;
 *   nothing else is in the output;
 * - a request parses to exactly its header size or asks for more; a valid
 *   request lies inside the export, a write's data fits the maximum; a
 *   payload is never data when the request is refused, never above
 *   NBD_DISCARD_MAX;
 * - every reply builder succeeds on what the parser accepted, within the
 *   documented sizes, and block status keeps the protocol's rules.
 *
 *   fuzz_nbd -dict=tests/nbd/nbd.dict [-runs=N] [CORPUS_DIR...]
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nbd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MIB (1ull << 20)
#define CAPS_ALL                                                                                 \
	(NBD_EXPORT_CAN_FLUSH | NBD_EXPORT_CAN_FUA | NBD_EXPORT_CAN_TRIM | NBD_EXPORT_CAN_ZERO | \
	 NBD_EXPORT_CAN_FAST_ZERO | NBD_EXPORT_CAN_MULTI_CONN | NBD_EXPORT_CAN_CACHE |           \
	 NBD_EXPORT_BLOCK_STATUS)

static const struct nbd_export exports[] = {
	{ .name = "mem", .description = "in-memory export", .size = 16 * MIB, .caps = CAPS_ALL },
	{ .name = "ro",
	  .size = 16 * MIB,
	  .caps = NBD_EXPORT_READ_ONLY | NBD_EXPORT_CAN_FLUSH | NBD_EXPORT_BLOCK_STATUS },
	{ .name = "small",
	  .size = MIB,
	  .block_min = 512,
	  .block_pref = 4096,
	  .block_max = 65536,
	  .caps = NBD_EXPORT_CAN_TRIM | NBD_EXPORT_CAN_ZERO | NBD_EXPORT_BLOCK_STATUS },
	{ .name = "big", .size = 1ull << 40, .caps = CAPS_ALL },
	{ .name = "bad", .size = MIB, .block_min = 3 },
};
#define N_EXPORTS (sizeof(exports) / sizeof(exports[0]))

static int
f_lookup(void *opaque, const char *name, struct nbd_export *exp)
{
	size_t i;

	(void)opaque;
	if (name[0] == '\0')
		name = "mem";
	if (strcmp(name, "deny") == 0)
		return -EACCES;
	for (i = 0; i < N_EXPORTS; i++) {
		if (strcmp(name, exports[i].name) == 0) {
			*exp = exports[i];
			return 0;
		}
	}
	return -ENOENT;
}

static int
f_list(void *opaque, size_t index, struct nbd_export *exp)
{
	(void)opaque;
	if (index >= N_EXPORTS)
		return -ENOENT;
	*exp = exports[index];
	return 0;
}

static const struct nbd_server_ops f_ops = { .lookup = f_lookup, .list = f_list };

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

/* Everything the server sent, for the framing check. */
static uint8_t *out;
static size_t out_len, out_cap;

static void
drain(struct nbd_conn *c)
{
	const void *d;
	size_t n = nbd_conn_output(c, &d);

	if (out_len + n > out_cap) {
		size_t cap = out_cap ? out_cap : 65536;

		while (cap < out_len + n)
			cap *= 2;
		out = realloc(out, cap);
		CHECK(out != NULL);
		out_cap = cap;
	}
	if (n > 0)
		memcpy(out + out_len, d, n);
	out_len += n;
	CHECK(nbd_conn_output_consume(c, n) == 0);
}

static bool
is_final(uint32_t type)
{
	return type == NBD_REP_ACK || (type & NBD_REP_FLAG_ERROR) != 0;
}

/*
 * The handshake's output against the input @p in (@p size bytes), as a
 * client would read them. @return where the handshake must have stopped
 * taking input (the end, if it is still in the options).
 */
static size_t
check_handshake(const struct nbd_conn *c, const uint8_t *in, size_t size, uint32_t opt_max)
{
	const enum nbd_phase ph = nbd_conn_phase(c);
	size_t ip = 4, op = 18;
	uint32_t t;

	CHECK(out_len >= 18 && nbd_get64(out) == NBD_MAGIC_INIT);
	if (size < 4) {
		CHECK(out_len == 18 && ph == NBD_PHASE_GREETING);
		return size;
	}
	if (nbd_get32(in) & ~(uint32_t)(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
		CHECK(out_len == 18 && ph == NBD_PHASE_CLOSED);
		return 4;
	}
	for (;;) {
		uint64_t magic;
		uint32_t opt, len;

		if (size - ip < 16) {
			/* Part of a header: taken, not answered. */
			CHECK(op == out_len && ph == NBD_PHASE_OPTIONS);
			return size;
		}
		magic = nbd_get64(in + ip);
		opt = nbd_get32(in + ip + 8);
		len = nbd_get32(in + ip + 12);
		if (magic != NBD_MAGIC_OPT) {
			CHECK(op == out_len && ph == NBD_PHASE_CLOSED);
			return ip + 16;
		}
		if (len > opt_max) {
			/* One final TOO_BIG; the data is never read. */
			CHECK(ph == NBD_PHASE_CLOSED);
			CHECK(out_len - op >= 20 && nbd_get32(out + op + 8) == opt);
			CHECK(nbd_get32(out + op + 12) == NBD_REP_ERR_TOO_BIG);
			CHECK(out_len - op == 20 + nbd_get32(out + op + 16));
			return ip + 16;
		}
		if (size - ip - 16 < len) {
			/* Part of the data: taken, not answered. */
			CHECK(op == out_len && ph == NBD_PHASE_OPTIONS);
			return size;
		}
		ip += 16 + len;
		if (opt == NBD_OPT_EXPORT_NAME) {
			if (ph == NBD_PHASE_TRANSMISSION)
				CHECK(out_len - op == 10 || out_len - op == 134);
			else
				CHECK(ph == NBD_PHASE_CLOSED && out_len == op);
			return ip;
		}
		/* Zero or more informational replies, then one final one. */
		do {
			uint32_t rl;

			CHECK(out_len - op >= 20);
			CHECK(nbd_get64(out + op) == NBD_MAGIC_REP);
			CHECK(nbd_get32(out + op + 8) == opt);
			t = nbd_get32(out + op + 12);
			rl = nbd_get32(out + op + 16);
			CHECK(out_len - op - 20 >= rl);
			if (!is_final(t))
				CHECK(t == NBD_REP_SERVER || t == NBD_REP_INFO ||
				      t == NBD_REP_META_CONTEXT);
			op += 20 + rl;
		} while (!is_final(t));
		/* Only ABORT and a successful GO leave the options. */
		if (opt == NBD_OPT_ABORT) {
			CHECK(t == NBD_REP_ACK && ph == NBD_PHASE_CLOSED && op == out_len);
			return ip;
		}
		if (opt == NBD_OPT_GO && t == NBD_REP_ACK) {
			CHECK(ph == NBD_PHASE_TRANSMISSION && op == out_len);
			return ip;
		}
	}
}

/* Every reply a server could send for @p req; check what comes out. */
static void
check_replies(const struct nbd_conn *c, const struct nbd_request *req, const uint8_t *rnd)
{
	static uint8_t buf[NBD_REPLY_BLOCK_STATUS_SIZE(4) + NBD_REPLY_ERROR_MAX];
	const enum nbd_reply_mode mode = nbd_conn_reply_mode(c);
	const size_t hs = mode == NBD_REPLY_EXTENDED ? 32 : mode == NBD_REPLY_STRUCTURED ? 20 : 16;
	char m[16]; /* a message of the input's bytes */
	ssize_t r;

	memcpy(m, rnd, sizeof(m) - 1);
	m[sizeof(m) - 1] = '\0';
	if (req->error != 0) {
		r = nbd_reply_error(c, req, req->error, req->why, buf, NBD_REPLY_ERROR_MAX);
		CHECK(r >= (ssize_t)hs && r <= (ssize_t)NBD_REPLY_ERROR_MAX);
		return;
	}
	r = nbd_reply_error(c, req, NBD_EIO, m, buf, NBD_REPLY_ERROR_MAX);
	CHECK(r >= (ssize_t)hs);
	switch (req->type) {
	case NBD_CMD_READ:
		if (req->len == 0) {
			CHECK(nbd_reply_ok(c, req, buf, NBD_REPLY_HDR_MAX) == (ssize_t)hs);
			break;
		}
		if (mode == NBD_REPLY_SIMPLE || (req->flags & NBD_CMD_FLAG_DF) || req->len < 2) {
			r = nbd_reply_read_data(c, req, req->offset, req->len, true, buf,
						NBD_REPLY_DATA_MAX);
			CHECK(r == (ssize_t)(mode == NBD_REPLY_SIMPLE ? 16 : hs + 8));
		} else {
			uint64_t half = req->len / 2;

			CHECK(nbd_reply_read_hole(c, req, req->offset, half, false, buf,
						  NBD_REPLY_HOLE_MAX) == (ssize_t)(hs + 12));
			CHECK(nbd_reply_read_data(c, req, req->offset + half, req->len - half, true,
						  buf, NBD_REPLY_DATA_MAX) == (ssize_t)(hs + 8));
			CHECK(nbd_reply_error_offset(c, req, NBD_EIO, req->offset + half, m, true,
						     buf, sizeof(buf)) > 0);
		}
		break;
	case NBD_CMD_BLOCK_STATUS: {
		struct nbd_extent ext[4];
		const bool wide = mode == NBD_REPLY_EXTENDED;
		size_t used, i, n = 1 + (rnd[0] & 3), at;
		uint64_t sum = 0, l;

		for (i = 0; i < n; i++) {
			ext[i].length = (nbd_get64(rnd + 1 + 8 * i) >> (rnd[0] >> 2 & 63)) | 1;
			ext[i].flags = rnd[1 + i] & 3;
		}
		r = nbd_reply_block_status(c, req, ext, n, true, &used, buf, sizeof(buf));
		CHECK(r > 0 && used >= 1 && used <= n);
		CHECK((size_t)r == hs + (wide ? 8 + 16 * used : 4 + 8 * used));
		if (wide)
			CHECK(nbd_get32(buf + hs + 4) == used);
		if (req->flags & NBD_CMD_FLAG_REQ_ONE)
			CHECK(used == 1);
		at = hs + (wide ? 8 : 4);
		for (i = 0; i < used; i++) {
			l = wide ? nbd_get64(buf + at + 16 * i) : nbd_get32(buf + at + 8 * i);
			CHECK(l != 0);
			if (i + 1 < used)
				CHECK(sum + l < req->len || req->len == 0);
			sum += l;
		}
		if ((req->flags & NBD_CMD_FLAG_REQ_ONE) && req->len > 0)
			CHECK(sum <= req->len);
		break;
	}
	default:
		CHECK(nbd_reply_ok(c, req, buf, NBD_REPLY_HDR_MAX) == (ssize_t)hs);
		break;
	}
}

static bool
has_range(uint16_t t)
{
	return t == NBD_CMD_READ || t == NBD_CMD_WRITE || t == NBD_CMD_TRIM || t == NBD_CMD_CACHE ||
	       t == NBD_CMD_WRITE_ZEROES || t == NBD_CMD_BLOCK_STATUS;
}

static void
transmission(struct nbd_conn *c, const uint8_t *p, size_t n)
{
	static const uint8_t zeros[64];
	const struct nbd_export *e = nbd_conn_export(c);
	const size_t hsz = nbd_conn_request_size(c);
	struct nbd_request req;
	ssize_t r;

	CHECK(e != NULL && e->block_min >= 1 && e->block_max >= e->block_pref);
	for (;;) {
		r = nbd_request_parse(c, p, n, &req);
		if (r == 0) {
			CHECK(n < hsz);
			return;
		}
		if (r < 0) {
			CHECK(nbd_conn_phase(c) == NBD_PHASE_CLOSED && req.why != NULL);
			return;
		}
		CHECK((size_t)r == hsz && (size_t)r <= n);
		p += r;
		n -= (size_t)r;
		CHECK((req.error == 0) == (req.why == NULL));
		if (req.payload == NBD_PAYLOAD_NONE)
			CHECK(req.payload_len == 0);
		else
			CHECK(req.payload_len > 0 && req.payload_len <= NBD_DISCARD_MAX);
		if (req.error != 0) {
			CHECK(req.payload != NBD_PAYLOAD_DATA);
		} else {
			CHECK(req.type <= NBD_CMD_BLOCK_STATUS);
			if (has_range(req.type))
				CHECK(req.offset <= e->size && req.len <= e->size - req.offset);
			if (req.payload == NBD_PAYLOAD_DATA)
				CHECK(req.type == NBD_CMD_WRITE && req.payload_len == req.len &&
				      req.len <= e->block_max);
			else
				CHECK(req.type != NBD_CMD_WRITE || req.len == 0);
			if (req.type == NBD_CMD_DISC) {
				CHECK(nbd_conn_phase(c) == NBD_PHASE_CLOSED);
			} else {
				CHECK(nbd_conn_phase(c) == NBD_PHASE_TRANSMISSION);
				if (req.type == NBD_CMD_BLOCK_STATUS)
					CHECK(nbd_conn_meta_context(c, NULL));
			}
		}
		check_replies(c, &req, n >= 40 ? p : zeros);
		if (req.payload_len >= n)
			return;
		p += req.payload_len;
		n -= (size_t)req.payload_len;
	}
}

static void
run(const uint8_t *data, size_t size, bool pieces)
{
	struct nbd_conn_params params = { .opt_max = pieces ? 300 : 0 };
	struct nbd_conn *c;
	size_t used = 0, chunk, stop, before;
	uint32_t lcg = (uint32_t)size * 2654435761u;
	enum nbd_phase ph;
	bool failed = false;
	ssize_t r;

	out_len = 0;
	CHECK(nbd_conn_create(&f_ops, NULL, &params, &c) == 0);
	drain(c);
	while (used < size) {
		ph = nbd_conn_phase(c);
		if (ph != NBD_PHASE_GREETING && ph != NBD_PHASE_OPTIONS)
			break;
		chunk = size - used;
		if (pieces) {
			lcg = lcg * 1103515245u + 12345u;
			chunk = 1 + (lcg >> 16) % 23;
			if (chunk > size - used)
				chunk = size - used;
		}
		before = out_len;
		r = nbd_conn_input(c, data + used, chunk);
		drain(c);
		if (r < 0) {
			CHECK(nbd_conn_phase(c) == NBD_PHASE_CLOSED);
			failed = true;
			break;
		}
		CHECK((size_t)r <= chunk);
		used += (size_t)r;
		/* Less than offered, still haggling: it stopped for the backlog. */
		if ((size_t)r < chunk && nbd_conn_phase(c) == ph)
			CHECK(out_len - before > NBD_OUTPUT_HIGH);
	}
	stop = check_handshake(c, data, size,
			       params.opt_max ? params.opt_max : NBD_OPT_MAX_DEFAULT);
	if (!failed)
		CHECK(stop == used);
	if (nbd_conn_phase(c) == NBD_PHASE_TRANSMISSION)
		transmission(c, data + used, size - used);
	nbd_conn_destroy(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(data, size, false);
	run(data, size, true);
	return 0;
}
