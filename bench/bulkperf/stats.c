/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Statistics: the latency histogram's percentiles, testpmd-style periodic
 * and final blocks, the CSV file and the machine-readable result line.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "bulkperf.h"


void
perf_hist_init(struct perf_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

/* Highest value that falls into bucket @p idx (inverse of perf_hist_index()). */
static uint64_t
perf_hist_bucket_high(unsigned idx)
{
	unsigned g = idx / PERF_HIST_SUBN;
	uint64_t sub, shift;

	if (g == 0)
		return idx;
	shift = g - 1;
	sub = (uint64_t)(idx % PERF_HIST_SUBN) + PERF_HIST_SUBN;
	return (sub << shift) + ((1ull << shift) - 1);
}

uint64_t
perf_hist_percentile(const struct perf_hist *h, double p)
{
	uint64_t target, seen = 0;

	if (h->n == 0)
		return 0;
	if (p <= 0)
		return h->min;
	target = (uint64_t)(p / 100.0 * (double)h->n + 0.999999);
	if (target == 0)
		target = 1;
	if (target > h->n)
		target = h->n;
	for (unsigned i = 0; i < PERF_HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= target) {
			uint64_t v = perf_hist_bucket_high(i);

			return v > h->max ? h->max : (v < h->min ? h->min : v);
		}
	}
	return h->max;
}

void
perf_ctrs_read(const struct perf_ctrs *c, struct perf_ctrs_snap *s)
{
	s->tx_bufs = perf_ctr_get(&c->tx_bufs);
	s->tx_bytes = perf_ctr_get(&c->tx_bytes);
	s->rx_bufs = perf_ctr_get(&c->rx_bufs);
	s->rx_bytes = perf_ctr_get(&c->rx_bytes);
	s->qfull = perf_ctr_get(&c->qfull);
	s->errors = perf_ctr_get(&c->errors);
}

/*
 * The count a mode reports, in buffers and bytes (tx_bufs/tx_bytes of @p s):
 * txonly counts what the source sent, rxonly what the sink received, the
 * round-trip modes what came back to the source. A process without the
 * source (an shm sink or hop) counts what came in from upstream.
 */
void
perf_main_counter(struct perf_run *r, struct perf_ctrs_snap *s)
{
	const struct perf_ctrs *c;

	memset(s, 0, sizeof(*s));
	if (r->source == NULL || r->o->mode == PERF_MODE_RXONLY) {
		c = &(r->sink != NULL ? r->sink : &r->nodes[0])->up->ctr;
		s->tx_bufs = perf_ctr_get(&c->rx_bufs);
		s->tx_bytes = perf_ctr_get(&c->rx_bytes);
	} else if (r->o->mode == PERF_MODE_TXONLY) {
		c = &r->source->down->ctr;
		s->tx_bufs = perf_ctr_get(&c->tx_bufs);
		s->tx_bytes = perf_ctr_get(&c->tx_bytes);
	} else {
		c = &r->source->down->ctr;
		s->tx_bufs = perf_ctr_get(&c->rx_bufs);
		s->tx_bytes = perf_ctr_get(&c->rx_bytes);
	}
}

static uint64_t
perf_verify_failures(struct perf_run *r)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < r->nnodes; i++)
		n += perf_ctr_get(&r->nodes[i].verify_failures);
	return n;
}

static uint64_t
perf_app_errors(struct perf_run *r)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < r->nends; i++)
		n += perf_ctr_get(&r->ends[i].ctr.errors);
	return n;
}

static uint64_t
perf_app_qfull(struct perf_run *r)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < r->nends; i++)
		n += perf_ctr_get(&r->ends[i].ctr.qfull);
	return n;
}

static double
perf_rate(uint64_t n, double secs)
{
	return secs > 0 ? (double)n / secs : 0.0;
}

static double
perf_gbit(uint64_t bytes, double secs)
{
	return secs > 0 ? (double)bytes * 8.0 / secs / 1e9 : 0.0;
}

/*
 * One link's block. @p base is subtracted (the last print, or zeros for
 * the final block); @p lib the library's statistics of both ends when they
 * can be read safely (NULL otherwise).
 */
