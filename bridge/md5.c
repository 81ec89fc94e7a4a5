/* SPDX-License-Identifier: MIT */
/* MD5 message digest, written from RFC 1321 §3. */
#include "bridge/md5.h"

#include <string.h>

/* §3.4: T[i] = floor(2^32 * |sin(i + 1)|). */
static const uint32_t T[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee,
	0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
	0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
	0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
	0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
	0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05,
	0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039,
	0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
	0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

/* §3.4: per-round rotation amounts. */
static const uint8_t S[4][4] = {
	{ 7, 12, 17, 22 }, { 5, 9, 14, 20 }, { 4, 11, 16, 23 }, { 6, 10, 15, 21 },
};

static uint32_t rotl(uint32_t x, unsigned n)
{
	return x << n | x >> (32 - n);
}

static uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* §3.4: process one 16-word block. */
static void transform(uint32_t state[4], const uint8_t block[64])
{
	uint32_t X[16], a = state[0], b = state[1], c = state[2], d = state[3];

	for (size_t i = 0; i < 16; i++)
		X[i] = load_le32(block + 4 * i);
	for (unsigned i = 0; i < 64; i++) {
		unsigned round = i / 16, g;
		uint32_t f, tmp;

		switch (round) {
		case 0:  f = (b & c) | (~b & d); g = i; break;           /* F */
		case 1:  f = (b & d) | (c & ~d); g = (5 * i + 1) % 16; break; /* G */
		case 2:  f = b ^ c ^ d;          g = (3 * i + 5) % 16; break; /* H */
		default: f = c ^ (b | ~d);       g = (7 * i) % 16; break;     /* I */
		}
		tmp = d;
		d = c;
		c = b;
		b = b + rotl(a + f + T[i] + X[g], S[round][i % 4]);
		a = tmp;
	}
	state[0] += a;
	state[1] += b;
	state[2] += c;
	state[3] += d;
}

void nvb_md5_init(struct nvb_md5 *c)
{
	/* §3.3 */
	c->state[0] = 0x67452301;
	c->state[1] = 0xefcdab89;
	c->state[2] = 0x98badcfe;
	c->state[3] = 0x10325476;
	c->bytes = 0;
}

void nvb_md5_update(struct nvb_md5 *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t used = (size_t)(c->bytes % 64);

	c->bytes += len;
	if (used) {
		size_t n = 64 - used < len ? 64 - used : len;
		memcpy(c->block + used, p, n);
		p += n;
		len -= n;
		if (used + n < 64)
			return;
		transform(c->state, c->block);
	}
	for (; len >= 64; p += 64, len -= 64)
		transform(c->state, p);
	if (len)
		memcpy(c->block, p, len);
}

void nvb_md5_final(struct nvb_md5 *c, uint8_t out[NVB_MD5_LEN])
{
	/* §3.1, §3.2: pad with 0x80 and zeros to 56 mod 64, then the bit
	 * length, little-endian. */
	static const uint8_t pad[64] = { 0x80 };
	uint64_t bits = c->bytes * 8;
	size_t used = (size_t)(c->bytes % 64);
	uint8_t len[8];

	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (8 * i));
	nvb_md5_update(c, pad, used < 56 ? 56 - used : 120 - used);
	nvb_md5_update(c, len, sizeof(len));
	for (size_t i = 0; i < 4; i++)
		store_le32(out + 4 * i, c->state[i]);
	/* Digests of secrets pass through here (CHAP): leave nothing behind. */
	explicit_bzero(c, sizeof(*c));
}

void nvb_md5(const void *data, size_t len, uint8_t out[NVB_MD5_LEN])
{
	struct nvb_md5 c;

	nvb_md5_init(&c);
	nvb_md5_update(&c, data, len);
	nvb_md5_final(&c, out);
}
