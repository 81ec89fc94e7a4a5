/* SPDX-License-Identifier: MIT */
/* iSCSI text key=value codec (RFC 7143 §6.1). */
#include "iscsi/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *iscsi_text_err_name(int err)
{
	static const char *const names[] = {
		[ISCSI_TEXT_OK] = "ok",
		[ISCSI_TEXT_ERR_NO_EQUALS] = "key without '='",
		[ISCSI_TEXT_ERR_EMPTY_KEY] = "empty key",
		[ISCSI_TEXT_ERR_BAD_KEY] = "invalid key name",
		[ISCSI_TEXT_ERR_KEY_TOO_LONG] = "key longer than 63 bytes",
		[ISCSI_TEXT_ERR_VALUE_TOO_LONG] = "value too long",
		[ISCSI_TEXT_ERR_UNTERMINATED] = "text not NUL-terminated",
		[ISCSI_TEXT_ERR_TOO_MANY_KEYS] = "too many keys",
		[ISCSI_TEXT_ERR_TOO_BIG] = "text too large",
		[ISCSI_TEXT_ERR_NOMEM] = "out of memory",
	};
	if (err >= 0 && (size_t)err < sizeof(names) / sizeof(names[0]))
		return names[err];
	return "unknown error";
}

/* §12.1.3: CHAP_C and CHAP_R are large-binary-values. */
size_t iscsi_text_value_max(const char *key)
{
	if (!strcmp(key, "CHAP_C") || !strcmp(key, "CHAP_R"))
		return ISCSI_TEXT_LARGE_VALUE_MAX;
	return ISCSI_TEXT_VALUE_MAX;
}

/* §6.1 standard-label: a capital letter, then letters, digits, '.', '-',
 * '+', '@', '_'; extension keys add '#' in "X#...". RFC 7144 defines
 * "iSCSIProtocolLevel", so a lowercase first letter is accepted too. */
static bool key_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '+' || c == '@' || c == '_' || c == '#';
}

static int check_key(const char *key, size_t len)
{
	if (len == 0)
		return ISCSI_TEXT_ERR_EMPTY_KEY;
	if (len > ISCSI_TEXT_KEY_MAX)
		return ISCSI_TEXT_ERR_KEY_TOO_LONG;
	if (!((key[0] >= 'A' && key[0] <= 'Z') || (key[0] >= 'a' && key[0] <= 'z')))
		return ISCSI_TEXT_ERR_BAD_KEY;
	for (size_t i = 1; i < len; i++)
		if (!key_char_ok(key[i]))
			return ISCSI_TEXT_ERR_BAD_KEY;
	return ISCSI_TEXT_OK;
}

int iscsi_text_parse(char *buf, size_t len, struct iscsi_kv_list *out, size_t *bad_off)
{
	size_t off = 0;
	int err = ISCSI_TEXT_OK;

	out->n = 0;
	while (off < len) {
		char *pair = buf + off, *end, *eq;
		size_t plen, klen;

		end = memchr(pair, '\0', len - off);
		if (!end) {
			err = ISCSI_TEXT_ERR_UNTERMINATED;
			break;
		}
		plen = (size_t)(end - pair);
		if (plen == 0) {                /* tolerate NUL padding */
			off++;
			continue;
		}
		eq = memchr(pair, '=', plen);
		if (!eq) {
			err = ISCSI_TEXT_ERR_NO_EQUALS;
			break;
		}
		klen = (size_t)(eq - pair);
		err = check_key(pair, klen);
		if (err)
			break;
		*eq = '\0';
		if (plen - klen - 1 > iscsi_text_value_max(pair)) {
			*eq = '=';
			err = ISCSI_TEXT_ERR_VALUE_TOO_LONG;
			break;
		}
		if (out->n == ISCSI_TEXT_MAX_KEYS) {
			*eq = '=';
			err = ISCSI_TEXT_ERR_TOO_MANY_KEYS;
			break;
		}
		out->kv[out->n].key = pair;
		out->kv[out->n].value = eq + 1;
		out->kv[out->n].value_len = (uint32_t)(plen - klen - 1);
		out->n++;
		off += plen + 1;
	}
	if (err && bad_off)
		*bad_off = off;
	return err;
}

const struct iscsi_kv *iscsi_kv_find(const struct iscsi_kv_list *l, const char *key)
{
	for (unsigned int i = 0; i < l->n; i++)
		if (!strcmp(l->kv[i].key, key))
			return &l->kv[i];
	return NULL;
}

/* ---- Accumulator ---- */

void iscsi_text_accum_init(struct iscsi_text_accum *a, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->cap = cap ? cap : ISCSI_TEXT_TOTAL_MAX;
}

/* Grow a buffer to hold `need` bytes, doubling, never beyond `cap`. */
static int grow(char **buf, size_t *alloc, size_t need, size_t cap)
{
	size_t n;
	char *p;

	if (need <= *alloc)
		return ISCSI_TEXT_OK;
	if (need > cap)
		return ISCSI_TEXT_ERR_TOO_BIG;
	n = *alloc ? *alloc : 1024;
	while (n < need)
		n *= 2;
	if (n > cap)
		n = cap;
	p = realloc(*buf, n);
	if (!p)
		return ISCSI_TEXT_ERR_NOMEM;
	*buf = p;
	*alloc = n;
	return ISCSI_TEXT_OK;
}