static void
perf_print_link(struct perf_run *r, unsigned link, const struct perf_ctrs_snap *tx,
		const struct perf_ctrs_snap *rx, const struct perf_ctrs_snap *btx,
		const struct perf_ctrs_snap *brx, const struct bulk_channel_stats *lib, double secs,
		const char *rates)
{
	static const struct perf_ctrs_snap zero;
	const struct perf_node *up = &r->nodes[link], *down = &r->nodes[link + 1];

	if (btx == NULL)
		btx = &zero;
	if (brx == NULL)
		brx = &zero;
	printf("\n  ######################## Link %u statistics: %s -> %s "
	       "########################\n",
	       link, up->name, down->name);
	printf("  Forward (move)  TX-buffers: %-14" PRIu64 " TX-bytes: %-16" PRIu64
	       " RX-buffers: %-14" PRIu64 " RX-bytes: %" PRIu64 "\n",
	       tx->tx_bufs, tx->tx_bytes, rx->rx_bufs, rx->rx_bytes);
	printf("  Return  (pass)  TX-buffers: %-14" PRIu64 " TX-bytes: %-16" PRIu64
	       " RX-buffers: %-14" PRIu64 " RX-bytes: %" PRIu64 "\n",
	       rx->tx_bufs, rx->tx_bytes, tx->rx_bufs, tx->rx_bytes);
	printf("  TX-errors: %-8" PRIu64 " RX-errors: %-8" PRIu64, tx->errors, rx->errors);
	if (lib != NULL)
		printf(" TX-queue-full: %-8" PRIu64 " RX-queue-full: %-8" PRIu64
		       " TX-bad-desc: %-6" PRIu64 " RX-bad-desc: %" PRIu64 "\n",
		       lib[0].queue_full, lib[1].queue_full, lib[0].bad_desc, lib[1].bad_desc);
	else
		printf(" TX-queue-full: %-8" PRIu64 " RX-queue-full: %" PRIu64 "\n", tx->qfull,
		       rx->qfull);
	printf("\n  Throughput (%s)\n", rates);
	printf("  Fwd-buffers/s: %14.0f          Fwd-Gbit/s: %10.3f\n",
	       perf_rate(rx->rx_bufs - brx->rx_bufs, secs),
	       perf_gbit(rx->rx_bytes - brx->rx_bytes, secs));
	printf("  Ret-buffers/s: %14.0f          Ret-Gbit/s: %10.3f\n",
	       perf_rate(tx->rx_bufs - btx->rx_bufs, secs),
	       perf_gbit(tx->rx_bytes - btx->rx_bytes, secs));
	printf("  ##########################################################################"
	       "##########\n");
}

/*
 * One end of a link whose other end is another process (shm): what this
 * side sent and received, and the library's statistics of this side.
 */
