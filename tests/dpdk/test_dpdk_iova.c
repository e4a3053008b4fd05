/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DMA-able pools in IOVA-as-PA mode (issue 13): every zero-copy segment
 * the backend hands a port carries the physical address of its bytes, and
 * memory it could not register is sent by copy.
 *
 *   test_dpdk_iova [SEED]
 *
 * As root: reserves a few 2 MiB pages (nr_hugepages; only what is missing,
 * given back at exit, on failure and on SIGTERM/SIGINT/SIGHUP too; under
 * the same flock as test_alloc's hugepage part), starts EAL with
 * --iova-mode=pa on 32 MiB of hugepages (--in-memory: no hugetlbfs mount needed,
 * nothing left behind), and moves verified buffers S -> R over a net_ring
 * pair with zero copy, from three pools in turn:
 *   anon   4 KiB anonymous pages (the backend registers 4 KiB pages)
 *   huge   2 MiB hugepage memory (registered as 2 MiB pages)
 *   taken  4 KiB pages the test registered with rte_extmem_register()
 *          itself first: the backend cannot register them, so every frame
 *          is copied (tx_copied_unregistered) and none is sent zero copy
 *   dpdk   bulk_dpdk_pool_alloc(): a memzone of EAL's own hugepages, DMA-able
 *          as it is (a region of the registry, nothing registered or
 *          mapped, no dma_failed), every frame zero copy; bad parameters
 *          refused (-EINVAL), and the memzone gone once the pool is freed
 * A tx callback on S's port checks every external segment: its IOVA is
 * rte_mem_virt2iova() of its address and the physical address of that
 * byte (/proc/self/pagemap), and at every 4 KiB boundary inside it the
 * next physical page follows (no segment crosses a non-contiguous page).
 * Not root, no pagemap, no 2 MiB pages, or EAL cannot give PA mode:
 * skipped (77), saying why.
 */
#define ALLOW_EXPERIMENTAL_API 1

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <rte_memory.h>
#include <rte_memzone.h>

#include <bulk/bulk_alloc.h>

#include "dpdk_test.h"
#include "hugepages.h"
#include "xfer.h"

#define HP_NEED 20 /* EAL's -m 32 (16 pages) and the 2 MiB pages of a 2 MiB pool */
#define POOL_N	32
#define BUF_MAX (64u << 10)
#define COUNT	400

/* ------------------------------------------------------------ the tx check */

static struct {
	const uint8_t *lo, *hi;  /* the pool of the running phase */
	uint64_t ext_segs;       /* external segments in it */
	uint64_t cross;          /* of them: crossing a 4 KiB boundary */
	uint64_t bad_iova, bad_phys, bad_cross, outside;
} tc;

static uint16_t
tx_check(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n, void *arg)
{
	(void)port;
	(void)queue;
	(void)arg;
	for (uint16_t i = 0; i < n; i++)
		for (struct rte_mbuf *s = pkts[i]; s != NULL; s = s->next) {
			const uint8_t *a = rte_pktmbuf_mtod(s, const uint8_t *);
			rte_iova_t iova = rte_pktmbuf_iova(s);

			if (!RTE_MBUF_HAS_EXTBUF(s))
				continue;
			if (a < tc.lo || a + s->data_len > tc.hi) {
				tc.outside++;
				continue;
			}
			tc.ext_segs++;
			if (iova != rte_mem_virt2iova(a))
				tc.bad_iova++;
			if (iova != rte_mem_virt2phy(a))
				tc.bad_phys++;
			/* Every 4 KiB page the segment reaches follows on. */
			for (uintptr_t p = ((uintptr_t)a | 4095u) + 1; p < (uintptr_t)a + s->data_len;
			     p += 4096) {
				tc.cross++;
				if (rte_mem_virt2phy((const void *)p) != iova + (p - (uintptr_t)a))
					tc.bad_cross++;
			}
		}
	return n;
}

/* ------------------------------------------------------------ one phase */

static void
set_flag(void *arg, int status, struct bulk_channel *ch)
{
	(void)ch;
	CHECK_RC(status, 0);
	*(int *)arg = 1;
}

static void
poll2(struct bulk_domain *a, struct bulk_domain *b)
{
	CHECK(bulk_domain_poll(a, 0) >= 0);
	CHECK(bulk_domain_poll(b, 0) >= 0);
}

enum phase { PH_ANON, PH_HUGE, PH_TAKEN, PH_DPDK };
static const char *const phase_name[] = { "anon", "huge", "taken", "dpdk" };

static void
run_phase(enum phase ph, uint64_t seed, struct bulk_domain *ds, struct bulk_domain *dr,
	  struct bulk_dpdk_port *ls, struct bulk_dpdk_port *lr, uint16_t ep_id)
{
	struct bulk_endpoint *ep;
	struct bulk_channel *cs = NULL, *cr = NULL;
	struct bulk_pool *pool;
	struct bulk_buffer *bufs[POOL_N];
	struct bulk_dpdk_chan_stats xs;
	struct bulk_dpdk_port_stats ps0, ps, pr;
	struct xfer src, snk;
	uint8_t *lo = NULL;
	size_t len;
	int bound = 0, assigned = 0, closed = 0;
	struct bulk_pool_params pp = {
		.count = POOL_N,
		.buffer_size = BUF_MAX,
		.mem = ph == PH_HUGE ? BULK_MEM_HUGEPAGE : BULK_MEM_ANON,
	};
	struct bulk_channel_params cp = {
		.direction = BULK_DIRECTION_RX, .meta_size = XFER_META_SIZE, .queue_size = 256,
		.user = &snk,
	};
	struct bulk_bind_params bp = { .user = &src };

	printf("phase %s\n", phase_name[ph]);
	xfer_init(&src, "source", seed, COUNT, 64, BUF_MAX);
	xfer_init(&snk, "sink", seed, COUNT, 64, BUF_MAX);
	if (ph == PH_DPDK) {
		struct bulk_pool_params bad = pp;

		bad.mem = BULK_MEM_HUGEPAGE; /* the memory is EAL's to choose */
		CHECK_RC(bulk_dpdk_pool_alloc(ds, &bad, &pool), -EINVAL);
		bad = pp;
		bad.count = 0;
		CHECK_RC(bulk_dpdk_pool_alloc(ds, &bad, &pool), -EINVAL);
		CHECK_RC(bulk_dpdk_pool_alloc(ds, NULL, &pool), -EINVAL);
		CHECK_RC(bulk_dpdk_pool_alloc(ds, &pp, &pool), 0);
		CHECK_RC(bulk_pool_fd(pool), -ENOTSUP);
	} else {
		CHECK_RC(bulk_pool_alloc(ds, &pp, &pool), 0);
	}
	/* The pool's memory: its lowest buffer on, POOL_N buffers long. */
	CHECK_RC(bulk_pool_get_burst(pool, bufs, POOL_N), POOL_N);
	for (unsigned i = 0; i < POOL_N; i++)
		if (lo == NULL || (uint8_t *)bufs[i]->addr < lo)
			lo = bufs[i]->addr;
	CHECK_RC(bulk_pool_put_burst(pool, bufs, POOL_N), POOL_N);
	len = (size_t)POOL_N * BUF_MAX;
	/* EAL's memory: its memseg list knows the pool (not an external one). */
	if (ph == PH_DPDK)
		CHECK(rte_mem_virt2memseg_list(lo) != NULL &&
		      !rte_mem_virt2memseg_list(lo)->external);
	tc.lo = lo;
	tc.hi = lo + len;
	tc.ext_segs = tc.cross = 0;
	if (ph == PH_TAKEN)
		/* Someone else's registration: the backend must not map it. */
		CHECK_RC(rte_extmem_register(lo, len, NULL, (unsigned)(len / 4096), 4096), 0);
	CHECK_RC(bulk_dpdk_port_stats_get(ls, &ps0), 0);

	CHECK_RC(bulk_dpdk_endpoint_create(dr, ep_id, &ep), 0);
	CHECK_RC(bulk_channel_create(ep, &xfer_callbacks, &cp, &cr), 0);
	CHECK_RC(bulk_channel_bind(ds, ep, &xfer_callbacks, &bp,
				   (struct bulk_cont){ set_flag, &bound }, &cs), 0);
	for (long i = 0; bound == 0 && i < 10000000; i++)
		poll2(ds, dr);
	CHECK_RC(bound, 1);
	CHECK_RC(bulk_channel_assign_pool(cs, pool, (struct bulk_cont){ set_flag, &assigned }), 0);
	for (long i = 0; assigned == 0 && i < 10000000; i++)
		poll2(ds, dr);
	CHECK_RC(assigned, 1);
	CHECK_RC(bulk_dpdk_port_stats_get(ls, &ps), 0);
	CHECK_RC(bulk_dpdk_port_stats_get(lr, &pr), 0);
	printf("  S: dma_regions=%" PRIu64 " dma_failed=%" PRIu64 "; R: dma_regions=%" PRIu64
	       " (the view)\n", ps.dma_regions, ps.dma_failed, pr.dma_regions);
	if (ph == PH_TAKEN) {
		CHECK_EQ_INT(ps.dma_regions, 0);
		CHECK_EQ_INT(ps.dma_failed, ps0.dma_failed + 1);
	} else {
		CHECK_EQ_INT(ps.dma_regions, 1);
		CHECK_EQ_INT(ps.dma_failed, ps0.dma_failed);
	}
	CHECK_EQ_INT(pr.dma_regions, 1);

	src.ch = cs;
	src.pool = pool;
	snk.ch = cr;
	for (long i = 0; !(src.next == COUNT && src.nawy == 0 && src.stash == NULL); i++) {
		xfer_pump(&src);
		poll2(ds, dr);
		xfer_flush(&snk);
		CHECK(!src.closed && !snk.closed);
		CHECK(src.errors == 0 && snk.errors == 0 && snk.verify_failures == 0);
		CHECK(i < 200000000);
	}
	xfer_print_result(&snk, "sink");
	CHECK_EQ_INT(snk.buffers, COUNT);
	CHECK_EQ_INT(snk.verify_failures, 0);
	CHECK_EQ_INT(snk.dups + snk.out_of_order, 0);
	CHECK_RC(bulk_dpdk_chan_stats_get(cs, &xs), 0);
	printf("  S: tx_zero_copy=%" PRIu64 " tx_copied=%" PRIu64 " tx_copied_unregistered=%" PRIu64
	       "; tx hook: ext_segs=%" PRIu64 " crossing 4 KiB=%" PRIu64 " bad_iova=%" PRIu64
	       " bad_phys=%" PRIu64 " bad_cross=%" PRIu64 " outside=%" PRIu64 "\n",
	       xs.tx_zero_copy, xs.tx_copied, xs.tx_copied_unregistered, tc.ext_segs, tc.cross,
	       tc.bad_iova, tc.bad_phys, tc.bad_cross, tc.outside);
	CHECK_EQ_INT(tc.bad_iova, 0);
	CHECK_EQ_INT(tc.bad_phys, 0);
	CHECK_EQ_INT(tc.bad_cross, 0);
	CHECK_EQ_INT(tc.outside, 0);
	if (ph == PH_TAKEN) {
		CHECK_EQ_INT(xs.tx_zero_copy, 0);
		CHECK_EQ_INT(tc.ext_segs, 0);
		CHECK(xs.tx_copied > 0);
		CHECK_EQ_INT(xs.tx_copied_unregistered, xs.tx_copied);
	} else {
		CHECK(xs.tx_zero_copy > 0);
		CHECK_EQ_INT(xs.tx_copied, 0);
		CHECK_EQ_INT(xs.tx_copied_unregistered, 0);
		CHECK(tc.ext_segs >= xs.tx_zero_copy);
	}
	/* 2 MiB pages: a segment may span 4 KiB boundaries, as the pages are
	 * physically contiguous inside. */
	if (ph == PH_HUGE)
		CHECK(tc.cross > 0);

	CHECK_RC(bulk_channel_destroy(cs, (struct bulk_cont){ set_flag, &closed }), 0);
	for (long i = 0; (closed == 0 || bulk_channel_state(cr) != BULK_STATE_CLOSED) &&
			 i < 10000000; i++)
		poll2(ds, dr);
	CHECK_RC(closed, 1);
	CHECK_RC(bulk_channel_free(cr), 0);
	CHECK_RC(bulk_channel_free(cs), 0);
	CHECK_RC(bulk_endpoint_free(ep), 0);
	xfer_put_home(&src);
	CHECK_RC(bulk_dpdk_port_stats_get(ls, &ps), 0);
	CHECK_RC(bulk_dpdk_port_stats_get(lr, &pr), 0);
	CHECK_EQ_INT(ps.dma_regions, 0);
	CHECK_EQ_INT(pr.dma_regions, 0);
	if (ph == PH_TAKEN)
		CHECK_RC(rte_extmem_unregister(lo, len), 0);
	CHECK_RC(bulk_pool_free(pool), 0);
	xfer_fini(&src);
	xfer_fini(&snk);
}

static void
count_pool_mz(const struct rte_memzone *mz, void *arg)
{
	if (strncmp(mz->name, "bulk_p", 6) == 0)
		++*(int *)arg;
}

int
main(int argc, char **argv)
{
	char why[256], prefix[64];
	const char *skip;
	uint64_t seed = dt_seed(argc > 1 ? argv[1] : NULL);
	struct bulk_domain *ds, *dr;
	struct bulk_dpdk_port *ls, *lr;
	struct bulk_dpdk_port_params pp;
	uint16_t ps, pr;
	int lock, rc;

	printf("seed %" PRIu64 "\n", seed);
	if (geteuid() != 0)
		CHECK_SKIP("not root: IOVA-as-PA needs /proc/self/pagemap and hugepages");
	if (access("/proc/self/pagemap", R_OK) != 0)
		CHECK_SKIP("cannot read /proc/self/pagemap");
	lock = hp_lock();
	skip = hp_reserve(HP_NEED, why, sizeof(why));
	if (skip != NULL)
		CHECK_SKIP("%s", skip);
	snprintf(prefix, sizeof(prefix), "--file-prefix=bulk_iova_%d", (int)getpid());
	{
		char *args[] = {
			argv[0], (char *)"--iova-mode=pa", (char *)"--in-memory", prefix,
			(char *)"-m", (char *)"32", (char *)"--no-pci", (char *)"-l", (char *)"0",
			(char *)"--log-level=lib.eal:error", (char *)"--log-level=pmd.net.ring:error",
			NULL,
		};
		int n = (int)(sizeof(args) / sizeof(args[0])) - 1;

		printf("EAL:");
		for (int i = 1; i < n; i++)
			printf(" %s", args[i]);
		printf("\n");
		rc = rte_eal_init(n, args);
		if (rc < 0)
			CHECK_SKIP("EAL cannot start in IOVA-as-PA mode here: %s",
				   rte_strerror(rte_errno));
		if (rte_eal_iova_mode() != RTE_IOVA_PA) {
			rte_eal_cleanup();
			CHECK_SKIP("EAL did not give IOVA-as-PA mode");
		}
	}
	dt_ring_pair("iova", 4096, &ps, &pr);
	CHECK_RC(bulk_domain_create("S", &ds), 0);
	CHECK_RC(bulk_domain_create("R", &dr), 0);
	memset(&pp, 0, sizeof(pp));
	/* One small pool for both ports' receive and header mbufs: EAL has
	 * only 32 MiB. */
	pp.mbuf_pool = rte_pktmbuf_pool_create("iova_mb", 2047, 64, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					       SOCKET_ID_ANY);
	CHECK(pp.mbuf_pool != NULL);
	pp.configure = 1;
	pp.tx_mode = BULK_DPDK_TX_ZERO_COPY;
	pp.peer_timeout_ms = 30000;
	pp.port_id = ps;
	pp.local_ip = dt_ip(3, 1);
	pp.peer_ip = dt_ip(3, 2);
	CHECK_RC(bulk_dpdk_port_open(ds, &pp, &ls), 0);
	pp.port_id = pr;
	pp.local_ip = dt_ip(3, 2);
	pp.peer_ip = dt_ip(3, 1);
	CHECK_RC(bulk_dpdk_port_open(dr, &pp, &lr), 0);
	CHECK(rte_eth_add_tx_callback(ps, 0, tx_check, NULL) != NULL);

	run_phase(PH_ANON, seed, ds, dr, ls, lr, 11);
	run_phase(PH_HUGE, seed + 1, ds, dr, ls, lr, 12);
	run_phase(PH_TAKEN, seed + 2, ds, dr, ls, lr, 13);
	run_phase(PH_DPDK, seed + 3, ds, dr, ls, lr, 14);
	/* Each pool's memzone went with it. */
	{
		int mzs = 0;

		rte_memzone_walk(count_pool_mz, &mzs);
		CHECK_EQ_INT(mzs, 0);
	}

	CHECK_RC(bulk_dpdk_port_close(ls), 0);
	CHECK_RC(bulk_dpdk_port_close(lr), 0);
	CHECK_RC(bulk_domain_destroy(ds), 0);
	CHECK_RC(bulk_domain_destroy(dr), 0);
	rte_eal_cleanup();
	hp_give_back();
	close(lock);
	return CHECK_DONE("test_dpdk_iova");
}
