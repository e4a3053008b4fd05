/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What bulkperf prints: testpmd-style periodic and final blocks, the CSV
 * file and the machine-readable result line. Figures that cannot mislead:
 * a rate is "nominal" when no payload byte was written or read (a moved
 * buffer's size, not bytes that crossed anything); a figure this side did
 * not measure reads "n/a"; every CSV row covers one stated interval and
 * every count in it belongs to that interval.
 */
#include <inttypes.h>
#include <string.h>

#include "bulkperf.h"

#define PERF_CSV_HEADER                                                                  \
	"backend,mode,buffer_size,burst,trust,hops,process,row,t0_s,t1_s,buffers,bytes," \
	"buffers_per_s,gbit_s,payload,rtt_p50_ns,rtt_p99_ns,verify_failures,errors,"     \
	"queue_full"

/*
 * The count a mode reports, in buffers and bytes (tx_bufs/tx_bytes of @p s):
 * txonly counts what the source sent, rxonly what the sink received, the
 * round-trip modes what came back to the source. A process without the
 * source (a reflector or a hop) counts what came in from upstream.
 */
void
perf_main_counter(struct perf_run *r, struct app_ctrs_snap *s)
{
	const struct app_ctrs *c;

	memset(s, 0, sizeof(*s));
	if (r->source == NULL || r->o->mode == PERF_MODE_RXONLY) {
		c = &(r->sink != NULL ? r->sink : &r->nodes[0])->up->c.ctr;
		s->tx_bufs = app_ctr_get(&c->rx_bufs);
		s->tx_bytes = app_ctr_get(&c->rx_bytes);
	} else {
		bool sent = r->o->mode == PERF_MODE_TXONLY;

		c = &r->source->down->c.ctr;
		s->tx_bufs = app_ctr_get(sent ? &c->tx_bufs : &c->rx_bufs);
		s->tx_bytes = app_ctr_get(sent ? &c->tx_bytes : &c->rx_bytes);
	}
}

static uint64_t
perf_sum_nodes(struct perf_run *r, size_t off)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < r->nnodes; i++)
		n += app_ctr_get((const app_ctr_t *)((const char *)&r->nodes[i] + off));
	return n;
}

static uint64_t
perf_sum_ends(struct perf_run *r, size_t off)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < r->nends; i++)
		n += app_ctr_get((const app_ctr_t *)((const char *)&r->ends[i].c.ctr + off));
	return n;
}

#define perf_verify_failures(r) perf_sum_nodes(r, offsetof(struct perf_node, verify_failures))
#define perf_checked(r)		perf_sum_nodes(r, offsetof(struct perf_node, checked))
#define perf_app_errors(r)	perf_sum_ends(r, offsetof(struct app_ctrs, errors))
#define perf_app_qfull(r)	perf_sum_ends(r, offsetof(struct app_ctrs, qfull))

/*
 * Did anyone read or write a payload byte? The source writes the pattern
 * and both ends check it (--verify, or a sink that found it marked); a
 * network transport and shm's NONE staging copy every byte. Otherwise a
 * "byte" rate is buffers x size: ownership moved, no data did.
 */
static bool
perf_touched(struct perf_run *r)
{
	return r->o->verify || perf_checked(r) != 0 || r->form->copies_payload ||
	       r->o->trust_level == BULK_TRUST_NONE;
}

/* @p v as a number, or "n/a" when not @p have. */
static const char *
perf_num(char buf[24], bool have, uint64_t v)
{
	if (have)
		snprintf(buf, 24, "%" PRIu64, v);
	else
		snprintf(buf, 24, "n/a");
	return buf;
}

/*
 * One link's block, with what this process holds of it: its TX end, its
 * RX end or both (the other's columns read n/a). @p base: the counts at
 * the last print (NULL: the whole run); @p lib the library's counters of
 * the ends held (NULL where they cannot be read safely).
 */
