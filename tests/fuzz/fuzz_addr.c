/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target over the endpoint address parser (bulk_addr.h). Any
 * input: parse and explain agree on the code; a refusal leaves the struct
 * zeroed and gives a reason; an accepted address prints, and the print
 * parses to the same struct and prints the same again. A broken invariant
 * aborts, which libFuzzer reports with the input.
 *
 *   fuzz_addr -dict=tests/fuzz/addr.dict [-runs=N] [CORPUS_DIR]
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bulk/bulk_addr.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[512], buf[BULK_ADDR_STRLEN], again[BULK_ADDR_STRLEN], why[160];
	struct bulk_addr a, b, zero;
	int rc;

	if (size >= sizeof(s))
		size = sizeof(s) - 1;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&zero, 0, sizeof(zero));
	rc = bulk_addr_parse(s, &a);
	if (bulk_addr_explain(s, why, sizeof(why)) != rc)
		abort();
	if (rc != 0) {
		if (rc >= 0 || memcmp(&a, &zero, sizeof(a)) != 0 || why[0] == '\0')
			abort();
		return 0;
	}
	if (why[0] != '\0' || bulk_addr_format(&a, buf, sizeof(buf)) <= 0)
		abort();
	if (bulk_addr_parse(buf, &b) != 0 || memcmp(&a, &b, sizeof(a)) != 0)
		abort();
	if (bulk_addr_format(&b, again, sizeof(again)) <= 0 || strcmp(buf, again) != 0)
		abort();
	return 0;
}
