/* SPDX-License-Identifier: MIT */
/*
 * CRC32C (Castagnoli) as NVMe/TCP (§3.6.1.x) and iSCSI (RFC 7143 §13.1)
 * digests use it: initial value ~0, final xor ~0, reflected. Backed by
 * isa-l's crc32_iscsi (hardware-accelerated where the CPU allows).
 */
#ifndef NVB_CRC32C_H
#define NVB_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#define NVB_CRC32C_INIT 0xffffffffu
/* Feed more bytes into a running CRC (start from NVB_CRC32C_INIT). */
uint32_t nvb_crc32c_update(uint32_t crc, const void *buf, size_t len);
static inline uint32_t nvb_crc32c_final(uint32_t crc) { return crc ^ 0xffffffffu; }
/* One-shot digest of a buffer. */
static inline uint32_t nvb_crc32c(const void *buf, size_t len)
{
	return nvb_crc32c_final(nvb_crc32c_update(NVB_CRC32C_INIT, buf, len));
}

#endif