static void
perf_print_link(struct perf_run *r, unsigned link, struct perf_end *tx, struct perf_end *rx,
		bool since_last, const struct bulk_channel_stats *ltx,
		const struct bulk_channel_stats *lrx, double secs, bool touched)
{
	struct app_ctrs_snap t = { 0 }, x = { 0 }, bt = { 0 }, bx = { 0 };
	char up[16], down[16], b[8][24];
	uint64_t fwd_bufs, fwd_bytes, ret_bufs, ret_bytes;

	if (tx != NULL) {
		app_ctrs_read(&tx->c.ctr, &t);
		if (since_last)
			bt = tx->prev;
	}
	if (rx != NULL) {
		app_ctrs_read(&rx->c.ctr, &x);
		if (since_last)
			bx = rx->prev;
	}
	perf_node_name(link, r->o->hops, up, sizeof(up));
	perf_node_name(link + 1, r->o->hops, down, sizeof(down));
	printf("\n  ######################## Link %u statistics: %s -> %s, %s%s "
	       "########################\n",
	       link, up, down, (tx != NULL ? tx : rx)->c.addr,
	       tx == NULL ? ", RX end" : (rx == NULL ? ", TX end" : ""));
	printf("  Forward (move)  TX-buffers: %-14s TX-bytes: %-16s RX-buffers: %-14s RX-bytes: %s\n",
	       perf_num(b[0], tx, t.tx_bufs), perf_num(b[1], tx, t.tx_bytes),
	       perf_num(b[2], rx, x.rx_bufs), perf_num(b[3], rx, x.rx_bytes));
	printf("  Return  (pass)  TX-buffers: %-14s TX-bytes: %-16s RX-buffers: %-14s RX-bytes: %s\n",
	       perf_num(b[4], rx, x.tx_bufs), perf_num(b[5], rx, x.tx_bytes),
	       perf_num(b[6], tx, t.rx_bufs), perf_num(b[7], tx, t.rx_bytes));
	printf("  TX-errors: %-8s RX-errors: %-8s", perf_num(b[0], tx, t.errors),
	       perf_num(b[1], rx, x.errors));
	if (ltx != NULL || lrx != NULL) {
		uint64_t copies = 0, copy_bytes = 0, reclaimed = 0;

		for (unsigned k = 0; k < 2; k++) {
			const struct bulk_channel_stats *s = k == 0 ? ltx : lrx;

			if (s != NULL) {
				copies += s->trust_copies;
				copy_bytes += s->trust_copy_bytes;
				reclaimed += s->reclaimed;
			}
		}
		printf(" TX-queue-full: %-8s RX-queue-full: %-8s TX-bad-desc: %-6s RX-bad-desc: %s\n",
		       perf_num(b[2], ltx, ltx ? ltx->queue_full : 0),
		       perf_num(b[3], lrx, lrx ? lrx->queue_full : 0),
		       perf_num(b[4], ltx, ltx ? ltx->bad_desc : 0),
		       perf_num(b[5], lrx, lrx ? lrx->bad_desc : 0));
		printf("  Wakeups: %-8" PRIu64 " Trust-copies: %" PRIu64 " (%" PRIu64
		       " bytes) Reclaimed: %" PRIu64 "\n",
		       (ltx ? ltx->wakeups : 0) + (lrx ? lrx->wakeups : 0), copies, copy_bytes,
		       reclaimed);
	} else {
		printf(" TX-queue-full: %-8s RX-queue-full: %s\n", perf_num(b[2], tx, t.qfull),
		       perf_num(b[3], rx, x.qfull));
	}
	/* What crossed: counted where it arrived when that end is here. */
	fwd_bufs = rx != NULL ? x.rx_bufs - bx.rx_bufs : t.tx_bufs - bt.tx_bufs;
	fwd_bytes = rx != NULL ? x.rx_bytes - bx.rx_bytes : t.tx_bytes - bt.tx_bytes;
	ret_bufs = tx != NULL ? t.rx_bufs - bt.rx_bufs : x.tx_bufs - bx.tx_bufs;
	ret_bytes = tx != NULL ? t.rx_bytes - bt.rx_bytes : x.tx_bytes - bx.tx_bytes;
	printf("\n  Throughput (%s%s)\n", since_last ? "since last show" : "average",
	       touched ? "" : "; nominal: no payload byte was written or read");
	printf("  Fwd-buffers/s: %14.0f          Fwd-Gbit/s: %10.3f%s\n", app_rate(fwd_bufs, secs),
	       app_gbit(fwd_bytes, secs), touched ? "" : " nominal");
	printf("  Ret-buffers/s: %14.0f          Ret-Gbit/s: %10.3f%s\n", app_rate(ret_bufs, secs),
	       app_gbit(ret_bytes, secs), touched ? "" : " nominal");
	printf("  ##########################################################################"
	       "##########\n");
}

