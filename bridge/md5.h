/* SPDX-License-Identifier: MIT */
/*
 * MD5 (RFC 1321). Only for protocols that mandate it (iSCSI CHAP, RFC 1994
 * algorithm 5); never for anything that needs collision resistance.
 */
#ifndef NVB_MD5_H
#define NVB_MD5_H

#include <stddef.h>
#include <stdint.h>

#define NVB_MD5_LEN 16

struct nvb_md5 {
	uint32_t state[4];
	uint64_t bytes;         /* message length so far */
	uint8_t block[64];      /* partial input block */
};

void nvb_md5_init(struct nvb_md5 *c);
void nvb_md5_update(struct nvb_md5 *c, const void *data, size_t len);
/* Writes the digest and wipes the context. */
void nvb_md5_final(struct nvb_md5 *c, uint8_t out[NVB_MD5_LEN]);
/* One-shot digest. */
void nvb_md5(const void *data, size_t len, uint8_t out[NVB_MD5_LEN]);

#endif
