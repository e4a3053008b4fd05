/* SPDX-License-Identifier: BSD-3-Clause */
/* bulk_version(): the version this library was built as, for programs that
 * compare it with the BULK_VERSION_STRING they were compiled against. */
#include <bulk/bulk_version.h>

const char *
bulk_version(void)
{
	return BULK_VERSION_STRING;
}
