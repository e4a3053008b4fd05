/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Statistics: a latency histogram, rates, a CSV file and the one-line
 * machine-readable result ("result: key=value ..."), in which a figure
 * this side did not measure reads "n/a", never 0.
 */
#ifndef APP_STATS_H
#define APP_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Log-linear histogram (the HdrHistogram layout): values below
 * 2^APP_HIST_SUB are exact, above that every power of two is split into
 * 2^APP_HIST_SUB buckets, so the relative error stays under 1/64 from
 * nanoseconds to hours with a fixed 30 KiB table and no allocation.
 */
#define APP_HIST_SUB	 6u
#define APP_HIST_SUBN	 (1u << APP_HIST_SUB)
#define APP_HIST_BUCKETS ((64u - APP_HIST_SUB + 1u) * APP_HIST_SUBN)

struct app_hist {
	uint64_t n;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t counts[APP_HIST_BUCKETS];
};

static inline unsigned
app_hist_index(uint64_t v)
{
	unsigned msb;

	if (v < APP_HIST_SUBN)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	return (msb - APP_HIST_SUB + 1u) * APP_HIST_SUBN +
	       (unsigned)((v >> (msb - APP_HIST_SUB)) - APP_HIST_SUBN);
}

static inline void
app_hist_record(struct app_hist *h, uint64_t v)
{
	h->counts[app_hist_index(v)]++;
	h->n++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void app_hist_init(struct app_hist *h);

/**
 * The value at percentile @p p (0..100) of the samples recorded since
 * @p base was copied from @p h (NULL: all of them): the bucket's highest
 * value, capped at the maximum. 0 when there is no such sample.
 */
uint64_t app_hist_percentile(const struct app_hist *h, const struct app_hist *base, double p);

static inline double
app_rate(uint64_t n, double secs)
{
	return secs > 0 ? (double)n / secs : 0.0;
}

static inline double
app_gbit(uint64_t bytes, double secs)
{
	return secs > 0 ? (double)bytes * 8.0 / secs / 1e9 : 0.0;
}

/* ------------------------------------------------------- result line */

/** A line of key=value pairs. */
struct app_kv {
	char buf[768];
	size_t len;
	bool truncated;
};

void app_kv_init(struct app_kv *kv, const char *head);
/** Append " key=value" (value formatted). */
void app_kv_add(struct app_kv *kv, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/** Append " key=N", or " key=n/a" when not @p measured. */
void app_kv_u64(struct app_kv *kv, const char *key, bool measured, uint64_t v);
/** Print the line on stdout and flush it. */
void app_kv_print(const struct app_kv *kv);

/* ---------------------------------------------------------------- CSV */

struct app_csv {
	FILE *f;
	const char *path;
};

/** Create @p path and write @p header. @return 0 or -errno (said). */
int app_csv_open(struct app_csv *c, const char *path, const char *header);
/** Write one row (fmt without the newline) and flush it; nothing when not open. */
void app_csv_row(struct app_csv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Close it. @return 0 or -errno (said): a full disk shows here. */
int app_csv_close(struct app_csv *c);

#endif /* APP_STATS_H */
