/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The latency histogram's percentiles, key=value lines and CSV files.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "app.h"
#include "app_stats.h"

void
app_hist_init(struct app_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

/* Highest value that falls into bucket @p idx (inverse of app_hist_index()). */
static uint64_t
app_hist_bucket_high(unsigned idx)
{
	unsigned g = idx / APP_HIST_SUBN;
	uint64_t sub, shift;

	if (g == 0)
		return idx;
	shift = g - 1;
	sub = (uint64_t)(idx % APP_HIST_SUBN) + APP_HIST_SUBN;
	return (sub << shift) + ((1ull << shift) - 1);
}

uint64_t
app_hist_percentile(const struct app_hist *h, const struct app_hist *base, double p)
{
	uint64_t n = h->n - (base != NULL ? base->n : 0);
	uint64_t target, seen = 0;

	if (n == 0)
		return 0;
	if (p <= 0 && base == NULL)
		return h->min;
	target = (uint64_t)(p / 100.0 * (double)n + 0.999999);
	if (target == 0)
		target = 1;
	if (target > n)
		target = n;
	for (unsigned i = 0; i < APP_HIST_BUCKETS; i++) {
		seen += h->counts[i] - (base != NULL ? base->counts[i] : 0);
		if (seen >= target) {
			uint64_t v = app_hist_bucket_high(i);

			return v > h->max ? h->max : (v < h->min ? h->min : v);
		}
	}
	return h->max;
}

/* ------------------------------------------------------------ key=value */

void
app_kv_init(struct app_kv *kv, const char *head)
{
	int n = snprintf(kv->buf, sizeof(kv->buf), "%s", head);

	kv->len = n > 0 ? (size_t)n : 0;
	kv->truncated = false;
}

void
app_kv_add(struct app_kv *kv, const char *key, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (kv->len >= sizeof(kv->buf) - 1) {
		kv->truncated = true;
		return;
	}
	n = snprintf(kv->buf + kv->len, sizeof(kv->buf) - kv->len, " %s=", key);
	if (n > 0)
		kv->len += (size_t)n;
	if (kv->len >= sizeof(kv->buf) - 1) {
		kv->truncated = true;
		kv->len = sizeof(kv->buf) - 1;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(kv->buf + kv->len, sizeof(kv->buf) - kv->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		kv->len += (size_t)n;
	if (kv->len >= sizeof(kv->buf)) {
		kv->truncated = true;
		kv->len = sizeof(kv->buf) - 1;
	}
}

void
app_kv_u64(struct app_kv *kv, const char *key, bool measured, uint64_t v)
{
	if (measured)
		app_kv_add(kv, key, "%llu", (unsigned long long)v);
	else
		app_kv_add(kv, key, "n/a");
}

void
app_kv_print(const struct app_kv *kv)
{
	/* A cut line would be misread: say so rather than print half of it. */
	if (kv->truncated)
		app_err("internal: a key=value line did not fit %zu bytes", sizeof(kv->buf));
	printf("%s\n", kv->buf);
	fflush(stdout);
}

/* ------------------------------------------------------------------ CSV */

int
app_csv_open(struct app_csv *c, const char *path, const char *header)
{
	c->path = path;
	c->f = fopen(path, "w");
	if (c->f == NULL) {
		int err = errno;

		app_err("--csv %s: %s", path, strerror(err));
		return -err;
	}
	fprintf(c->f, "%s\n", header);
	return 0;
}

void
app_csv_row(struct app_csv *c, const char *fmt, ...)
{
	va_list ap;

	if (c->f == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(c->f, fmt, ap);
	va_end(ap);
	fputc('\n', c->f);
	fflush(c->f);
}

int
app_csv_close(struct app_csv *c)
{
	int rc = 0;

	if (c->f != NULL && fclose(c->f) != 0) {
		rc = -errno;
		app_err("--csv %s: %s", c->path, strerror(-rc));
	}
	c->f = NULL;
	return rc;
}
