/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Options: one table describes every option of a program once. From it
 * come the command line (getopt_long), the --config FILE keys (an ini file
 * read with inih: the same names, in the section named after the program
 * or before any section) and --help. Every option is a flag and a config
 * key alike, and the command line wins over the file.
 *
 * As with dpdk-testpmd, everything before a "--" on the command line is
 * for DPDK's EAL, and the program's own options follow it; without a "--"
 * every argument is the program's. A config file gives EAL arguments with
 * the key "eal" (split at blanks), used when the command line has none.
 */
#ifndef APP_OPTS_H
#define APP_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum app_opt_type {
	APP_OPT_HEADING, /* not an option: a paragraph of --help (help only) */
	APP_OPT_FLAG,	 /* bool; no argument (in a file: true/false, yes/no, on/off, 1/0) */
	APP_OPT_U64,	 /* uint64_t, decimal in [min, max] */
	APP_OPT_U32,	 /* uint32_t, decimal in [min, max] */
	APP_OPT_U16,	 /* uint16_t, decimal in [min, max] */
	APP_OPT_SECS,	 /* double, seconds in [0, 1 year] */
	APP_OPT_STR,	 /* const char *, kept until app_args_free() */
	APP_OPT_CHOICE,	 /* int, the index of the value in choices */
	APP_OPT_IPV4,	 /* uint32_t, a unicast IPv4 address in host byte order */
	APP_OPT_MAC,	 /* uint8_t[6], a unicast MAC address that is not zero */
};

/* app_opt.flags */
#define APP_OPT_POW2	0x1u /* numbers: a power of two */
#define APP_OPT_NONZERO 0x2u /* SECS: more than 0 */

struct app_opt {
	const char *name; /* --NAME and the config key */
	enum app_opt_type type;
	size_t off;		    /* offsetof() the value in the options struct */
	uint64_t min, max;	    /* numbers */
	const char *const *choices; /* CHOICE: the names, NULL-terminated */
	const char *arg;	    /* the argument's name in --help ("N", "BYTES") */
	const char *help;	    /* --help text; '\n' starts a continuation line */
	unsigned flags;
};

/** What the command line and the config file gave besides the options. */
struct app_args {
	int eal_argc;	 /* argv[0] and the EAL arguments */
	char **eal_argv; /* a NULL-terminated copy, EAL may permute it */
	const char *config;
	/* Private. */
	const struct app_opt *table;
	unsigned nopts;
	uint64_t given[4]; /* bit per table entry: set by the command line or the file */
	uint64_t cli[4];   /* bit per table entry: set by the command line */
	char **strs;	   /* copies of file values and EAL words, freed with the args */
	unsigned nstrs;
};

/* app_opts_parse() results */
#define APP_PARSE_OK	0
#define APP_PARSE_HELP	1    /* --help printed: exit 0 */
#define APP_PARSE_USAGE (-1) /* message printed: exit 2 */

/**
 * Parse @p argv into the struct at @p base through @p table (at most 256
 * entries), then the --config file if one was named. Defaults are what
 * @p base holds before. Messages name the option (--NAME, or FILE:LINE: NAME)
 * and the range or choices it takes; @p usage is the first line of --help
 * and what a usage error points to.
 */
int app_opts_parse(const struct app_opt *table, unsigned n, void *base, int argc, char **argv,
		   const char *usage, struct app_args *args);

/** Whether the option named @p name was set, on the command line or in the file. */
bool app_opt_given(const struct app_args *a, const char *name);

/** --help: @p usage, then the table, options and headings in order. */
void app_opts_help(FILE *f, const struct app_opt *table, unsigned n, const char *usage);

void app_args_free(struct app_args *a);

/**
 * Every value of a repeatable option, for a table that keeps only one:
 * each --NAME VALUE or --NAME=VALUE among the program's own arguments
 * (after the "--" that ends EAL's, if any); without any there, the
 * blank-separated words of @p cfg (a config file's "NAME = A B", split in
 * a copy that @p args keeps until app_args_free()).
 * @return the number of values in @p out (0..max); -1 (more than @p max,
 *   or no memory: said on stderr).
 */
int app_opt_list(struct app_args *args, int argc, char **argv, const char *name,
		 const char *cfg, const char **out, unsigned max);

/**
 * A size: decimal digits and an optional K, M, G or T suffix (any case;
 * powers of 1024), as `--store memory:SIZE` and `--cache SIZE` take it.
 * @return 0 and *out; -EINVAL (NULL, empty, junk after the suffix, overflow).
 */
int app_parse_size(const char *str, uint64_t *out);

/** The name of the @p i-th choice of option @p name, for messages. */
const char *app_opt_choice(const struct app_opt *table, unsigned n, const char *name, int i);

#endif /* APP_OPTS_H */