int iscsi_text_accum_add(struct iscsi_text_accum *a, const void *data, size_t len)
{
	int err;

	if (len > a->cap - a->len)
		return ISCSI_TEXT_ERR_TOO_BIG;
	err = grow(&a->buf, &a->alloc, a->len + len, a->cap);
	if (err)
		return err;
	if (len)
		memcpy(a->buf + a->len, data, len);
	a->len += len;
	return ISCSI_TEXT_OK;
}

void iscsi_text_accum_reset(struct iscsi_text_accum *a)
{
	a->len = 0;
}

void iscsi_text_accum_free(struct iscsi_text_accum *a)
{
	free(a->buf);
	a->buf = NULL;
	a->len = a->alloc = 0;
}

/* ---- Values ---- */

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Hex digits (odd count: an implied leading 0) to bytes. */
static int decode_hex(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(s), o = 0, i = 0;

	if (n == 0 || (n + 1) / 2 > max)
		return -1;
	if (n & 1) {
		int v = hex_val(s[0]);
		if (v < 0)
			return -1;
		out[o++] = (uint8_t)v;
		i = 1;
	}
	for (; i < n; i += 2) {
		int hi = hex_val(s[i]), lo = hex_val(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[o++] = (uint8_t)(hi << 4 | lo);
	}
	*len = o;
	return 0;
}

/* RFC 4648 base64; '=' padding optional but only at the end. */
static int decode_b64(const char *s, uint8_t *out, size_t max, size_t *len)
{
	uint32_t acc = 0;
	size_t o = 0, n = strlen(s), pad = 0;
	int bits = 0;

	while (n > 0 && s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (n == 0 || (pad && (n + pad) % 4) || n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val(s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == max)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be zero (canonical encoding). */
	if (acc & ((1u << bits) - 1))
		return -1;
	*len = o;
	return 0;
}

int iscsi_text_parse_binary(const char *v, uint8_t *out, size_t max, size_t *len)
{
	if (v[0] != '0')
		return -1;
	if (v[1] == 'x' || v[1] == 'X')
		return decode_hex(v + 2, out, max, len);
	if (v[1] == 'b' || v[1] == 'B')
		return decode_b64(v + 2, out, max, len);
	return -1;
}

int iscsi_text_parse_u64(const char *v, uint64_t *out)
{
	uint8_t bin[ISCSI_TEXT_VALUE_MAX];
	uint64_t r = 0;
	size_t n, i = 0;

	if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X' || v[1] == 'b' || v[1] == 'B')) {
		if (iscsi_text_parse_binary(v, bin, sizeof(bin), &n))
			return -1;
		while (i < n && bin[i] == 0)    /* leading zero bytes are fine */
			i++;
		if (n - i > 8)
			return -1;
		for (; i < n; i++)
			r = r << 8 | bin[i];
		*out = r;
		return 0;
	}
	if (!v[0])
		return -1;
	for (const char *p = v; *p; p++) {
		unsigned d;

		if (*p < '0' || *p > '9')
			return -1;
		d = (unsigned)(*p - '0');
		if (r > (UINT64_MAX - d) / 10)
			return -1;
		r = r * 10 + d;
	}
	*out = r;
	return 0;
}

int iscsi_text_parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "Yes")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "No")) {
		*out = false;
		return 0;
	}
	return -1;
}

bool iscsi_text_list_next(const char **cursor, const char **item, size_t *item_len)
{
	const char *s = *cursor, *comma;

	if (!s)
		return false;
	comma = strchr(s, ',');
	*item = s;
	if (comma) {
		*item_len = (size_t)(comma - s);
		*cursor = comma + 1;
	} else {
		*item_len = strlen(s);
		*cursor = NULL;
	}
	return true;
}

bool iscsi_text_is_answer_constant(const char *v)
{
	return !strcmp(v, "Reject") || !strcmp(v, "Irrelevant") || !strcmp(v, "NotUnderstood");
}

/* ---- Builder ---- */

void iscsi_text_buf_init(struct iscsi_text_buf *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap ? cap : ISCSI_TEXT_TOTAL_MAX;
}

void iscsi_text_buf_reset(struct iscsi_text_buf *b)
{
	b->len = 0;
	b->failed = false;
}

void iscsi_text_buf_free(struct iscsi_text_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}

int iscsi_text_add(struct iscsi_text_buf *b, const char *key, const char *value)
{
	size_t klen = strlen(key), vlen = strlen(value), need;

	if (check_key(key, klen) || vlen > iscsi_text_value_max(key))
		goto fail;
	need = b->len + klen + 1 + vlen + 1;
	if (grow(&b->data, &b->alloc, need, b->cap))
		goto fail;
	memcpy(b->data + b->len, key, klen);
	b->data[b->len + klen] = '=';
	memcpy(b->data + b->len + klen + 1, value, vlen);
	b->data[need - 1] = '\0';
	b->len = need;
	return 0;
fail:
	b->failed = true;
	return -1;
}

int iscsi_text_add_u64(struct iscsi_text_buf *b, const char *key, uint64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
	return iscsi_text_add(b, key, s);
}

int iscsi_text_addf(struct iscsi_text_buf *b, const char *key, const char *fmt, ...)
{
	char s[ISCSI_TEXT_VALUE_MAX + 2];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(s, sizeof(s), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n > ISCSI_TEXT_VALUE_MAX) {
		b->failed = true;
		return -1;
	}
	return iscsi_text_add(b, key, s);
}

void iscsi_text_hex(char *out, const uint8_t *bin, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	*out++ = '0';
	*out++ = 'x';
	for (size_t i = 0; i < len; i++) {
		*out++ = digits[bin[i] >> 4];
		*out++ = digits[bin[i] & 15];
	}
	*out = '\0';
}