static void
perf_print_end(struct perf_run *r, const struct perf_end *e, const struct perf_ctrs_snap *c,
	       const struct perf_ctrs_snap *base, const struct bulk_channel_stats *lib,
	       double secs, const char *rates)
{
	static const struct perf_ctrs_snap zero;
	char up[16], down[16];
	/* Forward is what crossed the link by move, return what came back by pass. */
	uint64_t fwd_bufs = e->tx_side ? c->tx_bufs : c->rx_bufs;
	uint64_t fwd_bytes = e->tx_side ? c->tx_bytes : c->rx_bytes;
	uint64_t ret_bufs = e->tx_side ? c->rx_bufs : c->tx_bufs;
	uint64_t ret_bytes = e->tx_side ? c->rx_bytes : c->tx_bytes;

	if (base == NULL)
		base = &zero;
	perf_node_name(e->link, r->o->hops, up, sizeof(up));
	perf_node_name(e->link + 1, r->o->hops, down, sizeof(down));
	printf("\n  ######################## Link %u statistics: %s -> %s, %s end (%s) "
	       "########################\n",
	       e->link, up, down, e->tx_side ? "TX" : "RX", e->node->name);
	printf("  Forward (move)  %s-buffers: %-14" PRIu64 " %s-bytes: %" PRIu64 "\n",
	       e->tx_side ? "TX" : "RX", fwd_bufs, e->tx_side ? "TX" : "RX", fwd_bytes);
	printf("  Return  (pass)  %s-buffers: %-14" PRIu64 " %s-bytes: %" PRIu64 "\n",
	       e->tx_side ? "RX" : "TX", ret_bufs, e->tx_side ? "RX" : "TX", ret_bytes);
	printf("  Errors: %-8" PRIu64 " Queue-full: %-8" PRIu64, c->errors,
	       lib != NULL ? lib->queue_full : c->qfull);
	if (lib != NULL)
		printf(" Bad-desc: %-6" PRIu64 " Wakeups: %-8" PRIu64 " Trust-copies: %" PRIu64
		       " (%" PRIu64 " bytes) Reclaimed: %" PRIu64,
		       lib->bad_desc, lib->wakeups, lib->trust_copies, lib->trust_copy_bytes,
		       lib->reclaimed);
	printf("\n\n  Throughput (%s)\n", rates);
	printf("  Fwd-buffers/s: %14.0f          Fwd-Gbit/s: %10.3f\n",
	       perf_rate(fwd_bufs - (e->tx_side ? base->tx_bufs : base->rx_bufs), secs),
	       perf_gbit(fwd_bytes - (e->tx_side ? base->tx_bytes : base->rx_bytes), secs));
	printf("  Ret-buffers/s: %14.0f          Ret-Gbit/s: %10.3f\n",
	       perf_rate(ret_bufs - (e->tx_side ? base->rx_bufs : base->tx_bufs), secs),
	       perf_gbit(ret_bytes - (e->tx_side ? base->rx_bytes : base->tx_bytes), secs));
	printf("  ##########################################################################"
	       "##########\n");
}