/* Every link this process holds an end of, in order. */
static void
perf_print_links(struct perf_run *r, bool since_last, bool lib_now, double secs, bool touched)
{
	for (unsigned k = 0; k < r->nlinks; k++) {
		struct perf_end *e[2] = { NULL, NULL };
		struct bulk_channel_stats lib[2];
		bool have[2] = { false, false };

		for (unsigned i = 0; i < r->nends; i++)
			if (r->ends[i].link == k)
				e[r->ends[i].c.tx_side ? 0 : 1] = &r->ends[i];
		if (e[0] == NULL && e[1] == NULL)
			continue;
		for (unsigned s = 0; s < 2; s++) {
			if (e[s] == NULL)
				continue;
			if (!since_last) {
				lib[s] = e[s]->c.lib;
				have[s] = true;
			} else if (lib_now && e[s]->c.ch != NULL) {
				have[s] = bulk_channel_stats_get(e[s]->c.ch, &lib[s]) == 0;
			}
		}
		perf_print_link(r, k, e[0], e[1], since_last, have[0] ? &lib[0] : NULL,
				have[1] ? &lib[1] : NULL, secs, touched);
		for (unsigned s = 0; since_last && s < 2; s++)
			if (e[s] != NULL)
				app_ctrs_read(&e[s]->c.ctr, &e[s]->prev);
	}
}

/* ------------------------------------------------------------------ CSV */

int
perf_csv_open(struct perf_run *r)
{
	if (r->o->csv == NULL)
		return 0;
	return app_csv_open(&r->csv, r->o->csv, PERF_CSV_HEADER);
}

/* One row: everything in it happened between @p t0 and @p t1 (seconds from the start). */
static void
perf_csv_row(struct perf_run *r, const char *row, double t0, double t1, uint64_t bufs,
	     uint64_t bytes, bool touched, bool lat, uint64_t p50, uint64_t p99, uint64_t vf,
	     uint64_t errors, uint64_t qfull)
{
	const struct perf_opts *o = r->o;
	char a[24], b[24];

	app_csv_row(&r->csv,
		    "%s,%s,%u,%u,%s,%u,%s,%s,%.3f,%.3f,%" PRIu64 ",%" PRIu64 ",%.1f,%.3f,%s,%s,%s,"
		    "%" PRIu64 ",%" PRIu64 ",%" PRIu64,
		    o->backend_name, perf_mode_name(o->mode), r->payload_len, o->burst,
		    app_trust_name(o->trust_level), o->hops, r->split ? r->nodes[0].name : "all",
		    row, t0, t1, bufs, bytes, app_rate(bufs, t1 - t0), app_gbit(bytes, t1 - t0),
		    touched ? "touched" : "nominal", perf_num(a, lat, p50), perf_num(b, lat, p99),
		    vf, errors, qfull);
}

/* ------------------------------------------------------------- periodic */

/*
 * Periodic block. @p lib_safe: the caller is the thread that drives every
 * domain, so the library's statistics and the latency histogram may be
 * read; with one thread per domain they belong to other threads.
 */
