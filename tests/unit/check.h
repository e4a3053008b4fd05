/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Minimal assertions for the unit tests, one main() per test binary (as in
 * liburing's test/helpers.h). A failed check prints file:line and the values,
 * runs the optional failure hook (the model test prints its history there)
 * and exits 1. Exit 77 means "skipped" to meson.
 */
#ifndef BULK_TEST_CHECK_H
#define BULK_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include <bulk/bulk.h>

#define CHECK_EXIT_SKIP 77

static unsigned long check_count;
static void (*check_fail_hook)(void);

static inline void
check_fail(void)
{
	fflush(stdout);
	if (check_fail_hook != NULL) {
		void (*hook)(void) = check_fail_hook;

		check_fail_hook = NULL;
		hook();
	}
	fprintf(stderr, "FAILED after %lu passed checks\n", check_count);
	fprintf(stderr, "%lu passed, 1 failed\n", check_count);
	exit(1);
}

/** Names a return code: "0", "count 3", or the library's name for it. */
static inline const char *
check_code_name(long v)
{
	return v >= 0 ? "ok/count" : bulk_strerror((int)v);
}

#define CHECK(expr)                                                                     \
	do {                                                                            \
		if (!(expr)) {                                                          \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__,   \
				#expr);                                                 \
			check_fail();                                                   \
		}                                                                       \
		check_count++;                                                          \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                              \
	do {                                                                            \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);         \
		if (check_a_ != check_b_) {                                             \
			fprintf(stderr, "%s:%d: CHECK_EQ_INT(%s, %s) failed: %lld != %lld\n", \
				__FILE__, __LINE__, #a, #b, check_a_, check_b_);        \
			check_fail();                                                   \
		}                                                                       \
		check_count++;                                                          \
	} while (0)

/** Like CHECK_EQ_INT for return codes; names both values with bulk_strerror(). */
#define CHECK_RC(a, b)                                                                  \
	do {                                                                            \
		long check_a_ = (long)(a), check_b_ = (long)(b);                        \
		if (check_a_ != check_b_) {                                             \
			fprintf(stderr, "%s:%d: CHECK_RC(%s, %s) failed: %ld (%s) != %ld (%s)\n", \
				__FILE__, __LINE__, #a, #b, check_a_,                   \
				check_code_name(check_a_), check_b_,                    \
				check_code_name(check_b_));                             \
			check_fail();                                                   \
		}                                                                       \
		check_count++;                                                          \
	} while (0)

#define CHECK_SKIP(...)                                                                 \
	do {                                                                            \
		printf("SKIP: " __VA_ARGS__);                                           \
		printf("\n");                                                           \
		exit(CHECK_EXIT_SKIP);                                                  \
	} while (0)

/** Prints the closing line; use as `return CHECK_DONE("name");`. */
#define CHECK_DONE(name) (printf("%s: %lu passed, 0 failed\n", (name), check_count), 0)

#endif /* BULK_TEST_CHECK_H */