static void
perf_csv_row(struct perf_run *r, double t, const char *kind, uint64_t bufs, uint64_t bytes,
	     double secs, bool lat, uint64_t p50, uint64_t p99, uint64_t vf, uint64_t errs,
	     uint64_t qfull)
{
	if (r->csv == NULL)
		return;
	fprintf(r->csv, "%.3f,%s,%" PRIu64 ",%" PRIu64 ",%.1f,%.3f,", t, kind, bufs, bytes,
		perf_rate(bufs, secs), perf_gbit(bytes, secs));
	if (lat)
		fprintf(r->csv, "%" PRIu64 ",%" PRIu64, p50, p99);
	else
		fputc(',', r->csv);
	fprintf(r->csv, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", vf, errs, qfull);
	fflush(r->csv);
}

/*
 * Periodic block. @p lib_safe: the caller is the thread that drives every
 * domain, so the library's statistics and the latency histogram may be
 * read; with one thread per domain they belong to other threads.
 */
void
perf_stats_periodic(struct perf_run *r, uint64_t now, bool lib_safe)
{
	double secs = (double)(now - r->t_last_print) / PERF_SEC_NS;
	struct perf_ctrs_snap m;
	uint64_t p50 = 0, p99 = 0, vf, errs;
	bool lat = lib_safe && r->stamp;

	for (unsigned i = 0; r->split && i < r->nends; i++) {
		struct perf_end *e = &r->ends[i];
		struct bulk_channel_stats lib;
		struct perf_ctrs_snap sc;

		perf_ctrs_read(&e->ctr, &sc);
		/* A split process is single-threaded: the library's view is ours to read. */
		memset(&lib, 0, sizeof(lib));
		if (e->ch != NULL)
			bulk_channel_stats_get(e->ch, &lib);
		perf_print_end(r, e, &sc, &e->prev, &lib, secs, "since last show");
		e->prev = sc;
	}
	for (unsigned i = 0; !r->split && i < r->nlinks; i++) {
		struct perf_end *tx = &r->ends[2 * i], *rx = &r->ends[2 * i + 1];
		struct perf_ctrs_snap stx, srx;
		struct bulk_channel_stats lib[2];

		perf_ctrs_read(&tx->ctr, &stx);
		perf_ctrs_read(&rx->ctr, &srx);
		if (lib_safe) {
			bulk_channel_stats_get(tx->ch, &lib[0]);
			bulk_channel_stats_get(rx->ch, &lib[1]);
		}
		perf_print_link(r, i, &stx, &srx, &tx->prev, &rx->prev, lib_safe ? lib : NULL, secs,
				"since last show");
		tx->prev = stx;
		rx->prev = srx;
	}
	perf_main_counter(r, &m);
	vf = perf_verify_failures(r);
	errs = perf_app_errors(r);
	if (lat) {
		p50 = perf_hist_percentile(&r->hist, 50);
		p99 = perf_hist_percentile(&r->hist, 99);
	}
	printf("  %s: %" PRIu64 " buffers (%.0f/s, %.3f Gbit/s) in the last %.2f s",
	       perf_mode_name(r->o->mode), m.tx_bufs - r->prev_main.tx_bufs,
	       perf_rate(m.tx_bufs - r->prev_main.tx_bufs, secs),
	       perf_gbit(m.tx_bytes - r->prev_main.tx_bytes, secs), secs);
	if (lat)
		printf(", rtt p50 %" PRIu64 " ns p99 %" PRIu64 " ns (cumulative)", p50, p99);
	printf(", verify failures %" PRIu64 ", errors %" PRIu64 "\n", vf, errs);
	fflush(stdout);
	perf_csv_row(r, (double)(now - r->t_start) / PERF_SEC_NS, "period",
		     m.tx_bufs - r->prev_main.tx_bufs, m.tx_bytes - r->prev_main.tx_bytes, secs,
		     lat, p50, p99, vf, errs, perf_app_qfull(r));
	r->prev_main = m;
	r->t_last_print = now;
}

/* After teardown: everything is quiet and the library's statistics were read. */
void
perf_totals_get(struct perf_run *r, struct perf_totals *t)
{
	struct perf_ctrs_snap m;

	memset(t, 0, sizeof(*t));
	perf_main_counter(r, &m);
	t->buffers = m.tx_bufs;
	t->bytes = m.tx_bytes;
	t->secs = r->t_end > r->t_start ? (double)(r->t_end - r->t_start) / PERF_SEC_NS : 0;
	t->buffers_per_s = perf_rate(t->buffers, t->secs);
	t->gbit_s = perf_gbit(t->bytes, t->secs);
	if (r->stamp) {
		t->p50 = perf_hist_percentile(&r->hist, 50);
		t->p99 = perf_hist_percentile(&r->hist, 99);
	}
	t->verify_failures = perf_verify_failures(r);
	for (unsigned i = 0; i < r->nnodes; i++)
		t->checked += perf_ctr_get(&r->nodes[i].checked);
	for (unsigned i = 0; i < r->nends; i++) {
		t->queue_full += r->ends[i].lib.queue_full;
		t->bad_desc += r->ends[i].lib.bad_desc;
		t->wakeups += r->ends[i].lib.wakeups;
		t->trust_copies += r->ends[i].lib.trust_copies;
		t->reclaimed += r->ends[i].lib.reclaimed;
	}
	/* A rejected descriptor is a protocol error; a full queue is back-pressure. */
	t->errors = r->errors + perf_app_errors(r) + t->bad_desc;
}

void
perf_stats_final(struct perf_run *r, const struct perf_totals *t)
{
	const struct perf_opts *o = r->o;
	const struct perf_hist *h = &r->hist;
	char how[32];

	for (unsigned i = 0; r->split && i < r->nends; i++) {
		struct perf_ctrs_snap sc;

		perf_ctrs_read(&r->ends[i].ctr, &sc);
		perf_print_end(r, &r->ends[i], &sc, NULL, &r->ends[i].lib, t->secs, "average");
	}
	for (unsigned i = 0; !r->split && i < r->nlinks; i++) {
		struct perf_end *tx = &r->ends[2 * i], *rx = &r->ends[2 * i + 1];
		struct bulk_channel_stats lib[2] = { tx->lib, rx->lib };
		struct perf_ctrs_snap stx, srx;

		perf_ctrs_read(&tx->ctr, &stx);
		perf_ctrs_read(&rx->ctr, &srx);
		perf_print_link(r, i, &stx, &srx, NULL, NULL, lib, t->secs, "average");
	}
	if (r->split)
		snprintf(how, sizeof(how), "process %s", r->nodes[0].name);
	else
		snprintf(how, sizeof(how), "%s", o->threads ? "thread per domain" : "one thread");
	printf("\n  +++++++++++++++ Accumulated statistics: backend %s, mode %s, %u hop%s, %s"
	       " +++++++++++++++\n",
	       o->backend, perf_mode_name(o->mode), o->hops, o->hops == 1 ? "" : "s", how);
	printf("  Buffers: %-14" PRIu64 " Bytes: %-18" PRIu64 " Time: %.3f s\n", t->buffers,
	       t->bytes, t->secs);
	printf("  Buffers/s: %-14.0f Gbit/s: %.3f\n", t->buffers_per_s, t->gbit_s);
	if (r->stamp && h->n > 0)
		printf("  RTT ns (%s, %" PRIu64 " samples): min %" PRIu64 " p50 %" PRIu64
		       " p90 %" PRIu64 " p99 %" PRIu64 " p99.9 %" PRIu64 " max %" PRIu64
		       " mean %.0f\n",
		       r->stamp_every ? "per buffer" : "per burst", h->n, h->min, t->p50,
		       perf_hist_percentile(h, 90), t->p99, perf_hist_percentile(h, 99.9), h->max,
		       (double)h->sum / (double)h->n);
	printf("  Verify failures: %-8" PRIu64 " Errors: %-8" PRIu64 " Queue-full: %-8" PRIu64
	       " Bad-desc: %-6" PRIu64,
	       t->verify_failures, t->errors, t->queue_full, t->bad_desc);
	if (t->checked != 0)
		printf(" Checked: %" PRIu64 "\n", t->checked);
	else
		printf(" (not verifying)\n");
	if (r->split)
		printf("  Wakeups: %-8" PRIu64 " Trust-copies: %-8" PRIu64 " Reclaimed: %" PRIu64 "\n",
		       t->wakeups, t->trust_copies, t->reclaimed);
	printf("  ++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++"
	       "++++++++++\n\n");
	perf_csv_row(r, t->secs, "final", t->buffers, t->bytes, t->secs, r->stamp, t->p50, t->p99,
		     t->verify_failures, t->errors, t->queue_full);
}

int
perf_csv_open(struct perf_run *r)
{
	if (r->o->csv == NULL)
		return 0;
	r->csv = fopen(r->o->csv, "w");
	if (r->csv == NULL) {
		int err = errno;

		fprintf(stderr, "bulkperf: --csv %s: %s\n", r->o->csv, strerror(err));
		return -err;
	}
	fprintf(r->csv, "time_s,row,buffers,bytes,buffers_per_s,gbit_s,rtt_p50_ns,rtt_p99_ns,"
			"verify_failures,errors,queue_full\n");
	return 0;
}

void
perf_csv_close(struct perf_run *r)
{
	if (r->csv != NULL && fclose(r->csv) != 0) {
		fprintf(stderr, "bulkperf: --csv %s: %s\n", r->o->csv, strerror(errno));
		r->errors++;
	}
	r->csv = NULL;
}

void
perf_result_line(struct perf_run *r, const struct perf_totals *t)
{
	printf("result: backend=%s mode=%s buffers=%" PRIu64 " bytes=%" PRIu64
	       " buffers_per_s=%.1f gbit_s=%.3f rtt_p50_ns=%" PRIu64 " rtt_p99_ns=%" PRIu64
	       " verify_failures=%" PRIu64 " errors=%" PRIu64 "\n",
	       r->o->backend, perf_mode_name(r->o->mode), t->buffers, t->bytes, t->buffers_per_s,
	       t->gbit_s, t->p50, t->p99, t->verify_failures, t->errors);
	fflush(stdout);
}

/*
 * The end of a run, after teardown: final block, CSV, result line.
 * @return the exit status (failure on errors or verify failures).
 */
int
perf_report(struct perf_run *r, bool result_line)
{
	struct perf_totals t;

	perf_totals_get(r, &t);
	perf_stats_final(r, &t);
	perf_csv_close(r);
	/* Closing the CSV file can fail too. */
	perf_totals_get(r, &t);
	if (result_line)
		perf_result_line(r, &t);
	fflush(stdout);
	return (t.errors != 0 || t.verify_failures != 0) ? PERF_EXIT_FAIL : PERF_EXIT_OK;
}
