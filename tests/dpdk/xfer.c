/* SPDX-License-Identifier: BSD-3-Clause */
/* The verified buffer stream of xfer.h. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bulk/bulk_alloc.h>

#include "xfer.h"

static uint64_t
xfer_hash(uint64_t a, uint64_t b)
{
	uint64_t z = a ^ (b * 0xD1B54A32D192ED03ull) ^ 0x6A09E667F3BCC909ull;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

uint32_t
xfer_len(const struct xfer *x, uint64_t seq)
{
	uint64_t h = xfer_hash(x->seed ^ 0x5eed5eedull, seq);
	uint64_t span = (uint64_t)x->max - x->min + 1;

	if (x->log_sizes && x->max > x->min) {
		/* log-uniform in [min, max]: as many small buffers as large ones */
		double lo = log((double)x->min), hi = log((double)x->max + 1.0);
		double u = (double)(h >> 11) / (double)(1ull << 53);
		uint64_t v = (uint64_t)exp(lo + u * (hi - lo));

		if (v < x->min)
			v = x->min;
		if (v > x->max)
			v = x->max;
		return (uint32_t)v;
	}
	return (uint32_t)(x->min + h % span);
}

/* Word i of buffer seq: a per-buffer key mixed with the word's offset. */
static inline uint64_t
pat_word(uint64_t key, uint64_t i)
{
	uint64_t z = key + i * 0x9E3779B97F4A7C15ull;

	return z ^ (z >> 29);
}

void
xfer_fill(const struct xfer *x, void *p, uint32_t len, uint64_t seq)
{
	uint64_t key = xfer_hash(x->seed, seq);
	uint8_t *b = p;
	uint32_t words = len / 8, i;

	for (i = 0; i < words; i++) {
		uint64_t v = pat_word(key, i);

		memcpy(b + (size_t)i * 8, &v, 8);
	}
	if (len % 8) {
		uint64_t v = pat_word(key, i);

		memcpy(b + (size_t)i * 8, &v, len % 8);
	}
}

long
xfer_check(const struct xfer *x, const void *p, uint32_t len, uint64_t seq)
{
	uint64_t key = xfer_hash(x->seed, seq);
	const uint8_t *b = p;
	uint32_t words = len / 8, i;

	for (i = 0; i < words; i++) {
		uint64_t v = pat_word(key, i), got;

		memcpy(&got, b + (size_t)i * 8, 8);
		if (got != v) {
			for (unsigned k = 0; k < 8; k++)
				if (((const uint8_t *)&v)[k] != b[(size_t)i * 8 + k])
					return (long)i * 8 + k;
		}
	}
	if (len % 8) {
		uint64_t v = pat_word(key, i);

		for (unsigned k = 0; k < len % 8; k++)
			if (((const uint8_t *)&v)[k] != b[(size_t)i * 8 + k])
				return (long)i * 8 + k;
	}
	return -1;
}

static uint32_t
meta_check(const struct xfer *x, uint64_t seq, uint32_t len)
{
	return (uint32_t)xfer_hash(x->seed ^ len, seq ^ 0xabcdef);
}

void
xfer_init(struct xfer *x, const char *name, uint64_t seed, uint64_t count, uint32_t min,
	  uint32_t max)
{
	memset(x, 0, sizeof(*x));
	x->name = name;
	x->seed = seed;
	x->count = count;
	x->min = min;
	x->max = max;
	x->limit = count;
	x->hold_from = UINT64_MAX;
	/* room for buffers beyond count (the peer-death runs) */
	x->seen_cap = count + 65536;
	x->seen = calloc((size_t)(x->seen_cap + 7) / 8, 1);
	if (x->seen == NULL) {
		fprintf(stderr, "xfer: out of memory\n");
		exit(1);
	}
}

void
xfer_fini(struct xfer *x)
{
	free(x->seen);
	free(x->away);
	free(x->held);
	free(x->pend);
	x->seen = NULL;
	x->away = NULL;
	x->held = NULL;
	x->pend = NULL;
}

static void
xfer_error(struct xfer *x, const char *what, int rc)
{
	x->errors++;
	if (x->errors <= 10)
		fprintf(stderr, "xfer[%s]: %s: %d (%s)\n", x->name, what, rc, bulk_strerror(rc));
}

