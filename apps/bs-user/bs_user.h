/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bs-user, the block service user of the spec (chapter 7.5): connects to a
 * block server through libbulk-bs and runs a workload.
 *
 *   options.c   the option table and what the options mean together
 *   vmap.c      the verification map: what each block must read back as
 *   workload.c  basic, rand and seq; reads, writes or a mix; queue depth
 *   main.c      connect, run, statistics, the result line
 */
#ifndef BS_USER_H
#define BS_USER_H

#include <stdbool.h>
#include <stdint.h>

#include <bulk/bulk_bs.h>

#include "app_opts.h"
#include "app_stats.h"

enum bsu_workload { BSU_BASIC, BSU_RAND, BSU_SEQ };
enum bsu_rw { BSU_READ, BSU_WRITE, BSU_MIX };

struct bsu_opts {
	const char *connect;
	const char *via;
	const char *export_name;
	int workload;
	int rw;
	uint32_t bs;
	uint32_t qd;
	uint64_t count;
	double duration;
	bool verify;
	bool verify_written;
	bool flush;
	bool continue_on_error;
	bool copies;
	uint32_t rate;
	uint64_t range;
	uint64_t offset;
	uint32_t read_pct;
	uint64_t seed;
	int poll;
	int trust;
	double stats_period;
	struct app_args args;
};

int bsu_opts_parse(struct bsu_opts *o, int argc, char **argv);
const char *bsu_workload_name(int w);
const char *bsu_rw_name(int rw);

/* ----------------------------------------------------- verification */

/* What a block holds: never written by us, unknown (a write failed or is
 * in doubt), or the pattern of generation 1.. */
#define BSU_GEN_NONE	0u
#define BSU_GEN_UNKNOWN UINT32_MAX

struct bsu_vmap {
	uint64_t nblocks;
	uint32_t bs;
	uint64_t seed;
	uint32_t *gen;	/* last acknowledged write's generation */
	uint8_t *busy;	/* a request on the block is in flight */
};

int bsu_vmap_init(struct bsu_vmap *m, uint64_t nblocks, uint32_t bs, uint64_t seed);
void bsu_vmap_fini(struct bsu_vmap *m);
/* Fill @p p with block @p b's pattern of generation @p gen. */
void bsu_pattern_fill(const struct bsu_vmap *m, void *p, uint64_t b, uint32_t gen);
/* @return true if @p p holds block @p b's pattern of generation @p gen. */
bool bsu_pattern_check(const struct bsu_vmap *m, const void *p, uint64_t b, uint32_t gen);

/* ---------------------------------------------------------- the run */

struct bsu_result {
	uint64_t ios, bytes, reads, writes;
	uint64_t errors, verify_failures, verified, unverified;
	double secs;
	struct app_hist lat;
	int first_error;
	int flush_status; /* --flush: 0, or why the FLUSH failed */
	bool interrupted, server_gone, server_shutdown;
};

int bsu_run(const struct bsu_opts *o, struct bulk_bs_client *c, struct bsu_result *r);

#endif /* BS_USER_H */
