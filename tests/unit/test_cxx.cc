// SPDX-License-Identifier: BSD-3-Clause
// The public headers compile as C++ (-Wall -Wextra -Werror) and link.
#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>
#include <bulk/bulk_local.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>

static unsigned long passed;

#define EXPECT(e)                                                                       \
	do {                                                                            \
		if (!(e)) {                                                             \
			std::fprintf(stderr, "%s:%d: EXPECT(%s) failed\n", __FILE__,    \
				     __LINE__, #e);                                     \
			std::fprintf(stderr, "%lu passed, 1 failed\n", passed);        \
			return 1;                                                       \
		}                                                                       \
		passed++;                                                               \
	} while (0)

int
main()
{
	struct bulk_domain *d = nullptr;
	struct bulk_pool *p = nullptr;
	struct bulk_endpoint *ep = nullptr;
	struct bulk_pool_params pp = {};
	struct bulk_cont none = BULK_CONT_NONE;
	std::set<std::string> names;

	std::printf("test_cxx: public headers from C++\n");
	EXPECT(bulk_domain_create("cxx", &d) == 0);
	pp.count = 4;
	pp.buffer_size = 4096;
	EXPECT(bulk_pool_alloc(d, &pp, &p) == 0);
	EXPECT(bulk_pool_buffer_count(p) == 4);
	EXPECT(bulk_buffer_is_owner(bulk_pool_buffer(p, 0)));
	EXPECT(bulk_local_endpoint_create(d, &ep) == 0);
	EXPECT(none.fn == nullptr && none.arg == nullptr);
	// A NULL channel is refused whatever the continuation.
	EXPECT(bulk_channel_assign_pool(nullptr, p, BULK_CONT_NONE) == -EINVAL);

	for (int e = BULK_EBASE; e < BULK_E_LAST; e++) {
		const char *s = bulk_strerror(-e);

		EXPECT(s != nullptr && s[0] != '\0');
		EXPECT(std::strcmp(s, bulk_strerror(e)) == 0); // sign is ignored
		EXPECT(names.insert(s).second);                // distinct
	}
	const char *en = bulk_strerror(-ENOMEM);
	EXPECT(en != nullptr && en[0] != '\0');
	EXPECT(names.count(en) == 0);
	EXPECT(bulk_strerror(0) != nullptr);
	EXPECT(bulk_strerror(-BULK_E_LAST) != nullptr);
	EXPECT(std::strcmp(bulk_buffer_state_name(BULK_BUFFER_RO_OWNED),
			   bulk_buffer_state_name(BULK_BUFFER_READ_ONLY)) != 0);
	EXPECT(bulk_channel_state_name(BULK_STATE_CONNECTED) != nullptr);

	EXPECT(bulk_endpoint_free(ep) == 0);
	EXPECT(bulk_pool_free(p) == 0);
	EXPECT(bulk_domain_destroy(d) == 0);
	std::printf("  %d error codes named distinctly; -ENOMEM: %s\n", BULK_E_LAST - BULK_EBASE,
		    en);
	std::printf("test_cxx: %lu passed, 0 failed\n", passed);
	return 0;
}
