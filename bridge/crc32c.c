/* SPDX-License-Identifier: MIT */
#include "bridge/crc32c.h"

#include <isa-l/crc.h>

/*
 * isa-l's crc32_iscsi(buf, len, init) is the reflected CRC32C update with no
 * final inversion, so chaining calls with the running value is exact.
 */
uint32_t nvb_crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	/* isa-l takes an int length: feed very large buffers in pieces. */
	const unsigned char *p = buf;
	while (len > 0) {
		int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
		crc = crc32_iscsi((unsigned char *)p, chunk, crc);
		p += chunk;
		len -= (size_t)chunk;
	}
	return crc;
}