void
perf_stats_periodic(struct perf_run *r, uint64_t now, bool lib_safe)
{
	double secs = (double)(now - r->t_last_print) / APP_SEC_NS;
	uint64_t vf = perf_verify_failures(r), errors = perf_app_errors(r);
	uint64_t qfull = perf_app_qfull(r), p50 = 0, p99 = 0;
	bool touched = perf_touched(r);
	bool lat = lib_safe && r->stamp && r->hist.n > r->hist_prev->n;
	struct app_ctrs_snap m;

	perf_print_links(r, true, lib_safe, secs, touched);
	perf_main_counter(r, &m);
	if (lat) {
		p50 = app_hist_percentile(&r->hist, r->hist_prev, 50);
		p99 = app_hist_percentile(&r->hist, r->hist_prev, 99);
	}
	if (lib_safe)
		*r->hist_prev = r->hist;
	printf("  %s: %" PRIu64 " buffers (%.0f/s, %.3f Gbit/s%s) in the last %.2f s",
	       perf_mode_name(r->o->mode), m.tx_bufs - r->prev_main.tx_bufs,
	       app_rate(m.tx_bufs - r->prev_main.tx_bufs, secs),
	       app_gbit(m.tx_bytes - r->prev_main.tx_bytes, secs), touched ? "" : " nominal", secs);
	if (lat)
		printf(", rtt p50 %" PRIu64 " ns p99 %" PRIu64 " ns", p50, p99);
	printf(", verify failures %" PRIu64 ", errors %" PRIu64 " (all in this period)\n",
	       vf - r->prev_vf, errors - r->prev_errors);
	fflush(stdout);
	perf_csv_row(r, "period", (double)(r->t_last_print - r->t_start) / APP_SEC_NS,
		     (double)(now - r->t_start) / APP_SEC_NS, m.tx_bufs - r->prev_main.tx_bufs,
		     m.tx_bytes - r->prev_main.tx_bytes, touched, lat, p50, p99, vf - r->prev_vf,
		     errors - r->prev_errors, qfull - r->prev_qfull);
	r->prev_main = m;
	r->prev_vf = vf;
	r->prev_errors = errors;
	r->prev_qfull = qfull;
	r->t_last_print = now;
}

/* ----------------------------------------------------------------- final */

/* After teardown: everything is quiet and the library's statistics were read. */
static void
perf_totals_get(struct perf_run *r, struct perf_totals *t)
{
	struct app_ctrs_snap m;

	memset(t, 0, sizeof(*t));
	perf_main_counter(r, &m);
	t->buffers = m.tx_bufs;
	t->bytes = m.tx_bytes;
	t->secs = r->t_end > r->t_start ? (double)(r->t_end - r->t_start) / APP_SEC_NS : 0;
	t->buffers_per_s = app_rate(t->buffers, t->secs);
	t->gbit_s = app_gbit(t->bytes, t->secs);
	t->rtt = r->stamp && r->hist.n > 0;
	if (t->rtt) {
		t->p50 = app_hist_percentile(&r->hist, NULL, 50);
		t->p99 = app_hist_percentile(&r->hist, NULL, 99);
	}
	t->touched = perf_touched(r);
	t->verify_failures = perf_verify_failures(r);
	t->checked = perf_checked(r);
	for (unsigned i = 0; i < r->nends; i++) {
		const struct bulk_channel_stats *l = &r->ends[i].c.lib;

		t->queue_full += l->queue_full;
		t->bad_desc += l->bad_desc;
		t->wakeups += l->wakeups;
		t->trust_copies += l->trust_copies;
		t->reclaimed += l->reclaimed;
	}
	/* A rejected descriptor is a protocol error; a full queue is back-pressure. */
	t->errors = r->errors + perf_app_errors(r) + t->bad_desc;
}