unsigned
xfer_pump(struct xfer *x)
{
	unsigned moved = 0;

	if (x->away == NULL && x->pool != NULL) {
		x->away = calloc(bulk_pool_buffer_count(x->pool), 1);
		if (x->away == NULL) {
			fprintf(stderr, "xfer: out of memory\n");
			exit(1);
		}
	}
	while (x->next < x->limit && !x->closed) {
		struct bulk_buffer *b = x->stash;
		struct xfer_meta m;
		uint32_t len = xfer_len(x, x->next);
		int rc;

		if (b == NULL) {
			b = bulk_pool_get(x->pool);
			if (b == NULL)
				break;
			xfer_fill(x, b->addr, len, x->next);
		}
		memset(&m, 0, sizeof(m));
		m.seq = x->next;
		m.len = len;
		m.check = meta_check(x, m.seq, len);
		rc = bulk_channel_move(x->ch, b, len, &m, BULK_CONT_NONE);
		if (rc == -ENOBUFS) {
			x->stash = b;
			break;
		}
		x->stash = NULL;
		if (rc < 0) {
			xfer_error(x, "bulk_channel_move", rc);
			if (bulk_pool_put(b) != 0)
				xfer_error(x, "bulk_pool_put after a refused move", rc);
			break;
		}
		x->away[b->index] = 1;
		x->nawy++;
		if (x->next < x->count) {
			x->buffers++;
			x->bytes += len;
		}
		x->next++;
		moved++;
	}
	return moved;
}

static void
pend_push(struct xfer *x, struct bulk_buffer *b)
{
	if (x->npend == x->pend_cap) {
		unsigned cap = x->pend_cap ? x->pend_cap * 2 : 64;
		struct bulk_buffer **p = realloc(x->pend, cap * sizeof(*p));

		if (p == NULL) {
			fprintf(stderr, "xfer: out of memory\n");
			exit(1);
		}
		x->pend = p;
		x->pend_cap = cap;
	}
	x->pend[x->npend++] = b;
}

static void
held_push(struct xfer *x, struct bulk_buffer *b)
{
	if (x->nheld == x->held_cap) {
		unsigned cap = x->held_cap ? x->held_cap * 2 : 64;
		struct bulk_buffer **p = realloc(x->held, cap * sizeof(*p));

		if (p == NULL) {
			fprintf(stderr, "xfer: out of memory\n");
			exit(1);
		}
		x->held = p;
		x->held_cap = cap;
	}
	x->held[x->nheld++] = b;
}

/* Pass one buffer back (length 0: nothing to carry); queue it if the queue is full. */
static int
pass_back(struct xfer *x, struct bulk_channel *ch, struct bulk_buffer *b)
{
	struct xfer_meta m;
	int rc;

	memset(&m, 0, sizeof(m));
	rc = bulk_channel_pass(ch, b, 0, &m, BULK_CONT_NONE);
	if (rc == -ENOBUFS) {
		pend_push(x, b);
		return 0;
	}
	if (rc < 0)
		xfer_error(x, "bulk_channel_pass", rc);
	return rc;
}

unsigned
xfer_flush(struct xfer *x)
{
	unsigned done = 0;

	while (done < x->npend && !x->closed) {
		struct xfer_meta m;
		int rc;

		memset(&m, 0, sizeof(m));
		rc = bulk_channel_pass(x->ch, x->pend[done], 0, &m, BULK_CONT_NONE);
		if (rc == -ENOBUFS)
			break;
		if (rc < 0)
			xfer_error(x, "bulk_channel_pass (retry)", rc);
		done++;
	}
	if (done == 0)
		return 0;
	memmove(x->pend, x->pend + done, (x->npend - done) * sizeof(*x->pend));
	x->npend -= done;
	return done;
}

int
xfer_release_held(struct xfer *x)
{
	for (unsigned i = 0; i < x->nheld; i++) {
		int rc = pass_back(x, x->ch, x->held[i]);

		if (rc < 0)
			return rc;
	}
	x->nheld = 0;
	return 0;
}

