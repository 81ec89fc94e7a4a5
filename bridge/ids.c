/* SPDX-License-Identifier: MIT */
/*
 * Namespace identifiers (NGUID, UUID, EUI-64) and the default subsystem
 * serial: parsed from text, formatted back, and derived when the config does
 * not give them.
 *
 * Derived identifiers must be the same on every restart and on every gateway
 * that serves the same config, because the Linux host joins the paths of a
 * namespace by its NGUID/UUID (NVMe 2.0 §4.7.1, §5.17.2.x Namespace
 * Identification Descriptors) and must see the same values on each. So they
 * come from a fixed hash of (subsystem NQN, NSID) and nothing else; the exact
 * algorithm is documented in docs/config.md and must never change.
 */
#include "bridge/config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define FNV64_OFFSET_BASIS 0xcbf29ce484222325ULL
#define FNV64_PRIME        0x00000100000001b3ULL

static uint64_t fnv1a64(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV64_PRIME;
	}
	return h;
}

/* The splitmix64 finaliser: spreads FNV's weak low-entropy bits over the word. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * One 64-bit word of identifier material: FNV-1a over
 *   tag, 0x00, NQN, 0x00, NSID as 4 little-endian bytes
 * then mix64. The tag separates the domains ("nguid0", "uuid1", ...).
 */
static uint64_t id_word(const char *tag, const char *nqn, uint32_t nsid)
{
	const uint8_t zero = 0;
	const uint8_t le[4] = { nsid & 0xff, (nsid >> 8) & 0xff, (nsid >> 16) & 0xff,
				(nsid >> 24) & 0xff };
	uint64_t h = FNV64_OFFSET_BASIS;

	h = fnv1a64(h, tag, strlen(tag));
	h = fnv1a64(h, &zero, 1);
	h = fnv1a64(h, nqn, strlen(nqn));
	h = fnv1a64(h, &zero, 1);
	h = fnv1a64(h, le, sizeof(le));
	return mix64(h);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

void nvb_ns_conf_derive_ids(struct nvb_ns_conf *ns, const char *subnqn,
			    bool have_nguid, bool have_uuid, bool have_eui64)
{
	if (!have_nguid) {
		put_be64(ns->nguid, id_word("nguid0", subnqn, ns->nsid));
		put_be64(ns->nguid + 8, id_word("nguid1", subnqn, ns->nsid));
		/* An all-zero NGUID means "none" to the host (NVMe 2.0 §5.17.2.2). */
		if (all_zero(ns->nguid, sizeof(ns->nguid)))
			ns->nguid[15] = 1;
	}
	if (!have_uuid) {
		put_be64(ns->uuid, id_word("uuid0", subnqn, ns->nsid));
		put_be64(ns->uuid + 8, id_word("uuid1", subnqn, ns->nsid));
		/* RFC 9562 §5.8: version 8 (custom) in the high nibble of byte 6,
		 * variant 10b in the top bits of byte 8 (the RFC 4122 variant). */
		ns->uuid[6] = (uint8_t)((ns->uuid[6] & 0x0f) | 0x80);
		ns->uuid[8] = (uint8_t)((ns->uuid[8] & 0x3f) | 0x80);
	}
	if (!have_eui64) {
		put_be64(ns->eui64, id_word("eui64", subnqn, ns->nsid));
		/* IEEE EUI-64: bit 1 of the first byte = locally administered (we
		 * own no OUI), bit 0 = group address, which an identifier is not. */
		ns->eui64[0] = (uint8_t)((ns->eui64[0] & ~0x01) | 0x02);
	}
}

void nvb_subsys_derive_serial(const char *nqn, char serial[21])
{
	snprintf(serial, 21, "NVB%016llX",
		 (unsigned long long)id_word("serial", nqn, 0));
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int nvb_id_parse(const char *text, uint8_t *out, size_t len)
{
	uint8_t buf[16];
	size_t ndigits = 0;

	if (!text || len > sizeof(buf))
		return -1;
	/* nvmetcli and some guides write NGUIDs as "uuid:<uuid text>". */
	if (strncasecmp(text, "uuid:", 5) == 0)
		text += 5;
	for (const char *p = text; *p; p++) {
		int v;

		if (*p == '-')
			continue;
		v = hex_value((unsigned char)*p);
		if (v < 0 || ndigits >= 2 * len)
			return -1;
		if (ndigits % 2 == 0)
			buf[ndigits / 2] = (uint8_t)(v << 4);
		else
			buf[ndigits / 2] |= (uint8_t)v;
		ndigits++;
	}
	if (ndigits != 2 * len)
		return -1;
	memcpy(out, buf, len);
	return 0;
}

void nvb_id_format(const uint8_t *id, size_t len, bool uuid_style, char *out)
{
	static const char digits[] = "0123456789abcdef";
	char *o = out;

	for (size_t i = 0; i < len; i++) {
		/* RFC 9562 §4: dashes after bytes 4, 6, 8 and 10. */
		if (uuid_style && len == 16 && (i == 4 || i == 6 || i == 8 || i == 10))
			*o++ = '-';
		*o++ = digits[id[i] >> 4];
		*o++ = digits[id[i] & 0xf];
	}
	*o = '\0';
}