static void
perf_stats_final(struct perf_run *r, const struct perf_totals *t)
{
	const struct perf_opts *o = r->o;
	const struct app_hist *h = &r->hist;
	char how[32];

	perf_print_links(r, false, false, t->secs, t->touched);
	if (r->split)
		snprintf(how, sizeof(how), "process %s", r->nodes[0].name);
	else
		snprintf(how, sizeof(how), "%s", o->threads ? "thread per domain" : "one thread");
	printf("\n  +++++++++++++++ Accumulated statistics: backend %s, mode %s, %u hop%s, %s"
	       " +++++++++++++++\n",
	       o->backend_name, perf_mode_name(o->mode), o->hops, o->hops == 1 ? "" : "s", how);
	printf("  Buffers: %-14" PRIu64 " Bytes: %-18" PRIu64 " Time: %.3f s\n", t->buffers,
	       t->bytes, t->secs);
	printf("  Buffers/s: %-14.0f Gbit/s: %.3f%s\n", t->buffers_per_s, t->gbit_s,
	       t->touched ? "" : " nominal (no payload byte was written or read: buffers x size)");
	if (t->rtt)
		printf("  RTT ns (%s, %" PRIu64 " samples): min %" PRIu64 " p50 %" PRIu64
		       " p90 %" PRIu64 " p99 %" PRIu64 " p99.9 %" PRIu64 " max %" PRIu64
		       " mean %.0f\n",
		       r->stamp_every ? "per buffer" : "per burst", h->n, h->min, t->p50,
		       app_hist_percentile(h, NULL, 90), t->p99, app_hist_percentile(h, NULL, 99.9),
		       h->max, (double)h->sum / (double)h->n);
	else
		printf("  RTT: n/a (%s)\n", r->source == NULL ? "measured by the source"
					    : r->stamp	      ? "no sample came back"
							      : "not measured in this mode");
	printf("  Verify failures: %-8" PRIu64 " Errors: %-8" PRIu64 " Queue-full: %-8" PRIu64
	       " Bad-desc: %-6" PRIu64,
	       t->verify_failures, t->errors, t->queue_full, t->bad_desc);
	if (t->checked != 0)
		printf(" Checked: %" PRIu64 "\n", t->checked);
	else
		printf(" (not verifying)\n");
	if (r->split)
		printf("  Wakeups: %-8" PRIu64 " Trust-copies: %-8" PRIu64 " Reclaimed: %" PRIu64
		       "\n",
		       t->wakeups, t->trust_copies, t->reclaimed);
	printf("  ++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++"
	       "++++++++++\n\n");
	perf_csv_row(r, "final", 0, t->secs, t->buffers, t->bytes, t->touched, t->rtt, t->p50,
		     t->p99, t->verify_failures, t->errors, perf_app_qfull(r));
}

static void
perf_result_line(struct perf_run *r, const struct perf_totals *t)
{
	struct app_kv kv;

	app_kv_init(&kv, "result:");
	app_kv_add(&kv, "backend", "%s", r->o->backend_name);
	app_kv_add(&kv, "mode", "%s", perf_mode_name(r->o->mode));
	app_kv_u64(&kv, "buffers", true, t->buffers);
	app_kv_u64(&kv, "bytes", true, t->bytes);
	app_kv_add(&kv, "buffers_per_s", "%.1f", t->buffers_per_s);
	app_kv_add(&kv, "gbit_s", "%.3f", t->gbit_s);
	app_kv_add(&kv, "payload", "%s", t->touched ? "touched" : "nominal");
	app_kv_u64(&kv, "rtt_p50_ns", t->rtt, t->p50);
	app_kv_u64(&kv, "rtt_p99_ns", t->rtt, t->p99);
	app_kv_u64(&kv, "verify_failures", true, t->verify_failures);
	/* Last, always: scripts check that the line ends in errors=0. */
	app_kv_u64(&kv, "errors", true, t->errors);
	app_kv_print(&kv);
}

/*
 * The end of a run, after teardown: the form's own block, the final block,
 * the CSV file's last row, the result line.
 * @return the exit status (failure on errors or verify failures).
 */
int
perf_report(struct perf_run *r, bool result_line)
{
	struct perf_totals t;

	if (r->form->report != NULL)
		r->form->report(r);
	perf_totals_get(r, &t);
	perf_stats_final(r, &t);
	/* Closing the CSV file can fail too (a full disk shows here). */
	if (app_csv_close(&r->csv) < 0)
		r->errors++;
	perf_totals_get(r, &t);
	if (result_line)
		perf_result_line(r, &t);
	fflush(stdout);
	return (t.errors != 0 || t.verify_failures != 0) ? APP_EXIT_FAIL : APP_EXIT_OK;
}