static void
on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	struct xfer *x = bulk_channel_user(ch);

	for (unsigned i = 0; i < n; i++) {
		struct xfer_meta m;
		struct bulk_buffer *b = bufs[i];
		uint32_t want;
		long bad;

		memcpy(&m, (const uint8_t *)meta + (size_t)i * XFER_META_SIZE, sizeof(m));
		if (m.seq >= x->seen_cap || m.check != meta_check(x, m.seq, m.len)) {
			x->verify_failures++;
			if (x->verify_failures <= 10)
				fprintf(stderr, "xfer[%s]: bad meta: seq %" PRIu64 " len %u check %#x "
					"(buffer %u)\n", x->name, m.seq, m.len, m.check, b->index);
			pass_back(x, ch, b);
			continue;
		}
		if (x->seen[m.seq / 8] & (1u << (m.seq % 8))) {
			x->dups++;
			if (x->dups <= 10)
				fprintf(stderr, "xfer[%s]: buffer %" PRIu64 " received twice\n", x->name,
					m.seq);
			pass_back(x, ch, b);
			continue;
		}
		x->seen[m.seq / 8] |= (uint8_t)(1u << (m.seq % 8));
		if (m.seq != x->next) {
			x->out_of_order++;
			if (x->out_of_order <= 10)
				fprintf(stderr, "xfer[%s]: got buffer %" PRIu64 ", expected %" PRIu64 "\n",
					x->name, m.seq, x->next);
		}
		x->next = m.seq + 1;
		want = xfer_len(x, m.seq);
		if (lens[i] != want || m.len != want) {
			x->verify_failures++;
			if (x->verify_failures <= 10)
				fprintf(stderr, "xfer[%s]: buffer %" PRIu64 ": length %u (meta %u), "
					"expected %u\n", x->name, m.seq, lens[i], m.len, want);
		} else if ((bad = xfer_check(x, b->addr, want, m.seq)) >= 0) {
			x->verify_failures++;
			if (x->verify_failures <= 10)
				fprintf(stderr, "xfer[%s]: buffer %" PRIu64 " (len %u, pool index %u): "
					"wrong byte at offset %ld\n", x->name, m.seq, want, b->index,
					bad);
		}
		if (m.seq < x->count) {
			x->buffers++;
			x->bytes += lens[i];
		} else {
			x->extra++;
		}
		if (m.seq >= x->hold_from)
			held_push(x, b);
		else
			pass_back(x, ch, b);
	}
}

static void
on_back(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	struct xfer *x = bulk_channel_user(ch);

	(void)lens;
	(void)meta;
	for (unsigned i = 0; i < n; i++) {
		struct bulk_buffer *b = bufs[i];
		int rc;

		if (x->away == NULL || !x->away[b->index]) {
			xfer_error(x, "a buffer came back that was not away", -EPROTO);
			continue;
		}
		x->away[b->index] = 0;
		x->nawy--;
		x->back++;
		rc = bulk_pool_put(b);
		if (rc != 0)
			xfer_error(x, "bulk_pool_put", rc);
	}
}

static void
on_teardown(struct bulk_channel *ch, int reason)
{
	struct xfer *x = bulk_channel_user(ch);

	x->closed = true;
	x->teardown_reason = reason;
}

static int
on_bind(struct bulk_channel *ch, const struct bulk_bind_info *info)
{
	(void)ch;
	(void)info;
	return 0;
}

static int
on_pool(struct bulk_channel *ch, struct bulk_pool *pool)
{
	(void)ch;
	(void)pool;
	return 0;
}

const struct bulk_channel_callbacks xfer_callbacks = {
	.bind_received = on_bind,
	.pool_assigned = on_pool,
	.move_received = on_move,
	.buffer_received = on_back,
	.teardown_received = on_teardown,
};

unsigned
xfer_put_home(struct xfer *x)
{
	unsigned put = 0;

	if (x->stash != NULL) {
		if (bulk_pool_put(x->stash) == 0)
			put++;
		else
			xfer_error(x, "bulk_pool_put of the stashed buffer", -EPROTO);
		x->stash = NULL;
	}
	if (x->away == NULL)
		return put;
	for (uint32_t i = 0; i < bulk_pool_buffer_count(x->pool); i++) {
		struct bulk_buffer *b;
		int rc;

		if (!x->away[i])
			continue;
		b = bulk_pool_buffer(x->pool, i);
		if (b->state != BULK_BUFFER_READ_WRITE) {
			fprintf(stderr, "xfer[%s]: buffer %u still %s after the channel closed\n",
				x->name, i, bulk_buffer_state_name((enum bulk_buffer_state)b->state));
			x->errors++;
			continue;
		}
		rc = bulk_pool_put(b);
		if (rc != 0) {
			xfer_error(x, "bulk_pool_put of a reclaimed buffer", rc);
			continue;
		}
		x->away[i] = 0;
		x->nawy--;
		put++;
	}
	return put;
}

void
xfer_print_result(const struct xfer *x, const char *role)
{
	printf("xfer: role=%s buffers=%" PRIu64 " bytes=%" PRIu64 " verify_failures=%" PRIu64
	       " dups=%" PRIu64 " out_of_order=%" PRIu64 " errors=%" PRIu64 "\n",
	       role, x->buffers, x->bytes, x->verify_failures, x->dups, x->out_of_order,
	       x->errors);
	fflush(stdout);
}
